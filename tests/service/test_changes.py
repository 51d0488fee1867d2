"""The change journal on a real SQLite file and a real PostgreSQL: every record write journals its ids in its own
transaction, a failed import journals nothing, and concurrent writers commit in ``seq`` order."""

import threading
from types import SimpleNamespace

import pytest

from features.records import FeedbackEvent, Need, Talent
from service.erasure import erase_talent
from service.locking import IndexLock
from service.ranking import RankCache
from service.settings import Settings
from service.store import ImportFailed, Store, StoreError


@pytest.fixture
def store(db_url):
    with Store(db_url) as s:
        yield s


def journal(store: Store, since: int = 0) -> list[tuple[str, str, str]]:
    return [(c.kind, c.record_id, c.op) for c in store.changes_since(since, limit=10_000)]


def test_an_import_journals_the_written_ids_and_a_reimport_nothing(store, world_dir):
    store.upgrade()
    assert store.change_head() == 0 and store.changes_since(0) == []
    assert store.import_path(world_dir).ok
    changes = store.changes_since(0, limit=100)
    assert [c.seq for c in changes] == sorted(c.seq for c in changes) and store.change_head() == changes[-1].seq
    written = {(k, i) for k, i, _ in journal(store)}
    assert {k for k, _ in written} == {"platform", "incubator", "enterprise", "need", "talent", "feedback", "relation"}
    assert {("talent", "t1"), ("need", "n3"), ("feedback", "fb-2")} <= written and len(written) == 17
    assert {op for *_, op in journal(store)} == {"put"}
    head = store.change_head()
    assert store.import_path(world_dir).ok and store.change_head() == head  # unchanged: nothing journalled
    store.upsert([Talent(id="t1", name="李伟 (updated)"), Need(id="n4", title="New post", enterprise_id="e1")])
    assert journal(store, head) == [("need", "n4", "put"), ("talent", "t1", "put")]
    assert len(store.changes_since(0, limit=3)) == 3


def test_a_failed_import_a_dry_run_and_a_refused_delete_journal_nothing(store, world_dir, world_data, make_world):
    assert store.import_path(world_dir).ok
    head = store.change_head()
    with pytest.raises(ImportFailed):
        store.upsert([Talent(id="t9", name="New"), FeedbackEvent(need_id="n1", talent_id="ghost", action="view")])
    assert store.change_head() == head and store.get("talent", "t9") is None
    world_data["talent"][0]["summary"] = "changed"
    assert store.import_path(make_world(world_data, "changed"), dry_run=True).updated["talent"] == 1
    with pytest.raises(StoreError, match="reference it"):
        store.delete("enterprise", "e2")
    assert store.change_head() == head


def test_delete_and_erasure_journal_a_delete(store, world_dir, tmp_path):
    assert store.import_path(world_dir).ok
    head = store.change_head()
    assert store.delete("need", "n3") and not store.delete("need", "n3")
    assert journal(store, head) == [("need", "n3", "delete")]  # a delete of nothing journals nothing
    state = SimpleNamespace(store=store, indices=None, index_lock=IndexLock(), receipt_lock=IndexLock(),
                            settings=Settings(vector_cache_dir=tmp_path / "none"), rank_cache=RankCache())  # fmt: skip
    erase_talent(state, store.get("talent", "t2"))
    assert journal(store, head) == [("need", "n3", "delete"), ("talent", "t2", "delete")]


def test_concurrent_writers_commit_in_seq_order(store, world_dir):
    """Each writer's rows get seqs that no later-committed writer undercuts: a poller reading after the head it saw
    never skips one. Eight threads race upserts; after each commit the journal's seqs must be gap-free up to the
    head that writer saw."""
    assert store.import_path(world_dir).ok
    errors: list[BaseException] = []
    seen: list[tuple[int, set[int]]] = []

    def write(n: int) -> None:
        try:
            for i in range(5):
                store.upsert([Talent(id=f"w{n}-{i}", name=f"writer {n}")])
                head = store.change_head()
                seen.append((head, {c.seq for c in store.changes_since(0, limit=10_000) if c.seq <= head}))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    final = {c.seq for c in store.changes_since(0, limit=10_000)}
    assert len(final) == 17 + 40
    for head, seqs in seen:
        assert seqs == {s for s in final if s <= head}  # no seq below a seen head committed later
