"""``retrain`` on a real SQLite store teaches about people: a small demo world with a second record ``B`` of a talent
``A`` the recruiters found relevant, stored as one person (``person_members``), and a stranger ``S`` with the very
same profile. The rows retrain fits and scores never hold ``B`` as a negative beside ``A``'s grade; ``S`` stays a
negative; without the stored person (the control) ``B`` is one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from features.records import FeedbackEvent
from service import db
from service.settings import Settings
from service.store import Store

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow")]
B, S = "TWIN-B", "TWIN-S"


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, list], str, str]:
    """The world's records with ``B`` and ``S`` added, every need given a shortlist (so any held-out need can be
    scored), and (need, ``A``): a pair graded relevant whose need's retrieval finds ``A``."""
    from demo.world import generate_world
    from features.indices import Indices
    from features.io import load_world
    from matcher.dataset import retrieve_ids
    from matcher.labels import labels_from_feedback

    path = tmp_path_factory.mktemp("world")
    generate_world(path, talents=80, needs=12, seed=3)
    world = load_world(path)
    out = {kind: list(world[kind]) for kind in world}
    idx = Indices.build(out, encoder=None)
    labels = labels_from_feedback(out["feedback"])
    found = ((n, t) for (n, t), g in sorted(labels.items()) if g >= 1 and t in retrieve_ids(idx, idx.needs[n]))
    need, a = next(found)
    original = next(t for t in out["talent"] if t.id == a)
    out["talent"] += [original.model_copy(update={"id": B}), original.model_copy(update={"id": S})]
    at = datetime(2026, 1, 1, tzinfo=UTC)
    for n in sorted({ev.need_id for ev in out["feedback"]}):
        first = next(ev for ev in out["feedback"] if ev.need_id == n and ev.talent_id not in (a, B, S))
        out["feedback"].append(FeedbackEvent(need_id=n, talent_id=first.talent_id, action="shortlist", time=at))
    return out, need, a


def _retrain_rows(url: str, records, monkeypatch: pytest.MonkeyPatch, *, linked: bool):
    """Import, link ``A`` and ``B`` when asked, retrain; the rows it built (all recomputed: no receipts here)."""
    import matcher.retrain as mr
    from service.retraining import retrain

    world, need, a = records
    built = []

    def spy(*args, **kwargs):
        built.append(real(*args, **kwargs))
        return built[-1]

    real = mr._recomputed_rows
    monkeypatch.setattr(mr, "_recomputed_rows", spy)
    with Store(url) as store:
        store.upgrade()
        assert store.import_world(world).ok
        if linked:
            m = db.PersonMemberRow.__table__
            with store.engine.begin() as conn:
                conn.execute(sa.insert(m), [{"talent_id": t, "person_id": a, "how": "linked",
                                             "at": datetime.now(UTC), "key_id": None} for t in (a, B)])  # fmt: skip
        summary = retrain(store, Settings(), encoder="none")
    (data,) = built
    start, rows = 0, {}
    for n, size in zip(data.need_ids, data.group.tolist(), strict=True):
        if n == need:
            rows.update(zip(data.talent_ids[start : start + size], data.y[start : start + size].tolist(), strict=True))
        start += size
    return summary, rows


def test_retrain_never_makes_a_judged_persons_other_record_a_negative(tmp_path, registry_dir, records, monkeypatch):
    _, _, a = records
    summary, rows = _retrain_rows(f"sqlite:///{tmp_path / 'linked.db'}", records, monkeypatch, linked=True)
    assert summary["persons"] == 1 and summary["run_id"]
    assert rows[a] >= 1 and B not in rows  # the person once, by the record judged
    assert rows[S] == 0  # the stranger with the same profile is still a negative

    summary, control = _retrain_rows(f"sqlite:///{tmp_path / 'plain.db'}", records, monkeypatch, linked=False)
    assert summary["persons"] == 0
    assert control[a] == rows[a] and control[B] == 0 and control[S] == 0  # per record: B counted against A


def test_a_world_folder_trains_per_person_only_when_asked_and_never_reads_its_people_file(tmp_path):
    from demo.world import generate_world
    from service.cli.common import load_records
    from service.cli.matching import persons_of

    generate_world(tmp_path, talents=150, needs=8, seed=5, duplicates=0.3)
    (tmp_path / "people.jsonl").unlink()  # the world's answer key: the product links for itself
    records = load_records(tmp_path, None)
    assert persons_of(tmp_path, None, records, False) == {}
    linked = persons_of(tmp_path, None, records, True)
    sizes: dict[str, int] = {}
    for p in linked.values():
        sizes[p] = sizes.get(p, 0) + 1
    assert linked and min(sizes.values()) >= 2  # only the records that share their person
