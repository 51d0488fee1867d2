"""Relations in the store (real SQLite file): file-and-line import errors, all or nothing, the journal, erasure's
cascade, and an enterprise that relations still name cannot be deleted."""

import orjson
import pytest

from service.store import Store, StoreError


def write(path, rows):
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def test_bad_lines_name_file_line_and_field_and_nothing_is_written(tmp_path, world_dir):
    write(world_dir / "relations.jsonl", [
        {"talent_id": "t1", "enterprise_id": "e1", "kind": "employee", "source": "hr"},
        {"talent_id": "t1", "enterprise_id": "e1", "kind": "boss", "source": "hr"},
        {"talent_id": "t-ghost", "enterprise_id": "e1", "kind": "employee", "source": "hr"},
        {"talent_id": "t1", "enterprise_id": "e1", "person": "Wang Fang", "kind": "co_author", "source": "hr"},
        {"talent_id": "t1", "kind": "co_author", "source": "hr"},
        {"talent_id": "t2", "enterprise_id": "e2", "kind": "former_employee", "source": "hr"},
    ])  # fmt: skip
    with Store(f"sqlite:///{tmp_path / 'r.db'}") as store:
        report = store.import_path(world_dir)
        assert not report.ok and store.revision() is None  # nothing written, not even the other kinds
        got = sorted((i.file.rsplit("/", 1)[-1], i.line, i.field) for i in report.issues)
        assert got == [
            ("relations.jsonl", 2, "kind"),
            ("relations.jsonl", 3, "talent_id"),
            ("relations.jsonl", 4, "person"),
            ("relations.jsonl", 5, "person"),
            ("relations.jsonl", 6, "end"),
        ]
        assert "unknown talent 't-ghost'" in next(str(i) for i in report.issues if i.line == 3)
        assert "exactly one of enterprise_id" in next(str(i) for i in report.issues if i.line == 5)
        assert next(str(i) for i in report.issues if i.line == 4).endswith("got both")
        assert next(str(i) for i in report.issues if i.line == 5).endswith("got neither")


def test_relations_are_journalled_erased_with_their_talent_and_hold_their_enterprise(tmp_path, world_dir):
    with Store(f"sqlite:///{tmp_path / 'r.db'}") as store:
        assert store.import_path(world_dir).ok
        head = store.change_head()
        assert store.import_path(write(tmp_path / "relations.jsonl", [
            {"id": "r-new", "talent_id": "t4", "enterprise_id": "e2", "kind": "family_of_staff", "source": "self"},
        ])).ok  # fmt: skip
        assert [(c.kind, c.record_id, c.op) for c in store.changes_since(head)] == [("relation", "r-new", "put")]
        assert store.delete("need", "n2")
        with pytest.raises(StoreError, match=r"2 relation record\(s\) reference it via enterprise_id"):
            store.delete("enterprise", "e2")
        assert store.delete("talent", "t4")  # erasure: the talent's relations go with it
        assert store.get("relation", "r-new") is None and store.count("relation") == 2
        assert store.delete("relation", "rel-2") and store.count("relation") == 1
