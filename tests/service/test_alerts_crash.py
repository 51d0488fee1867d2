"""Alerts survive a crash between a write's commit and its matching: the process is killed right there
(``TALENTMATCH_TEST_CRASH_AT=after-commit``, a real ``talentmatch serve``), and the next start — or
``talentmatch alerts dispatch`` — matches what the change feed left pending."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from test_cli_service import TALENTMATCH, env_for, free_port, run

from service import db

TALENT = {"id": "t-new", "name": "赵敏", "summary": "钙钛矿光伏研发专家，钙钛矿太阳能电池与光伏组件"}
NEED = {"id": "n2", "title": "钙钛矿光伏研发专家", "enterprise_id": "e1"}


@pytest.fixture
def office(tmp_path):
    world = tmp_path / "world"
    world.mkdir()
    (world / "enterprises.jsonl").write_text('{"id": "e1", "name": "嘉兴光伏科技"}\n', encoding="utf-8")
    (world / "needs.jsonl").write_text(
        '{"id": "n1", "title": "钙钛矿光伏研发专家", "enterprise_id": "e1"}\n', encoding="utf-8"
    )
    (world / "talents.jsonl").write_text('{"id": "t1", "name": "王磊", "summary": "钙钛矿太阳能电池"}\n', "utf-8")
    assert run("db", "import", str(world), tmp=tmp_path).returncode == 0
    keys = {
        "recruiter": run("keys", "create", "--role", "recruiter", tmp=tmp_path).stdout.strip(),
        "e1": run("keys", "create", "--role", "enterprise", "--enterprise", "e1", tmp=tmp_path).stdout.strip(),
    }
    return tmp_path, {k: {"Authorization": f"Bearer {v}"} for k, v in keys.items()}


def serve(tmp: Path, **env: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([str(TALENTMATCH), "serve", "--port", str(port)], cwd=tmp,
                            env=env_for(tmp) | {"TALENTMATCH_ALERTS_MIN_RELEVANCE": "0"} | env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    proc.kill()
    pytest.fail(f"the server did not become ready: {proc.communicate()[1][-2000:]}")


def crash_on(proc: subprocess.Popen, request) -> None:
    """The write kills the process after its commit: the client sees the connection drop."""
    with pytest.raises(httpx.TransportError):
        request()
    assert proc.wait(30) == 70


def alerts_of(tmp: Path) -> list[tuple[str, str, str]]:
    engine = sa.create_engine(f"sqlite:///{tmp / 'tm.db'}")
    a = db.AlertRow.__table__
    with engine.connect() as conn:
        rows = conn.execute(sa.select(a.c.need_id, a.c.talent_id, a.c.reason).order_by(a.c.id)).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def pending(tmp: Path) -> int:
    engine = sa.create_engine(f"sqlite:///{tmp / 'tm.db'}")
    with engine.connect() as conn:
        n = sum(conn.scalar(sa.select(sa.func.count()).select_from(db.table(k)).where(db.table(k).c.match_pending))
                for k in ("talent", "need"))  # fmt: skip
    engine.dispose()
    return n


@pytest.mark.slow
def test_a_talent_written_before_a_crash_is_alerted_at_the_next_start(office):
    tmp, h = office
    proc, base = serve(tmp, TALENTMATCH_TEST_CRASH_AT="after-commit")
    try:
        sub = {"need_id": "n1", "channel": "inbox", "min_score": 0.0}
        assert httpx.post(f"{base}/subscriptions", json=sub, headers=h["e1"]).status_code == 201
        crash_on(proc, lambda: httpx.post(f"{base}/talents", json=TALENT, headers=h["recruiter"], timeout=30))
    finally:
        proc.kill()
        proc.communicate()
    assert alerts_of(tmp) == [] and pending(tmp) == 1  # stored, not matched: the alert would have been lost

    proc, base = serve(tmp)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not httpx.get(f"{base}/alerts", headers=h["e1"]).json()["total"]:
            time.sleep(0.2)
        items = httpx.get(f"{base}/alerts", headers=h["e1"]).json()["items"]
        assert [(a["need_id"], a["talent"]["id"]) for a in items] == [("n1", "t-new")]
        # matched once: a later write of another talent matches only that one, the flag is cleared
        assert pending(tmp) == 0
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


@pytest.mark.slow
def test_alerts_dispatch_catches_up_a_posted_need_and_a_talent(office):
    tmp, h = office
    proc, base = serve(tmp, TALENTMATCH_TEST_CRASH_AT="after-commit")
    try:
        sub = {"channel": "inbox", "min_score": 0.0}  # all of e1's needs: a posted need gets a digest
        assert httpx.post(f"{base}/subscriptions", json=sub, headers=h["e1"]).status_code == 201
        crash_on(proc, lambda: httpx.post(f"{base}/needs", json=NEED, headers=h["e1"], timeout=30))
    finally:
        proc.kill()
        proc.communicate()
    proc, base = serve(tmp, TALENTMATCH_TEST_CRASH_AT="after-commit", TALENTMATCH_ALERTS_DISPATCHER="false")
    try:
        # this start caught the need up already; the talent's write crashes again
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and pending(tmp):
            time.sleep(0.2)
        assert {(n, r) for n, _, r in alerts_of(tmp)} == {("n2", "posted")}
        crash_on(proc, lambda: httpx.put(f"{base}/talents/t-new", json=TALENT, headers=h["recruiter"], timeout=30))
    finally:
        proc.kill()
        proc.communicate()
    assert pending(tmp) == 1
    done = subprocess.run([str(TALENTMATCH), "alerts", "dispatch", "--once"], cwd=tmp,
                          env=env_for(tmp) | {"TALENTMATCH_ALERTS_MIN_RELEVANCE": "0"},
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "matched 1 record(s) left pending" in done.stdout
    assert {(n, t) for n, t, r in alerts_of(tmp) if r != "posted"} == {("n1", "t-new"), ("n2", "t-new")}
    assert pending(tmp) == 0
