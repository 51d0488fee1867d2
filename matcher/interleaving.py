"""Comparing two rankers online by team-draft interleaving (Radlinski, Kurup and Joachims, CIKM 2008).

Offline NDCG on old feedback favours the model whose rankings produced that feedback. Interleaving asks the
recruiters instead: one list is merged from the champion's and the challenger's rankings, each shown candidate
belongs to the team (model) that drafted it, and the recruiter's positive actions on a candidate are credited to its
team. Per ranking the team with more credited actions wins; over many rankings a two-sided sign test on wins
against losses (ties dropped) says whether the difference is more than chance.

Everything here is pure: which rankings are interleaved and the coin flips are a hash of the need and the two model
versions (so a need's interleaved list is the same every time it is ranked, which the service's page cache relies
on); reading receipts and feedback is ``service.interleaving``'s job.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

CHAMPION_TEAM = "champion"
CHALLENGER_TEAM = "challenger"
CREDITED_ACTIONS = frozenset({"shortlist", "contact", "interview", "offer", "hire"})
"""Actions credited to a team: those with a positive grade in ``matcher.labels.DEFAULT_LABELS`` (a test keeps the
two in step; not imported here, as the labels bring scikit-learn into the ranking path). An impression, a view or a
reject says nothing in a model's favour."""
T = TypeVar("T", bound=Hashable)
ALPHA = 0.05
"""Default significance level of ``online_win``."""
MIN_RANKINGS = 20
"""Default number of rankings with credited feedback ``online_win`` asks for before it trusts a sign test."""


def _unit(*parts: str) -> tuple[float, int]:
    """A uniform number in [0, 1) and a 64-bit seed from a hash of ``parts``: the same parts, the same draw."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64, int.from_bytes(digest[8:16], "big")


def interleave_seed(need_id: str, champion: str, challenger: str, share: float, viewer: str = "") -> int | None:
    """The coin-flip seed when ``need_id``'s ranking by this pair of versions is interleaved, else ``None``. A share
    ``share`` (0–1) of needs is, decided by a hash of the need and the versions; the coin flips hash the ``viewer``
    (the API key) too. So one viewer's repeated and paged requests see one list, a new pair of versions draws
    afresh, and different viewers of one need get independent coins: were the flips the need's alone, every
    recruiter would see the same team on top, and their rankings would not be the independent trials a sign test
    counts."""
    if share <= 0 or champion == challenger:
        return None
    u, _ = _unit(need_id, champion, challenger)
    return _unit(need_id, champion, challenger, viewer)[1] if u < share else None


def team_draft(a: Sequence[T], b: Sequence[T], seed: int) -> tuple[list[T], list[str]]:
    """Merge rankings ``a`` (the champion's, best first) and ``b`` (the challenger's) by team draft: in each round
    the team with fewer picks, or on a tie the one a seeded coin names, adds its best candidate not yet in the list.
    Returns the merged items (talent ids, or rows) and each one's team (``CHAMPION_TEAM`` or ``CHALLENGER_TEAM``).
    A team with nothing left to add passes (the paper stops there; a ranking's two lists hold the same candidates, so
    it makes a difference only for lists of different sets)."""
    rng = random.Random(seed)
    merged: list[T] = []
    teams: list[str] = []
    taken: set[T] = set()
    ia = ib = picks_a = picks_b = 0
    while True:
        while ia < len(a) and a[ia] in taken:
            ia += 1
        while ib < len(b) and b[ib] in taken:
            ib += 1
        if ia == len(a) and ib == len(b):
            return merged, teams
        if ib == len(b) or (ia < len(a) and (picks_a < picks_b or (picks_a == picks_b and rng.random() < 0.5))):
            pick, team = a[ia], CHAMPION_TEAM
            picks_a += 1
        else:
            pick, team = b[ib], CHALLENGER_TEAM
            picks_b += 1
        merged.append(pick)
        teams.append(team)
        taken.add(pick)


class Outcome(StrEnum):
    champion = "champion"
    challenger = "challenger"
    tie = "tie"


def credit(teams: Mapping[str, str | None], actions: Iterable[tuple[str, str]]) -> Outcome | None:
    """Who won one interleaved ranking: ``teams`` maps each shown talent to its team, ``actions`` are the
    (talent, action) feedback events naming the ranking. Each distinct credited (talent, action) counts once for
    the talent's team (a shortlist recorded twice is one shortlist; a shortlist then a contact are two). ``None``
    when nothing was credited: such a ranking says nothing and is not counted."""
    counts = {CHAMPION_TEAM: 0, CHALLENGER_TEAM: 0}
    for talent, action in set(actions):
        team = teams.get(talent)
        if action in CREDITED_ACTIONS and team in counts:
            counts[team] += 1
    a, b = counts[CHAMPION_TEAM], counts[CHALLENGER_TEAM]
    if a == b == 0:
        return None
    return Outcome.champion if a > b else Outcome.challenger if b > a else Outcome.tie


def sign_test(wins: int, losses: int) -> float:
    """Two-sided sign test p-value of ``wins`` against ``losses`` (ties already dropped); 1.0 with no decided
    ranking."""
    if wins + losses == 0:
        return 1.0
    from scipy.stats import binomtest

    return float(binomtest(wins, wins + losses, 0.5, alternative="two-sided").pvalue)


@dataclass(frozen=True)
class Comparison:
    """The online result of one (champion, challenger) pair of versions: ``rankings`` interleaved, ``credited``
    of them with credited feedback, the challenger's ``wins``, ``losses`` and ``ties`` there, and the sign test's
    ``p_value``."""

    champion: str
    challenger: str
    rankings: int
    wins: int
    losses: int
    ties: int
    p_value: float

    @property
    def credited(self) -> int:
        return self.wins + self.losses + self.ties

    def to_dict(self) -> dict:
        return {"champion": self.champion, "challenger": self.challenger, "rankings": self.rankings,
                "credited": self.credited, "challenger_wins": self.wins, "challenger_losses": self.losses,
                "ties": self.ties, "p_value": self.p_value}  # fmt: skip


def tally(champion: str, challenger: str, outcomes: Sequence[Outcome | None]) -> Comparison:
    """A pair's ``Comparison`` from the outcome of each of its interleaved rankings (``None``: nothing credited)."""
    wins = sum(o is Outcome.challenger for o in outcomes)
    losses = sum(o is Outcome.champion for o in outcomes)
    ties = sum(o is Outcome.tie for o in outcomes)
    return Comparison(champion, challenger, len(outcomes), wins, losses, ties, sign_test(wins, losses))


def online_win(result: Comparison | None, *, alpha: float = ALPHA, min_rankings: int = MIN_RANKINGS) -> str | None:
    """Why ``result`` is not a significant online win of its challenger over its champion, or ``None`` when it is:
    at least ``min_rankings`` rankings with credited feedback, more wins than losses, and a sign test p-value below
    ``alpha``."""
    if result is None:
        return (
            "it was never interleaved with the current champion (give it the challenger alias and set "
            "TALENTMATCH_INTERLEAVE_SHARE)"
        )
    said = (f"{result.wins} wins, {result.losses} losses, {result.ties} ties in {result.credited} rankings with "
            f"credited feedback, sign test p = {result.p_value:.4g}")  # fmt: skip
    if result.credited < min_rankings:
        return f"too few rankings with credited feedback yet ({said}; at least {min_rankings} needed)"
    if result.wins <= result.losses:
        return f"it did not win more rankings than champion {result.champion} ({said})"
    if result.p_value >= alpha:
        return f"its lead is not significant at alpha {alpha} ({said})"
    return None
