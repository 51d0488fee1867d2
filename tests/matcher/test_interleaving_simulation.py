"""Does online interleaving find the better model? A small demo world (its public records, and its truth through
``matcher.truth.load_truth`` only), a model trained on the world's feedback, and simulated recruiters of this test's
own making: they read down an interleaved list of ten with falling attention and shortlist (and sometimes contact)
the candidates the truth grades relevant. Against a random ranker the trained model must win significantly
(two-sided sign test, p < 0.05) within ``RANKINGS`` rankings as challenger, and lose as champion; against the
profile-BM25 baseline (a far smaller gap: NDCG@10 on the truth 0.81 against 0.72 on the held-out needs) within
``RANKINGS_BM25``; a model against its own copy must not be called a winner. The README states the figures
(Comparing models online). Rankings go round the held-out needs (never trained on), one simulated recruiter each."""

from __future__ import annotations

import numpy as np
import pytest

from demo.world import generate_world
from features.indices import Indices
from features.io import load_world
from features.schema import SCHEMA
from matcher.evaluate import baseline_scorers
from matcher.interleaving import credit, interleave_seed, tally, team_draft
from matcher.pipeline import rank_pool
from matcher.ranker import Scorer
from matcher.train import train
from matcher.truth import load_truth

pytestmark = pytest.mark.slow

RANKINGS = 20
"""Interleaved rankings the trained model gets to beat a random ranker significantly (the README states it; over 20
simulated runs of this world it did in 20 of 20 at 20 rankings, 13 of 20 at 10)."""
RANKINGS_BM25 = 400
"""The same against the BM25 baseline: significant in 20 of 20 simulated runs at 400 rankings, 19 of 20 at 300, 16
of 20 at 200, 13 of 20 at 100. A model against its own copy: 0 of 20 at 200 and at 600."""
SHOWN = 10


class Baseline:
    """The profile-BM25 baseline as a model of its own (``matcher.pipeline.ScorerLike``)."""

    version = "bm25"
    schema_version = SCHEMA.version

    def __init__(self) -> None:
        self.score = baseline_scorers()["bm25"]

    def check_indices(self, idx: Indices) -> None:
        pass

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.score(X, None)

    def contributions(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - pages are not built here
        raise NotImplementedError


class Random(Baseline):
    """A ranker that knows nothing: a fixed random order."""

    version = "random"

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.random.default_rng(len(X)).random(len(X))


def recruiter_actions(ids: list[str], grades: dict[str, int], rng: np.random.Generator) -> list[tuple[str, str]]:
    """One recruiter's session on a shown list: position ``p`` is read with chance 1/sqrt(1 + p); a read candidate
    the truth grades 2 or more is shortlisted with chance 0.8 (grade 1: 0.2) and one graded 3 or more then contacted
    with chance 0.5."""
    actions = []
    for p, talent in enumerate(ids[:SHOWN]):
        if rng.random() >= 1 / np.sqrt(1 + p):
            continue
        grade = grades.get(talent, 0)
        if rng.random() < (0.8 if grade >= 2 else 0.2 if grade == 1 else 0.0):
            actions.append((talent, "shortlist"))
            if grade >= 3 and rng.random() < 0.5:
                actions.append((talent, "contact"))
    return actions


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    out = tmp_path_factory.mktemp("interleave-world")
    generate_world(out, talents=800, needs=80, seed=31)
    world = load_world(out)
    records = {kind: list(world[kind]) for kind in world}
    idx = Indices.build(records, encoder=None)
    result = train(idx, records["feedback"], test_size=0.5, random_state=0)
    better = Scorer.from_model(result.model, "learned", result.encoder)
    held_out = [idx.needs[n] for n in result.splits.test]
    rows = {}  # each held-out need's feature rows, computed once (``rank_pool``'s ``known``)
    for need in held_out:
        pool = rank_pool(idx, need, scorer=None)
        rows[need.id] = dict(zip(pool.ids, pool.X, strict=True))
    return idx, better, held_out, load_truth(out), rows


def simulate(lab, champion, challenger, rankings: int, seed: int):
    """``rankings`` interleaved rankings, going round the held-out needs, each for another simulated recruiter (so
    with coins of its own, as the service seeds them per key) who reads it once. Each model ranks a need once
    (``rank_pool``); each ranking drafts the two lists with its recruiter's coins."""
    idx, _, needs, truth, rows = lab
    rng = np.random.default_rng(seed)
    lists = {}
    outcomes = []
    for i in range(rankings):
        need = needs[i % len(needs)]
        if need.id not in lists:
            lists[need.id] = [rank_pool(idx, need, scorer=m, known=rows[need.id]).ids for m in (champion, challenger)]
        flips = interleave_seed(need.id, champion.version, challenger.version, 1.0, viewer=f"recruiter-{seed}-{i}")
        ids, teams = team_draft(*lists[need.id], flips)
        outcomes.append(credit(dict(zip(ids, teams, strict=True)), recruiter_actions(ids, truth.get(need.id, {}), rng)))
    return tally(champion.version, challenger.version, outcomes)


def test_a_better_challenger_wins_within_the_stated_number_of_rankings(lab):
    better, needs = lab[1], lab[2]
    assert len(needs) >= 30
    result = simulate(lab, Random(), better, RANKINGS, seed=1)
    assert result.wins > result.losses and result.p_value < 0.05, result
    reverse = simulate(lab, better, Random(), RANKINGS, seed=2)  # the better one as champion: the challenger loses
    assert reverse.losses > reverse.wins and reverse.p_value < 0.05, reverse
    closer = simulate(lab, Baseline(), better, RANKINGS_BM25, seed=1)
    assert closer.wins > closer.losses and closer.p_value < 0.05, closer


def test_a_model_against_its_own_copy_is_not_called_a_winner(lab):
    """Two copies of one model under different names rank alike, so who drafted a clicked candidate is the coin's
    doing: wins and losses are chance, and the credited rankings are many (the test has power)."""
    better = lab[1]
    twin = Scorer(better.booster, "learned-twin", better.schema_version, better.encoder)
    result = simulate(lab, better, twin, RANKINGS_BM25, seed=3)
    assert result.credited > RANKINGS_BM25 / 2 and result.p_value > 0.05, result
