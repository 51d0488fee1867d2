"""The store on a real SQLite file and a real PostgreSQL: all-or-nothing imports, upsert by id, exact round trips."""

from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from features.io import load_world
from features.records import RECORD_TYPES, WORLD_FILES, FeedbackEvent, Need, Talent, dump
from service import db
from service.store import ImportFailed, Store, StoreError

COUNTS = {"platform": 2, "incubator": 1, "enterprise": 2, "need": 3, "talent": 4, "feedback": 3, "relation": 2}


@pytest.fixture
def store(db_url):
    with Store(db_url) as s:
        yield s


def snapshot(store: Store) -> dict[str, list[tuple]]:
    """Every row of every table, for 'exactly as before' comparisons."""
    with store.engine.connect() as conn:
        return {k: list(map(tuple, conn.execute(sa.select(db.table(k)).order_by(sa.text("id"))))) for k in RECORD_TYPES}


def test_migrations_match_the_models(store):
    assert store.revision() is None
    assert store.upgrade() == db.head_revision() == store.revision()
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.Base.metadata) == []
    assert store.upgrade() == db.head_revision()  # idempotent
    assert ScriptDirectory.from_config(db.alembic_config()).get_current_head() == db.HEAD_REVISION


def test_import_world_then_export_round_trips_exactly(store, world_dir, tmp_path):
    report = store.import_path(world_dir)
    assert report.ok and report.inserted == COUNTS and sum(report.updated.values()) == 0
    assert store.counts() == COUNTS
    out = tmp_path / "export"
    written = store.export(out)
    assert {k: n for k, (_, n) in written.items()} == COUNTS
    again = load_world(out)
    original = load_world(world_dir)
    assert again.issues == [] and {k: sorted(v, key=lambda r: r.id) for k, v in original.items()} == dict(again)
    # The export is canonical: importing it elsewhere and exporting again gives the same bytes.
    with Store(f"sqlite:///{tmp_path / 'second.db'}") as second:
        assert second.import_path(out).ok
        second.export(tmp_path / "export2")
    for name in WORLD_FILES.values():
        assert (out / name).read_bytes() == (tmp_path / "export2" / name).read_bytes()


def test_reimport_is_idempotent_and_upsert_updates(store, world_dir, world_data, make_world):
    assert store.import_path(world_dir).ok
    before = snapshot(store)
    again = store.import_path(world_dir)
    assert again.ok and again.unchanged == COUNTS and sum(again.inserted.values()) == sum(again.updated.values()) == 0
    assert snapshot(store) == before  # unchanged rows are not even rewritten (written_at kept)

    world_data["talent"][1]["summary"] = "RISC-V architect, now in Jiaxing"
    world_data["talent"].append({"id": "t5", "name": "New"})
    changed = store.import_path(make_world({"talent": world_data["talent"]}, "changed"))
    assert (changed.inserted["talent"], changed.updated["talent"], changed.unchanged["talent"]) == (1, 1, 3)
    assert store.get("talent", "t2").summary == "RISC-V architect, now in Jiaxing"
    assert store.count("talent") == 5 and store.ids("talent") == ["t1", "t2", "t3", "t4", "t5"]


def test_dry_run_writes_nothing(store, world_dir):
    report = store.import_path(world_dir, dry_run=True)
    assert report.ok and report.dry_run and report.inserted == COUNTS
    assert store.revision() is None  # not even the schema
    assert store.import_path(world_dir).ok
    before = snapshot(store)
    report = store.import_path(world_dir, dry_run=True)
    assert report.unchanged == COUNTS and snapshot(store) == before


def test_failing_import_leaves_the_database_exactly_as_before(store, world_dir, world_data, make_world):
    assert store.import_path(world_dir).ok
    before = snapshot(store)
    world_data["talent"][0]["summary"] = "changed, but must not be written"
    world_data["talent"].append({"id": "t9", "name": "X", "tier": "Z"})
    world_data["need"].append({"id": "n9", "title": "Y", "enterprise_id": "e-missing"})
    report = store.import_path(make_world(world_data, "bad"))
    assert not report.ok
    assert [f"{Path(i.file).name}:{i.line}: {i.field}" for i in report.issues] == [
        "talents.jsonl:5: tier",
        "needs.jsonl:4: enterprise_id",
    ]
    assert snapshot(store) == before


def test_failing_import_into_an_empty_database_creates_nothing(db_url, world_data, make_world):
    world_data["feedback"].append({"need_id": "n1", "talent_id": "nobody", "action": "view"})
    with Store(db_url) as s:
        report = s.import_path(make_world(world_data))
        assert not report.ok and s.revision() is None
    if db_url.startswith("sqlite:///"):
        assert not Path(db_url.removeprefix("sqlite:///")).exists()


def test_references_to_unknown_ids_are_listed_with_how_to_fix(store, make_world):
    world = {
        "enterprise": [{"id": "e1", "name": "A", "platform_id": "p9"}],
        "need": [{"id": "n1", "title": "T", "enterprise_id": "e9"}, {"id": "n2", "title": "U", "enterprise_id": "e1"}],
        "talent": [{"id": "t1", "name": "Li", "incubator_id": "inc-9"}],
        "feedback": [{"id": "f1", "need_id": "n7", "talent_id": "t7", "action": "view"}],
    }
    report = store.import_path(make_world(world))
    assert [str(i).split("/")[-1] for i in report.issues] == [
        "enterprises.jsonl:1: platform_id: unknown platform 'p9'; import it first or fix the id",
        "needs.jsonl:1: enterprise_id: unknown enterprise 'e9'; import it first or fix the id",
        "talents.jsonl:1: incubator_id: unknown incubator 'inc-9'; import it first or fix the id",
        "feedback.jsonl:1: need_id: unknown need 'n7'; import it first or fix the id",
        "feedback.jsonl:1: talent_id: unknown talent 't7'; import it first or fix the id",
    ]


def test_references_may_point_at_records_already_in_the_database(store, world_dir, tmp_path):
    assert store.import_path(world_dir).ok
    single = tmp_path / "more_feedback.jsonl"
    single.write_bytes(orjson.dumps({"need_id": "n2", "talent_id": "t4", "action": "hire"}) + b"\n")
    report = store.import_path(single, "feedback")
    assert report.ok and report.inserted == {"feedback": 1}


def test_single_file_kind_is_inferred_or_required(store, tmp_path):
    (tmp_path / "people.jsonl").write_text('{"id": "t1", "name": "Li"}\n')
    with pytest.raises(StoreError, match="--kind"):
        store.import_path(tmp_path / "people.jsonl")
    assert store.import_path(tmp_path / "people.jsonl", "talent").inserted == {"talent": 1}


def test_upsert_and_delete_with_foreign_keys(store, world_dir):
    assert store.import_path(world_dir).ok
    report = store.upsert([Talent(id="t1", name="李伟 (updated)"), Need(id="n4", title="New post", enterprise_id="e1")])
    assert report.updated == {"need": 0, "talent": 1} and report.inserted == {"need": 1, "talent": 0}
    with pytest.raises(ImportFailed, match="unknown talent 'ghost'"):
        store.upsert([FeedbackEvent(need_id="n1", talent_id="ghost", action="view")])
    # Deleting a talent erases their feedback too (ON DELETE CASCADE), as PIPL erasure requires.
    assert store.count("feedback") == 3
    assert store.delete("talent", "t1") is True and store.get("talent", "t1") is None
    assert store.count("feedback") == 2 and store.delete("talent", "t1") is False
    # A record others still point at cannot be deleted; the message names them.
    with pytest.raises(StoreError, match=r"1 need record\(s\) reference it via enterprise_id"):
        store.delete("enterprise", "e2")
    # The database itself enforces the keys, not only the store's checks.
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
        conn.execute(sa.update(db.table("need")).where(db.table("need").c.id == "n2").values(enterprise_id="nope"))


def test_query_columns_are_filled(store, world_dir):
    assert store.import_path(world_dir).ok
    talents, needs = db.table("talent"), db.table("need")
    with store.engine.connect() as conn:
        assert conn.scalars(sa.select(talents.c.id).where(talents.c.tier == "B")).all() == ["t1"]
        assert conn.scalars(sa.select(talents.c.id).where(talents.c.incubator_id == "inc-1")).all() == ["t3"]
        updated = conn.scalar(sa.select(talents.c.updated_at).where(talents.c.id == "t1"))
        assert (updated.hour, updated.day) == (2, 1)  # 10:00+08:00 stored as 02:00 UTC
        rows = conn.execute(sa.select(needs.c.id, needs.c.kind, needs.c.status).order_by(needs.c.id)).all()
        assert [tuple(r) for r in rows] == [
            ("n1", "special_researcher", "open"),
            ("n2", "full_time", "open"),
            ("n3", "full_time", "open"),
        ]


def test_read_commands_on_an_empty_database_say_what_to_run(store):
    with pytest.raises(StoreError, match="talentmatch db upgrade"):
        store.check_schema()


def test_plain_mapping_issues_name_kind_and_item(store):
    report = store.import_world({"talent": [Talent(id="t1", name="A"), Talent(id="t1", name="B")]})
    assert [str(i) for i in report.issues] == ["<talent>:2: id: duplicate id 't1' (also item 1)"]


def test_generated_world_round_trips(db_url, tmp_path):
    """The demo generator's world (every field in use, Chinese and English) imports cleanly and exports to the same
    records; a second export is byte-identical to the first."""
    from demo.world import generate_world

    generate_world(tmp_path / "world", talents=300, seed=3)
    with Store(db_url) as store:
        report = store.import_path(tmp_path / "world")
        assert report.ok, report.issues[:5]
        store.export(tmp_path / "a")
        store.export(tmp_path / "b")
    original, exported = load_world(tmp_path / "world"), load_world(tmp_path / "a")
    assert exported.issues == []
    for kind in original:  # the demo world declares no relations
        assert sorted(original[kind], key=lambda r: r.id) == exported[kind]
        assert (tmp_path / "a" / WORLD_FILES[kind]).read_bytes() == (tmp_path / "b" / WORLD_FILES[kind]).read_bytes()


def test_stored_json_is_the_canonical_dump(store, world_dir):
    """The store serialises with model_dump_json for speed; it must equal ``dump()``, which export uses."""
    assert store.import_path(world_dir).ok
    with store.engine.connect() as conn:
        for kind, model in RECORD_TYPES.items():
            for data in conn.scalars(sa.select(db.table(kind).c.data)):
                assert data == dump(model.model_validate(data))
