"""Feedback rates by post kind and stage, and the retrain line, on hand-counted inputs."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from matcher.monitor import RetrainRule, feedback_rates, retrain_advice


def test_feedback_rates_per_shown_candidate() -> None:
    shown = pd.DataFrame(
        {
            "need_id": ["n1", "n1", "n1", "n1", "n2", "n2"],
            "talent_id": ["a", "b", "c", "a", "a", "b"],  # n1/a shown twice: one candidate
            "kind": ["enclave"] * 4 + ["full_time"] * 2,
        }
    )
    feedback = pd.DataFrame(
        {
            "need_id": ["n1", "n1", "n1", "n2", "n3"],
            "action": ["view", "view", "shortlist", "contact", "hire"],
            "kind": ["enclave", "enclave", "enclave", "full_time", "special_researcher"],
        }
    )
    rates = feedback_rates(shown, feedback).set_index("kind")
    assert rates.loc["enclave", "shown"] == 3
    assert rates.loc["enclave", "view"] == pytest.approx(2 / 3)
    assert rates.loc["enclave", "shortlist"] == pytest.approx(1 / 3)
    assert rates.loc["full_time", "contact"] == pytest.approx(1 / 2)
    assert math.isnan(rates.loc["special_researcher", "hire"])  # feedback on a kind never shown here
    assert rates.loc["all", "shown"] == 5 and rates.loc["all", "hire"] == pytest.approx(1 / 5)


def test_retrain_reasons() -> None:
    rule = RetrainRule(psi=0.25, new_feedback=100, max_age_days=30)
    calm = retrain_advice([], 10, 3.0, rule)
    assert not calm.retrain and calm.line.startswith("No need to retrain")
    drift = retrain_advice(["kind_enclave"], 10, 3.0, rule)
    assert drift.retrain and "PSI above 0.25 on 1 feature(s) (kind_enclave)" in drift.line
    busy = retrain_advice([], 150, 40.0, rule)
    assert busy.retrain and "150 feedback events" in busy.line and "40 days old" in busy.line
    assert retrain_advice(None, None, None, rule).line.startswith("Retrain: there is no champion")
    assert "drift not measured" in retrain_advice(None, None, 1.0, rule).line
