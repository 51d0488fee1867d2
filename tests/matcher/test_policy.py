"""Office policy as configuration: "Yangtze River Delta residents first" for special-researcher posts. A small world
with a known answer: three otherwise-equal battery experts who differ only in where they live, and a model that
prefers the non-resident. Policy on: the YRD resident ranks first; off: the model decides."""

from __future__ import annotations

import numpy as np
import pytest

from features.indices import Indices
from features.records import Need, Talent
from features.schema import SCHEMA
from matcher.pipeline import NO_POLICY, Policy, rank
from service.ranking import RankCache
from service.settings import Settings

TEXT = "Lithium-ion battery cathode materials: high-nickel NCM synthesis and electrochemical testing."
RESIDENCE = {
    "T-yrd": {"country": "CN", "city": "Hangzhou", "in_yrd": True},
    "T-abroad": {"country": "DE", "city": "Munich", "in_yrd": False},
    "T-unsaid": {},
}
SPECIAL = Need(
    id="N-sr",
    title="锂电池正极材料特聘研究员 battery cathode researcher",
    description=TEXT,
    kind="special_researcher",
    months_per_year=3,
)
ENCLAVE = Need(id="N-encl", title=SPECIAL.title, description=TEXT, kind="enclave")


class Scorer:
    """A stand-in model (``ScorerLike``) whose known answer is "outside the YRD first, unknown residence next, YRD
    residents last": T-abroad -0.4, T-unsaid -0.6, T-yrd -1.5."""

    version, schema_version = "stub-1", SCHEMA.version

    def check_indices(self, idx: Indices) -> None:
        return None

    def predict(self, X: np.ndarray) -> np.ndarray:
        return -np.abs(X[:, SCHEMA.index("in_yrd")] + 0.5) + 0.1 * X[:, SCHEMA.index("abroad")]

    def contributions(self, X: np.ndarray) -> np.ndarray:
        return np.zeros((len(X), X.shape[1] + 1), np.float32)


@pytest.fixture(scope="module")
def idx() -> Indices:
    talents = [
        Talent(
            id=tid,
            name=tid,
            summary=TEXT,
            skills=["lithium battery", "cathode materials"],
            tier="C",
            availability={"mode": "short_term", "months_per_year": 4},
            residence=residence,
        )
        for tid, residence in RESIDENCE.items()
    ]
    return Indices.build({"talent": talents, "need": [SPECIAL, ENCLAVE]}, encoder=None)


def _ids(idx, need, policy, scorer=None) -> list[str]:
    return [c.talent_id for c in rank(idx, need, scorer=scorer, policy=policy).candidates]


def test_off_the_model_decides(idx):
    assert _ids(idx, SPECIAL, NO_POLICY, Scorer()) == ["T-abroad", "T-unsaid", "T-yrd"]


def test_on_a_yrd_resident_ranks_first_on_special_researcher_posts(idx):
    r = rank(idx, SPECIAL, scorer=Scorer(), policy=Policy(yrd_first=True))
    assert [c.talent_id for c in r.candidates] == ["T-yrd", "T-abroad", "T-unsaid"]  # the rest keep the model's order
    assert r.candidates[0].reasons[0].code == "policy:yrd_first"
    assert "Yangtze River Delta" in r.candidates[0].reasons[0].en and "长三角" in r.candidates[0].reasons[0].zh
    assert all(reason.code != "policy:yrd_first" for c in r.candidates[1:] for reason in c.reasons)
    assert [c.score for c in r.candidates] == pytest.approx([-1.5, -0.4, -0.6])  # scores stay the model's
    assert _ids(idx, SPECIAL, Policy(yrd_first=True))[0] == "T-yrd"  # the non-personalised ranking too


def test_on_other_post_kinds_change_nothing(idx):
    assert _ids(idx, ENCLAVE, Policy(yrd_first=True), Scorer()) == _ids(idx, ENCLAVE, NO_POLICY, Scorer())
    assert _ids(idx, ENCLAVE, NO_POLICY, Scorer())[-1] == "T-yrd"


def test_the_setting_reaches_the_service_ranking(idx, monkeypatch):
    assert Settings().policy_yrd_first is False  # default: off (README, "Fit to the post")
    monkeypatch.setenv("TALENTMATCH_POLICY_YRD_FIRST", "true")
    cache = RankCache(policy=Policy(yrd_first=Settings().policy_yrd_first))
    assert cache.get_or_rank(idx, SPECIAL, Scorer(), None).ids[0] == "T-yrd"
    assert RankCache().get_or_rank(idx, SPECIAL, Scorer(), None).ids[0] == "T-abroad"
