"""The demo world's hidden parameters: drawn per seed from documented ranges and forms, recorded in the world folder,
really used by the truth and the simulated recruiters, and never named by product code."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from pathlib import Path

import numpy as np
import orjson
import pytest

import demo.world as world_module
from demo.latent import KINDS, Latent, draw_needs, draw_talents
from demo.recruiter import RECRUITER_RANGES, RecruiterParams, draw_recruiter
from demo.relevance import FORMS, RANGES, RelevanceParams, draw_params, relevance
from demo.render import render_enterprises
from demo.vocabulary import vocabulary
from demo.world import PARAMS_FILE, PEOPLE_FILE, generate_world
from features.records import NeedKind
from matcher.truth import load_truth

ROOT = Path(__file__).resolve().parents[2]
DRAWS = [draw_params(np.random.default_rng(s)) for s in range(300)]


def _within(value: float, bounds: tuple[float, float]) -> bool:
    return bounds[0] - 1e-9 <= value <= bounds[1] + 1e-9


def test_relevance_params_stay_within_the_documented_ranges() -> None:
    for p in DRAWS:
        values = dataclasses.asdict(p)
        for name, bounds in RANGES.items():
            if name in values:
                assert _within(values[name], bounds), (name, values[name])
        t = np.array(p.thresholds)
        spread = t[-1] - t[0]
        assert _within(t[0], RANGES["grade_start"]) and _within(spread, (RANGES["grade_spread"][0] - 1e-3, 1.0))
        assert spread <= RANGES["grade_spread"][1] + 1e-3 and np.all(np.diff(t) >= 0.2 * spread - 1e-3)
        for family, options in FORMS.items():
            form = values[f"{family}_form"]
            assert form in options
            for name, bounds in options[form][1].items():
                assert (values[name] is None) if bounds is None else _within(values[name], bounds), (family, name)
        if p.incubator_focus is not None:  # an incubator focused on the need's industry is never the worse route
            assert p.incubator_other is not None and p.incubator_focus >= p.incubator_other


def test_every_form_occurs_and_seeds_differ() -> None:
    for family, options in FORMS.items():
        seen = Counter(getattr(p, f"{family}_form") for p in DRAWS)
        assert set(seen) == set(options), family
    assert len({p.thresholds for p in DRAWS}) == len(DRAWS)
    assert min(p.tier_over for p in DRAWS) < 0 < max(p.tier_over for p in DRAWS)  # the tier-gap sign varies
    assert draw_params(np.random.default_rng(1)) != draw_params(np.random.default_rng(2))
    assert draw_params(np.random.default_rng(1)) == draw_params(np.random.default_rng(1))


def test_recruiter_params_stay_within_the_documented_ranges() -> None:
    draws = [draw_recruiter(np.random.default_rng(s)) for s in range(300)]
    for r in draws:
        for name, bounds in RECRUITER_RANGES.items():
            assert _within(getattr(r, name), bounds), name
    shares = [r.near_miss_share for r in draws]
    assert min(shares) < 0.05 and max(shares) > 0.45  # from clean recruiters to about half near misses


def test_the_params_file_records_what_was_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    generate_world(tmp_path / "a", talents=200, seed=3)
    doc = orjson.loads((tmp_path / "a" / PARAMS_FILE).read_bytes())
    assert doc["seed"] == 3
    drawn = RelevanceParams(**{**doc["relevance"], "thresholds": tuple(doc["relevance"]["thresholds"])})
    RecruiterParams(**doc["recruiter"])
    generate_world(tmp_path / "b", talents=200, seed=4)
    assert (tmp_path / "a" / PARAMS_FILE).read_bytes() != (tmp_path / "b" / PARAMS_FILE).read_bytes()

    # The truth really follows the recorded parameters: raising every threshold out of reach leaves only the
    # _MIN_RELEVANT best talents per need graded 1.
    out_of_reach = dataclasses.replace(drawn, thresholds=(50.0, 60.0, 70.0, 80.0))
    monkeypatch.setattr(world_module, "draw_params", lambda rng: out_of_reach)
    generate_world(tmp_path / "c", talents=200, seed=3)
    assert orjson.loads((tmp_path / "c" / PARAMS_FILE).read_bytes())["relevance"]["thresholds"] == [50, 60, 70, 80]
    truth = load_truth(tmp_path / "c")
    assert {g for row in truth.values() for g in row.values()} == {1}
    assert max(len(row) for row in truth.values()) <= 3


@pytest.fixture(scope="module")
def latent() -> Latent:
    v = vocabulary()
    _, ent_ind = render_enterprises(random.Random(0), 30)
    needs = draw_needs(np.random.default_rng(0), v, 60, ent_ind)
    return Latent(**needs, **draw_talents(np.random.default_rng(1), v, 400, needs["n_area"]))


def _all_pairs(lat: Latent, p: RelevanceParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    nn, nt = len(lat.n_area), len(lat.t_area)
    need, tal = np.repeat(np.arange(nn), nt), np.tile(np.arange(nt), nn)
    rel = relevance(lat, need, tal, np.full(len(need), 0.8, dtype=np.float32), np.zeros(len(need)), p)
    return need, tal, rel


def _first(**form: str) -> RelevanceParams:
    return next(p for p in DRAWS if all(getattr(p, k) == v for k, v in form.items()))


def test_an_absent_incubator_route_has_no_effect(latent: Latent) -> None:
    without = dataclasses.replace(latent, t_incubator=np.full(len(latent.t_area), -1))
    assert (latent.t_incubator >= 0).any()
    absent = _first(incubator_form="absent")
    assert np.array_equal(_all_pairs(latent, absent)[2], _all_pairs(without, absent)[2])
    strong = _first(incubator_form="strong")
    need, tal, rel = _all_pairs(latent, strong)
    changed = rel != _all_pairs(without, strong)[2]
    assert changed.any()
    incubation = KINDS.index(NeedKind.incubation_project)
    assert np.all(latent.n_kind[need[changed]] == incubation) and np.all(latent.t_incubator[tal[changed]] >= 0)


def test_residence_forms_act_where_they_say(latent: Latent) -> None:
    moved = dataclasses.replace(latent, t_yrd=~latent.t_yrd, t_abroad=np.zeros_like(latent.t_abroad))
    researcher = KINDS.index(NeedKind.special_researcher)
    for form, kinds in (("none", set()), ("researcher", {researcher}), ("everywhere", set(range(len(KINDS))))):
        p = _first(residence_form=form)
        need, _, rel = _all_pairs(latent, p)
        changed = ~np.isclose(rel, _all_pairs(moved, p)[2])
        assert set(latent.n_kind[need[changed]].tolist()) == kinds, form


def test_language_and_salary_forms_differ_in_strength(latent: Latent) -> None:
    """A dominant language form cuts a pair with a language gap far more than a mild one; a negligible salary form
    barely touches pairs over budget, a step or smooth form does."""
    fluent = dataclasses.replace(
        latent, t_lang_en=np.ones_like(latent.t_lang_en), t_lang_zh=np.ones_like(latent.t_lang_zh)
    )
    loss = {}
    for form in ("mild", "dominant"):
        p = _first(language_form=form)
        _, _, rel = _all_pairs(latent, p)
        ratio = rel / _all_pairs(fluent, p)[2]
        loss[form] = ratio[ratio < 1].mean()
    assert loss["dominant"] < 0.3 < 0.75 < loss["mild"]
    unpaid = dataclasses.replace(latent, n_budget=np.full(len(latent.n_area), np.nan))
    for form, low, high in (("negligible", 0.85, 1.0), ("step", 0.0, 0.95), ("smooth", 0.0, 0.95)):
        p = _first(salary_form=form)
        _, _, rel = _all_pairs(latent, p)
        ratio = rel / _all_pairs(unpaid, p)[2]
        assert low <= ratio[ratio < 1].mean() <= high, form


def test_near_miss_shortlists_follow_the_recruiter_params(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = draw_recruiter(np.random.default_rng(0))
    share = {}
    for near in (0.0, 0.5):
        monkeypatch.setattr(
            world_module, "draw_recruiter", lambda rng, near=near: dataclasses.replace(base, near_miss_share=near)
        )
        out = tmp_path / str(near)
        generate_world(out, talents=1000, seed=3)
        truth = load_truth(out)
        shortlisted = [
            truth[e["need_id"]].get(e["talent_id"], 0)
            for e in map(orjson.loads, (out / "feedback.jsonl").read_bytes().splitlines())
            if e["action"] == "shortlist"
        ]
        share[near] = shortlisted.count(0) / len(shortlisted)
    assert share[0.5] > max(0.4, share[0.0] + 0.25), share


def test_product_code_never_names_the_params_or_people_file() -> None:
    for package in ("features", "matcher", "service"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text()
            for name, constant in ((PARAMS_FILE, "PARAMS_FILE"), (PEOPLE_FILE, "PEOPLE_FILE")):
                assert name not in text and constant not in text, (path, name)


def test_the_readmes_document_every_parameter_and_range() -> None:
    """demo/README.md lists every parameter with the range the code draws it from; the project README says where
    a world's parameters are recorded."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## The demo world") :]
    assert PARAMS_FILE in section[: section.index("\n## ")]
    doc = (ROOT / "demo" / "README.md").read_text()

    def span(b: tuple[float, float] | None) -> str:
        return "n/a" if b is None else f"{b[0]:g}–{b[1]:g}"

    rows = [f"| `{k}` | {span(b)} |" for k, b in (*RANGES.items(), *RECRUITER_RANGES.items())]
    rows += [
        f"| `{family}_form` = `{form}` | {p:g} | " + ", ".join(f"`{n}` {span(b)}" for n, b in bounds.items()) + " |"
        for family, options in FORMS.items()
        for form, (p, bounds) in options.items()
    ]
    assert [r for r in rows if r not in doc] == []
    fields = [f.name for cls in (RelevanceParams, RecruiterParams) for f in dataclasses.fields(cls)]
    assert [f for f in fields if f"`{f}`" not in doc] == []


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_every_world_keeps_relevant_talents_and_feedback_for_each_need(tmp_path: Path, seed: int) -> None:
    """Whatever the draws, every need has relevant talents and a legacy ranking, and recruiters shortlist often
    enough that there is something to learn from."""
    generate_world(tmp_path, talents=600, seed=seed)
    needs = {orjson.loads(line)["id"] for line in (tmp_path / "needs.jsonl").read_bytes().splitlines()}
    truth = load_truth(tmp_path)
    assert set(truth) == needs and min(len(row) for row in truth.values()) >= 1
    events = [orjson.loads(line) for line in (tmp_path / "feedback.jsonl").read_bytes().splitlines()]
    assert {e["need_id"] for e in events if e["action"] == "impression"} == needs
    shortlisted = {e["need_id"] for e in events if e["action"] == "shortlist"}
    assert len(shortlisted) >= 0.25 * len(needs), (seed, len(shortlisted), len(needs))
