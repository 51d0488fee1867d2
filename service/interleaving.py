"""The online comparison read from the store: every interleaved ranking's receipts (its champion and challenger
versions, the team of each shown candidate) joined with the feedback that names them, credited and tallied per pair
of versions by ``matcher.interleaving``. What ``talentmatch models compare``, ``GET /models/compare`` and the
promotion gate's ``--require-online-win`` read."""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa

from matcher.interleaving import CREDITED_ACTIONS, Comparison, credit, tally
from service import db
from service.store import Store


def compare(store: Store) -> list[Comparison]:
    """One ``Comparison`` per (champion, challenger) pair of versions that interleaved at least one ranking, the
    pair that first interleaved most recently first. A ranking is one key's interleaved list of one need: its coin
    flips are the key's (``interleave_seed``), so every page and every repeat of it shows the same list, and its
    receipts (one per page served; feedback names one by ``ranking_id``) are credited together; lists for
    different keys are independent trials. Feedback on an erased talent is gone with the talent."""
    r = db.RankingRow.__table__
    f = db.FeedbackRow.__table__
    ranking_of = f.c.data["ranking_id"].as_string()
    credited_rows = sa.union_all(*(
        sa.select(r.c.id.label("ranking_id"), cols["team"].label("team"), f.c.talent_id, f.c.action)
        .select_from(src.join(f, (r.c.id == ranking_of) & (cols["talent_id"] == f.c.talent_id)))
        .where(r.c.challenger_version.is_not(None), f.c.action.in_(sorted(CREDITED_ACTIONS)))
        for src, cols in db.shown_candidates(r)
    ))  # fmt: skip
    with store.engine.connect() as conn:
        heads = conn.execute(
            sa.select(r.c.id, r.c.model_version, r.c.challenger_version, r.c.need_id, r.c.key_id)
            .where(r.c.challenger_version.is_not(None))
            .order_by(r.c.created_at, r.c.id)
        ).all()
        credited = conn.execute(credited_rows).all()
    unit_of = {h.id: (h.model_version, h.challenger_version, h.need_id, h.key_id) for h in heads}
    teams: dict[tuple, dict[str, str | None]] = defaultdict(dict)
    actions: dict[tuple, list[tuple[str, str]]] = defaultdict(list)
    for row in credited:
        unit = unit_of[row.ranking_id]
        teams[unit][row.talent_id] = row.team
        actions[unit].append((row.talent_id, row.action))
    outcomes: dict[tuple[str, str], list] = {}
    for unit in dict.fromkeys(unit_of.values()):  # in order of first appearance
        outcomes.setdefault(unit[:2], []).append(credit(teams[unit], actions[unit]))
    return [tally(a, b, found) for (a, b), found in reversed(outcomes.items())]


def pair(store: Store, champion: str, challenger: str) -> Comparison | None:
    """The comparison of ``challenger`` against ``champion``, or ``None`` when they were never interleaved."""
    return next((c for c in compare(store) if (c.champion, c.challenger) == (champion, challenger)), None)
