"""``service.interleaving.compare`` on a real SQLite file and a real PostgreSQL: receipts of interleaved rankings
(migration 0011's columns) joined with the feedback naming them (its ``ranking_id`` inside the record's JSON),
credited per (need, key) and tallied per pair of versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa

from features.records import WORLD_FILES
from service import db
from service.interleaving import compare
from service.store import Store

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def write(directory: Path, world: dict[str, list[dict]]) -> Path:
    directory.mkdir(parents=True)
    for kind, rows in world.items():
        (directory / WORLD_FILES[kind]).write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return directory


def receipt(conn, rid: str, need: str, champion: str, challenger: str | None, minutes: int, teams: dict) -> None:
    conn.execute(sa.insert(db.RankingRow.__table__).values(
        id=rid, route="candidates", need_id=need, created_at=T0 + timedelta(minutes=minutes), key_id=None,
        model_version=champion, personalized=True, schema_version="4", params={}, summary={},
        challenger_version=challenger))  # fmt: skip
    # r1 names its page, as receipts do since version 0017; the others have a candidate row each, as before it
    if rid == "r1":
        conn.execute(sa.update(db.RankingRow.__table__).where(db.RankingRow.id == rid).values(page_id=f"p-{rid}"))
        conn.execute(sa.insert(db.RankingDetailRow.__table__), [
            {"page_id": f"p-{rid}", "position": i, "talent_id": t, "score": 1.0 - i / 10, "detail": {},
             "erased_at": None, "team": team} for i, (t, team) in enumerate(teams.items())
        ])  # fmt: skip
        return
    conn.execute(sa.insert(db.RankingCandidateRow.__table__), [
        {"ranking_id": rid, "position": i, "talent_id": t, "score": 1.0 - i / 10, "page_id": f"p-{rid}",
         "erased_at": None, "team": team} for i, (t, team) in enumerate(teams.items())
    ])  # fmt: skip


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_compare_credits_feedback_to_the_team_that_drafted_it(db_url, tmp_path, world_data):
    def fb(need: str, talent: str, action: str, ranking: str, minute: int) -> dict:
        return {"need_id": need, "talent_id": talent, "action": action, "ranking_id": ranking,
                "time": (T0 + timedelta(hours=1, minutes=minute)).isoformat()}  # fmt: skip

    world_data["feedback"] = [
        fb("n1", "t1", "shortlist", "r1", 1),  # the challenger's talent, twice: 2 for the challenger
        fb("n1", "t1", "contact", "r1", 2),
        fb("n1", "t4", "contact", "r1b", 3),  # another page of the same key's list of n1: 1 for the champion
        fb("n2", "t2", "shortlist", "r2", 4),  # the champion's talent on n2: a loss
        fb("n1", "t1", "hire", "r3", 5),  # a ranking that was not interleaved: not counted
        fb("n1", "t3", "reject", "r4", 6),  # nothing credited for the newer pair
    ]
    with Store(db_url) as store:
        assert store.import_path(write(tmp_path / "world", world_data)).ok
        with store.engine.begin() as conn:
            receipt(conn, "r1", "n1", "1", "2", 0, {"t1": "challenger", "t3": "champion"})
            receipt(conn, "r1b", "n1", "1", "2", 1, {"t4": "champion"})
            receipt(conn, "r2", "n2", "1", "2", 2, {"t2": "champion", "t1": "challenger"})
            receipt(conn, "r3", "n1", "1", None, 3, {"t1": None})
            receipt(conn, "r4", "n1", "2", "3", 4, {"t3": "challenger", "t1": "champion"})
        found = [c.to_dict() for c in compare(store)]
    assert found == [
        {"champion": "2", "challenger": "3", "rankings": 1, "credited": 0, "challenger_wins": 0,
         "challenger_losses": 0, "ties": 0, "p_value": 1.0},
        {"champion": "1", "challenger": "2", "rankings": 2, "credited": 2, "challenger_wins": 1,
         "challenger_losses": 1, "ties": 0, "p_value": 1.0},
    ]  # fmt: skip
