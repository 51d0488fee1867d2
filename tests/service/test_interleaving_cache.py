"""The ranking cache with interleaved rankings (``service.ranking``): an interleaved list is cached under its
challenger and seed, apart from the champion's own, and an erasure keeps each remaining row's team."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "matcher"))  # the matcher tests' small world and column models

from rank_world import build
from test_interleaving import Column

from service.ranking import RankCache


def test_interleaved_rankings_are_cached_apart_and_erasure_keeps_teams():
    idx = build()
    need = idx.needs["N-litho"]
    champion, challenger = Column("bm25", "bm25_profile"), Column("tier", "tier_rank")
    cache = RankCache()
    plain = cache.get_or_rank(idx, need, champion, None)
    mixed = cache.get_or_rank(idx, need, champion, None, challenger, 11)
    other = cache.get_or_rank(idx, need, champion, None, challenger, 12)
    assert plain.teams is None and mixed.teams is not None and len(cache) == 3
    assert cache.get_or_rank(idx, need, champion, None, challenger, 11) is mixed  # the same seed: the cached list
    assert cache.cached(idx, need, champion, None) is plain and other is not mixed
    teams = dict(zip(mixed.ids, mixed.teams, strict=True))
    gone = mixed.ids[0]
    cache.erase_talent(gone)
    after = cache.cached(idx, need, champion, None, challenger, 11)
    assert gone not in after.ids and after.teams == [teams[t] for t in after.ids]
