"""Team-draft interleaving, credit and the sign test with known answers (``matcher.interleaving``)."""

from __future__ import annotations

import numpy as np
import pytest
from rank_world import build

from features.schema import SCHEMA
from matcher.interleaving import (
    CHALLENGER_TEAM,
    CHAMPION_TEAM,
    CREDITED_ACTIONS,
    Outcome,
    credit,
    interleave_seed,
    online_win,
    sign_test,
    tally,
    team_draft,
)
from matcher.labels import DEFAULT_LABELS
from matcher.pipeline import rank_pool

A, B = CHAMPION_TEAM, CHALLENGER_TEAM


@pytest.mark.parametrize("seed", range(20))
def test_identical_lists_merge_into_the_same_list(seed):
    ids = [f"t{i}" for i in range(30)]
    merged, teams = team_draft(ids, ids, seed)
    assert merged == ids
    assert abs(teams.count(A) - teams.count(B)) <= 1  # both teams draft, taking turns


@pytest.mark.parametrize("seed", range(20))
def test_disjoint_lists_alternate_round_by_round(seed):
    a, b = [f"a{i}" for i in range(10)], [f"b{i}" for i in range(10)]
    merged, teams = team_draft(a, b, seed)
    assert len(merged) == 20
    for r in range(10):  # each round adds one of each team, in the coin's order
        assert sorted(teams[2 * r : 2 * r + 2]) == sorted([A, B])
        assert {merged[2 * r], merged[2 * r + 1]} == {a[r], b[r]}


@pytest.mark.parametrize("seed", range(20))
def test_each_teams_picks_keep_its_order_and_every_candidate_is_merged_once(seed):
    a = [f"t{i}" for i in range(25)]
    b = list(reversed(a[:10])) + a[10:][::2] + a[10:][1::2]
    merged, teams = team_draft(a, b, seed)
    assert sorted(merged) == sorted(a)
    for team, ranking in ((A, a), (B, b)):
        picks = [m for m, t in zip(merged, teams, strict=True) if t == team]
        assert picks == sorted(picks, key=ranking.index)
        # a team's pick is always its best candidate not yet shown
        for i, (m, t) in enumerate(zip(merged, teams, strict=True)):
            if t == team:
                assert m == next(x for x in ranking if x not in merged[:i])


def test_the_coin_is_seeded_and_the_seed_matters():
    a = [f"t{i}" for i in range(40)]
    b = list(reversed(a))
    runs = {seed: team_draft(a, b, seed) for seed in range(10)}
    assert all(team_draft(a, b, seed) == runs[seed] for seed in range(10))
    assert len({tuple(teams) for _, teams in runs.values()}) > 1


def test_which_needs_are_interleaved_is_a_stable_share():
    chosen = [interleave_seed(f"n{i}", "3", "4", 0.3) for i in range(4000)]
    share = sum(s is not None for s in chosen) / len(chosen)
    assert 0.27 < share < 0.33
    assert chosen == [interleave_seed(f"n{i}", "3", "4", 0.3) for i in range(4000)]
    assert interleave_seed("n1", "3", "4", 0.0) is None
    assert all(interleave_seed(f"n{i}", "3", "4", 1.0) is not None for i in range(100))
    assert interleave_seed("n1", "4", "4", 1.0) is None  # a model is not compared with itself
    other = [interleave_seed(f"n{i}", "3", "5", 0.3) for i in range(4000)]
    assert [s is None for s in other] != [s is None for s in chosen]  # a new pair of versions draws afresh


def test_credited_actions_are_the_positive_grades():
    assert {a for a, grade in DEFAULT_LABELS.items() if grade > 0} == CREDITED_ACTIONS


def test_credit_counts_positive_actions_per_team_once_each():
    teams = {"t1": A, "t2": B, "t3": B}
    assert credit(teams, [("t1", "shortlist"), ("t2", "contact")]) is Outcome.tie
    assert credit(teams, [("t1", "shortlist"), ("t2", "contact"), ("t3", "shortlist")]) is Outcome.challenger
    assert credit(teams, [("t1", "shortlist"), ("t1", "contact"), ("t2", "hire")]) is Outcome.champion
    assert credit(teams, [("t2", "shortlist"), ("t2", "shortlist"), ("t1", "contact")]) is Outcome.tie  # a repeat
    assert credit(teams, [("t1", "reject"), ("t2", "view"), ("t3", "impression")]) is None  # nothing positive
    assert credit(teams, [("t9", "hire")]) is None  # not shown in the ranking: no team
    assert credit({"t1": None}, [("t1", "hire")]) is None  # not interleaved


def test_sign_test_known_values():
    assert sign_test(0, 0) == 1.0
    assert sign_test(6, 0) == pytest.approx(2 / 64)
    assert sign_test(5, 5) == pytest.approx(1.0)
    assert sign_test(9, 1) == pytest.approx(22 / 1024)
    assert sign_test(1, 9) == sign_test(9, 1)


def test_tally_and_the_online_gate():
    outcomes = [Outcome.challenger] * 15 + [Outcome.champion] * 3 + [Outcome.tie] * 2 + [None] * 5
    result = tally("3", "4", outcomes)
    assert (result.rankings, result.credited, result.wins, result.losses, result.ties) == (25, 20, 15, 3, 2)
    assert result.p_value == pytest.approx(sign_test(15, 3))
    assert result.to_dict()["challenger_wins"] == 15
    assert online_win(result, alpha=0.05, min_rankings=20) is None
    assert "too few" in online_win(result, min_rankings=21)
    assert "not significant" in online_win(result, alpha=0.001)
    lost = tally("3", "4", [Outcome.champion] * 15 + [Outcome.challenger] * 5)
    assert "did not win" in online_win(lost, min_rankings=1)
    assert "never interleaved" in online_win(None)


def test_viewers_get_their_own_coins_on_the_same_interleaved_needs():
    needs = [f"n{i}" for i in range(200)]
    one = [interleave_seed(n, "3", "4", 0.5, viewer="key:1") for n in needs]
    two = [interleave_seed(n, "3", "4", 0.5, viewer="key:2") for n in needs]
    assert [s is None for s in one] == [s is None for s in two]  # which needs: the need's and the versions' hash
    assert all(a != b for a, b in zip(one, two, strict=True) if a is not None)


class Column:
    """A model that scores one feature column (``matcher.pipeline.ScorerLike``)."""

    schema_version = SCHEMA.version

    def __init__(self, version: str, column: str) -> None:
        self.version, self.at = version, SCHEMA.index(column)

    def check_indices(self, idx) -> None:
        pass

    def predict(self, X: np.ndarray) -> np.ndarray:
        return X[:, self.at].astype(np.float64)


def test_rank_pool_scores_the_rows_once_per_model_and_drafts_the_two_orders():
    idx = build()
    need = idx.needs["N-litho"]
    champion, challenger = Column("bm25", "bm25_profile"), Column("tier", "tier_rank")
    a = rank_pool(idx, need, scorer=champion)
    b = rank_pool(idx, need, scorer=challenger)
    assert a.ids != b.ids  # the two models disagree here
    merged = rank_pool(idx, need, scorer=champion, challenger=challenger, seed=11)
    assert (merged.ids, merged.teams) == tuple(team_draft(a.ids, b.ids, 11))
    assert merged.challenger is challenger and merged.model_version == "bm25"
    at = {t: i for i, t in enumerate(a.ids)}
    assert np.array_equal(merged.scores, a.scores[[at[t] for t in merged.ids]])  # scores stay the champion's
    assert np.array_equal(merged.X, a.X[[at[t] for t in merged.ids]], equal_nan=True)
    assert rank_pool(idx, need, scorer=champion).teams is None
