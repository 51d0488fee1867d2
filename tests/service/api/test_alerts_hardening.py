"""The dispatcher against hostile and broken receivers and messages, all real (loopback sockets, aiosmtpd): a hanging,
trickling, endless or redirecting receiver delays only its own messages; poison messages are dead-lettered without
stopping a pass; cards follow consent at send time; secrets are sealed; logs carry no URL or address."""

from __future__ import annotations

import itertools
import logging
import socket
import threading
import time
from datetime import UTC, datetime
from email import message_from_bytes, policy

import httpx
import orjson
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from alert_helpers import SECRET, Receiver, World, perovskite_talents
from api_helpers import auth, run_server, settings_for

from features.records import Need
from service import db
from service.alerts.dispatch import _claim, dispatch_once, loggable, send_email
from service.alerts.sealing import SealError, unseal
from service.alerts.subscriptions import Channel
from service.api.app import create_app
from service.settings import Settings

ALLOW = {"alerts_webhook_allow": "127.0.0.1/32", "alerts_backoff_seconds": 1.0, "alerts_lease_seconds": 30.0}


class Raw:
    """A loopback TCP server answering each connection with ``serve(conn)`` (hang, trickle, endless body…)."""

    def __init__(self, serve) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.serve = serve
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                self.serve(conn, self.stop)
            except OSError:
                pass

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def hang(conn, stop) -> None:
    stop.wait(30)


def trickle(conn, stop) -> None:
    for byte in b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 10_000:
        if stop.wait(0.1):
            return
        conn.sendall(bytes([byte]))


def endless(conn, stop) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
    while not stop.is_set():
        conn.sendall(chunk)


def test_bad_receivers_delay_only_their_own_messages(tmp_path, world_dir):
    healthy = Receiver()
    bad = {"hang": Raw(hang), "trickle": Raw(trickle), "endless": Raw(endless)}

    def redirect(conn, stop) -> None:
        conn.sendall(
            f"HTTP/1.1 307 Temporary Redirect\r\nLocation: {healthy.url}\r\nContent-Length: 0\r\n\r\n".encode()
        )

    bad["redirect"] = Raw(redirect)
    try:
        w = World(tmp_path, world_dir, **ALLOW, alerts_http_timeout_seconds=2.0)
        subs = {name: w.subscribe(channel=Channel.webhook, url=r.url, secret=SECRET) for name, r in bad.items()}
        mine = w.subscribe(channel=Channel.webhook, url=healthy.url, secret=SECRET)
        w.arrive(perovskite_talents(3))
        t0 = time.monotonic()
        stats = dispatch_once(w.store, w.settings)
        took = time.monotonic() - t0
        firsts = [r["at"] for r in healthy.requests]
        assert len(healthy.requests) == 3 and max(firsts) - t0 < 1.5, (firsts, t0)  # not after the 2 s deadlines
        assert took < 2.0 + 1.5, took  # the pass: one deadline (lanes run side by side), not one per message
        status = _statuses(w.store)
        assert status[mine.id] == {"delivered"} and status[subs["endless"].id] == {"delivered"}  # body capped
        assert status[subs["redirect"].id] == {"dead"}  # not followed: the healthy receiver got only its own
        assert status[subs["hang"].id] == status[subs["trickle"].id] == {"pending"}
        assert stats.delivered == 6 and stats.retried == 4 and stats.deferred == 2
        errors = _errors(w.store)
        assert "no answer within 2 s" in errors[subs["hang"].id] and "answered 307" in errors[subs["redirect"].id]
    finally:
        healthy.down()
        for r in bad.values():
            r.close()


def _statuses(store) -> dict[int, set[str]]:
    o = db.OutboxRow.__table__
    out: dict[int, set[str]] = {}
    with store.engine.connect() as conn:
        for r in conn.execute(sa.select(o.c.subscription_id, o.c.status)):
            out.setdefault(r.subscription_id, set()).add(r.status)
    return out


def _errors(store) -> dict[int, str]:
    o = db.OutboxRow.__table__
    out: dict[int, str] = {}
    with store.engine.connect() as conn:
        for r in conn.execute(sa.select(o.c.subscription_id, o.c.last_error)):
            out[r.subscription_id] = out.get(r.subscription_id, "") + (r.last_error or "")
    return out


def test_each_send_is_stamped_when_it_ends(tmp_path, world_dir):
    slow = Receiver(delay=0.3)
    try:
        w = World(tmp_path, world_dir, **ALLOW, alerts_per_receiver=1)
        w.subscribe(channel=Channel.webhook, url=slow.url, secret=SECRET)
        w.arrive(perovskite_talents(3))
        assert dispatch_once(w.store, w.settings).delivered == 3
        o = db.OutboxRow.__table__
        with w.store.engine.connect() as conn:
            stamps = sorted(conn.scalars(sa.select(o.c.delivered_at)))
        assert all((b - a).total_seconds() >= 0.25 for a, b in itertools.pairwise(stamps)), stamps
    finally:
        slow.down()


class Inbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp():
    handler = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def _post(w: World, need: Need) -> None:
    w.store.upsert([need])
    w.idx.add_need(need)
    w.matcher.refresh()
    assert w.matcher.need_posted(need)


def test_poison_messages_are_dead_lettered_and_the_pass_goes_on(tmp_path, world_dir, smtp, caplog):
    handler, port = smtp
    receiver = Receiver()
    try:
        w = World(tmp_path, world_dir, **ALLOW, smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False,
                  alerts_poison_attempts=2)  # fmt: skip
        w.subscribe(channel=Channel.webhook, url=receiver.url, secret=SECRET, need_id=None)
        w.subscribe(channel=Channel.email, email="hr@e1.example", need_id=None)
        # a non-ASCII need id (in the digest's key → a header) and a newline in a title (→ the e-mail subject)
        need = Need(id="n-钙钛矿", title="钙钛矿工程师\r\nBcc: thief@evil.example", enterprise_id="e1",
                    description="perovskite thin films solar", required_skills=["perovskite"],
                    kind="special_researcher", months_per_year=3)  # fmt: skip
        _post(w, need)
        w.arrive(perovskite_talents(1))
        # a message that cannot be built at all (its alert lost the card): a poison message
        a = db.AlertRow.__table__
        with w.store.engine.begin() as conn:
            victim = conn.execute(sa.select(a.c.id, a.c.payload, a.c.outbox_id).where(a.c.need_id == "n1")
                                  .order_by(a.c.id).limit(1)).one()  # fmt: skip
            conn.execute(sa.update(a).where(a.c.id == victim.id).values(payload={"need": victim.payload["need"]}))
        first = dispatch_once(w.store, w.settings)
        assert first.claimed >= 4 and first.delivered == first.claimed - 1 and first.retried == 1, first
        posted = [r for r in receiver.requests if orjson.loads(r["body"])["type"] == "digest"]
        assert posted and posted[0]["valid"] and "%E9%92%99" in posted[0]["key"]  # percent-encoded, intact
        mails = [(e, message_from_bytes(e.content, policy=policy.default)) for e in handler.messages]
        envelope, mail = next((e, m) for e, m in mails if "Bcc" in m["Subject"])
        assert "\n" not in mail["Subject"] and mail["Bcc"] is None and envelope.rcpt_tos == ["hr@e1.example"]
        assert "钙钛矿工程师 Bcc: thief@evil.example" in mail["Subject"]
        o = db.OutboxRow.__table__
        with w.store.engine.begin() as conn:
            conn.execute(sa.update(o).where(o.c.id == victim.outbox_id).values(next_attempt_at=datetime.now(UTC)))
        second = dispatch_once(w.store, w.settings)
        assert (second.claimed, second.dead) == (1, 1)
        with w.store.engine.connect() as conn:
            row = conn.execute(sa.select(o).where(o.c.id == victim.outbox_id)).one()
        assert (row.status, row.attempts) == ("dead", 2) and "could not build or send: KeyError" in row.last_error
        assert "dead-lettered" in caplog.text
    finally:
        receiver.down()


def test_cards_follow_consent_at_send_time(tmp_path, world_dir):
    receiver = Receiver()
    try:
        w = World(tmp_path, world_dir, **ALLOW)
        w.subscribe(channel=Channel.webhook, url=receiver.url, secret=SECRET)
        talents = perovskite_talents(3, sharing=True)
        w.arrive(talents)
        withdrawn = talents[0].model_copy(update={"consent": talents[0].consent.model_copy(update={"matching": False})})
        unshared = talents[1].model_copy(update={"consent": talents[1].consent.model_copy(update={"sharing": False})})
        w.store.upsert([withdrawn, unshared])
        stats = dispatch_once(w.store, w.settings)
        assert (stats.delivered, stats.cancelled) == (2, 1)
        cards = {c["id"]: c for r in receiver.requests for c in [orjson.loads(r["body"])["alerts"][0]["talent"]]}
        assert set(cards) == {"tp1", "tp2"}  # withdrawn matching consent: never sent
        assert cards["tp1"]["masked"] is True and cards["tp1"]["email"] is None  # sharing withdrawn: masked
        assert cards["tp2"]["email"] == "r2@example.org"
        a = db.AlertRow.__table__
        with w.store.engine.connect() as conn:
            assert conn.scalar(sa.select(a.c.status).where(a.c.talent_id == "tp0")) == "cancelled"
    finally:
        receiver.down()


def test_enterprises_see_queued_delivered_failed_only(sqlite_url, keys, tmp_path):
    ok, gone, down = Receiver(), Receiver(status=410), Receiver()
    down.down()
    settings = settings_for(sqlite_url, tmp_path, alerts_dispatcher=False, alerts_min_relevance=0.0, **ALLOW)
    app = create_app(settings)
    try:
        with run_server(app) as base, httpx.Client(base_url=base, timeout=30) as c:
            e1 = auth(keys["e1"])
            for r in (ok, gone, down):
                body = {"need_id": "n1", "channel": "webhook", "url": r.url, "secret": SECRET, "min_score": 0.0}
                assert c.post("/subscriptions", json=body, headers=e1).status_code == 201
            talent = perovskite_talents(1)[0].model_dump(mode="json", exclude_none=True)
            assert c.post("/talents", json=talent, headers=auth(keys["recruiter"])).status_code == 201
            dispatch_once(app.state.store, settings)
            items = c.get("/alerts", headers=e1).json()["items"]
            by_sub = {a["subscription_id"]: a["status"] for a in items}
            assert sorted(by_sub.values()) == ["delivered", "failed", "queued"], items
            # nothing of what the receivers answered (a status code, the error text) reaches the enterprise; not a
            # bare "410", which a random id or a timestamp's fraction can contain
            leaks = ("answered", "Connect", "refused", " 410", "410:", "last_error")
            assert not any(w in str(a) for a in items for w in leaks), items
    finally:
        ok.down()
        gone.down()


def test_secrets_are_sealed_at_rest(tmp_path, world_dir):
    w = World(tmp_path, world_dir, **ALLOW)
    w.subscribe(channel=Channel.webhook, url="http://127.0.0.1:9/hook", secret=SECRET)
    s = db.SubscriptionRow.__table__
    with w.store.engine.connect() as conn:
        stored = conn.scalar(sa.select(s.c.secret))
    assert stored.startswith("v1:") and SECRET not in stored and len(stored) <= 200
    assert unseal(stored, w.settings) == SECRET
    with pytest.raises(SealError, match="does not open"):
        unseal(stored, Settings(secret_key="another key entirely, 32+ characters"))
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0  # the generated key: owner only


def clear_secret(w: World, url: str) -> int:
    """A webhook subscription as stored before sealing existed: its secret in clear."""
    sub = w.subscribe(channel=Channel.webhook, url=url, secret=SECRET)
    s = db.SubscriptionRow.__table__
    with w.store.engine.begin() as conn:
        conn.execute(sa.update(s).where(s.c.id == sub.id).values(secret=SECRET))
    return sub.id


def stored_secret(w: World, sub_id: int) -> str:
    s = db.SubscriptionRow.__table__
    with w.store.engine.connect() as conn:
        return conn.scalar(sa.select(s.c.secret).where(s.c.id == sub_id))


def test_the_dispatcher_seals_a_secret_stored_in_clear_when_it_first_reads_it(tmp_path, world_dir):
    w = World(tmp_path, world_dir, **ALLOW)
    receiver = Receiver()
    try:
        sub_id = clear_secret(w, receiver.url)
        assert stored_secret(w, sub_id) == SECRET
        assert len(w.arrive(perovskite_talents(2))) == 2
        assert dispatch_once(w.store, w.settings).delivered == 2
        stored = stored_secret(w, sub_id)
        assert stored.startswith("v1:") and SECRET not in stored and unseal(stored, w.settings) == SECRET
        assert [r["valid"] for r in receiver.requests] == [True, True]  # signed with the same secret
        assert len(w.arrive(perovskite_talents(1, prefix="tq"))) == 1
        assert dispatch_once(w.store, w.settings).delivered == 1
        assert stored_secret(w, sub_id) == stored and [r["valid"] for r in receiver.requests] == [True] * 3
    finally:
        receiver.down()


def test_seal_secrets_seals_every_secret_left_in_clear(tmp_path, world_dir, db_url):
    from typer.testing import CliRunner

    from service.cli import app

    w = World(tmp_path, world_dir, db_url, **ALLOW)
    receiver = Receiver()
    try:
        clear = [clear_secret(w, receiver.url) for _ in range(2)]
        sealed = w.subscribe(channel=Channel.webhook, url=receiver.url, secret=SECRET).id
        before = stored_secret(w, sealed)
        env = {"TALENTMATCH_DATABASE_URL": w.url, "TALENTMATCH_SECRET_KEY_FILE": str(tmp_path / "secret.key")}
        runs = [CliRunner().invoke(app, ["alerts", "seal-secrets", "--json"], env=env) for _ in range(2)]
        assert [(r.exit_code, orjson.loads(r.stdout)) for r in runs] == [(0, {"sealed": 2}), (0, {"sealed": 0})]
        assert [unseal(stored_secret(w, i), w.settings) for i in clear] == [SECRET, SECRET]
        assert all(stored_secret(w, i).startswith("v1:") for i in clear) and stored_secret(w, sealed) == before
        assert len(w.arrive(perovskite_talents(1))) == 3  # one alert per subscription, each signed right
        assert dispatch_once(w.store, w.settings).delivered == 3
        assert [r["valid"] for r in receiver.requests] == [True] * 3
    finally:
        receiver.down()


def test_logs_name_no_url_and_no_address(tmp_path, world_dir, caplog):
    gone = Receiver(status=410)
    try:
        w = World(tmp_path, world_dir, **ALLOW, smtp_host="127.0.0.1", smtp_port=1, smtp_starttls=False)
        w.subscribe(channel=Channel.webhook, url=gone.url, secret=SECRET)
        w.subscribe(channel=Channel.email, email="private.person@e1.example")
        with caplog.at_level(logging.DEBUG):
            w.arrive(perovskite_talents(2))
            stats = dispatch_once(w.store, w.settings)
        assert stats.dead == 2 and stats.retried >= 1
        assert "dead-lettered" in caplog.text
        assert str(gone.port) not in caplog.text and "/hook" not in caplog.text
        assert "private.person" not in caplog.text
        assert loggable("To hr@e1.example via https://h.example/x?t=1") == "To <address> via <url>"
    finally:
        gone.down()


def test_smtp_send_has_one_total_deadline(tmp_path, world_dir):
    """An SMTP server that greets one byte per 0.1 s never trips a per-read timeout; the total deadline cuts it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def accept() -> None:
        conn, _ = listener.accept()
        with conn:
            for byte in b"220-" + b"x" * 10_000:
                if stop.wait(0.1):
                    return
                conn.sendall(bytes([byte]))

    threading.Thread(target=accept, daemon=True).start()
    try:
        w = World(tmp_path, world_dir, smtp_host="127.0.0.1", smtp_port=listener.getsockname()[1],
                  smtp_starttls=False, alerts_http_timeout_seconds=1.0)  # fmt: skip
        w.subscribe(channel=Channel.email, email="hr@e1.example")
        w.arrive(perovskite_talents(1))
        [msg] = _claim(w.store, w.settings, datetime.now(UTC), "t" * 32)
        t0 = time.monotonic()
        outcome = send_email(msg, w.settings)
        assert outcome.status == "retry" and time.monotonic() - t0 < 2.0
    finally:
        stop.set()
        listener.close()


def test_a_pass_longer_than_the_lease_keeps_its_messages(tmp_path, world_dir):
    """The lease is renewed while a pass runs: a second dispatcher claims nothing it is still sending."""
    slow = Receiver(delay=0.4)
    try:
        w = World(tmp_path, world_dir, **{**ALLOW, "alerts_lease_seconds": 0.6}, alerts_per_receiver=1)
        w.subscribe(channel=Channel.webhook, url=slow.url, secret=SECRET)
        w.arrive(perovskite_talents(4))
        first = threading.Thread(target=dispatch_once, args=(w.store, w.settings))
        first.start()
        stolen = 0
        while first.is_alive():
            time.sleep(0.2)
            stolen += len(_claim(w.store, w.settings, datetime.now(UTC), "s" * 32))
        first.join()
        assert stolen == 0 and len(slow.requests) == 4 and len(set(slow.keys())) == 4
    finally:
        slow.down()


def test_a_backlog_at_one_receiver_does_not_fill_the_batch(tmp_path, world_dir):
    w = World(tmp_path, world_dir, **ALLOW, alerts_batch_size=4)
    backlog = w.subscribe(channel=Channel.webhook, url="http://127.0.0.1:9/a", secret=SECRET)
    w.arrive(perovskite_talents(6))
    other = w.subscribe(channel=Channel.webhook, url="http://127.0.0.1:9/b", secret=SECRET)
    w.arrive(perovskite_talents(2, prefix="tq"))
    claimed = _claim(w.store, w.settings, datetime.now(UTC), "c" * 32)
    by_sub = [m.subscription.id for m in claimed]
    assert by_sub.count(other.id) == by_sub.count(backlog.id) == 2, by_sub  # taking turns, not oldest first


def test_email_subscriptions_wait_for_the_address_to_be_confirmed(sqlite_url, keys, tmp_path, smtp):
    handler, port = smtp
    settings = settings_for(sqlite_url, tmp_path, alerts_dispatcher=False, alerts_min_relevance=0.0,
                            smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False)  # fmt: skip
    app = create_app(settings)
    with run_server(app) as base, httpx.Client(base_url=base, timeout=30) as c:
        e1, e2, rec = auth(keys["e1"]), auth(keys["e2"]), auth(keys["recruiter"])
        r = c.post("/subscriptions", json={"need_id": "n1", "channel": "email", "email": "hr@e1.example",
                                           "min_score": 0.0}, headers=e1)  # fmt: skip
        assert r.status_code == 201 and r.json()["verified"] is False, r.text
        sub_id = r.json()["id"]
        [envelope] = handler.messages
        assert envelope.rcpt_tos == ["hr@e1.example"]
        token = message_from_bytes(envelope.content, policy=policy.default).get_content().split(
            "Confirmation token: ")[1].split()[0]  # fmt: skip
        assert [s["verified"] for s in c.get("/subscriptions", headers=e1).json()] == [False]
        talent = perovskite_talents(1)[0].model_dump(mode="json", exclude_none=True)
        assert c.post("/talents", json=talent, headers=rec).status_code == 201
        assert c.get("/alerts", headers=e1).json()["total"] == 0  # unconfirmed: nothing matched, nothing queued
        wrong = c.post(f"/subscriptions/{sub_id}/verify", json={"token": "guess"}, headers=e1)
        assert (wrong.status_code, wrong.json()["error"]["field"]) == (422, "token")
        assert c.post(f"/subscriptions/{sub_id}/verify", json={"token": token}, headers=e2).status_code == 404
        ok = c.post(f"/subscriptions/{sub_id}/verify", json={"token": token}, headers=e1)
        assert ok.status_code == 200 and ok.json()["verified"] is True
        again = {**talent, "id": "tp-later"}
        assert c.post("/talents", json=again, headers=rec).status_code == 201
        assert [a["status"] for a in c.get("/alerts", headers=e1).json()["items"]] == ["queued"]
        assert dispatch_once(app.state.store, settings).delivered == 1 and len(handler.messages) == 2


def test_a_long_need_id_fits_the_posted_digest_key(tmp_path, world_dir, db_url):
    """Need ids may be 128 characters; the idempotency key column is 80 (PostgreSQL enforces it)."""
    w = World(tmp_path, world_dir, db_url, **ALLOW)
    w.subscribe(channel=Channel.webhook, url="http://127.0.0.1:9/hook", secret=SECRET, need_id=None)
    need = Need(id="n" * 128, title="钙钛矿工程师", enterprise_id="e1", description="perovskite thin films solar",
                required_skills=["perovskite"], kind="special_researcher", months_per_year=3)  # fmt: skip
    _post(w, need)
    o = db.OutboxRow.__table__
    with w.store.engine.connect() as conn:
        assert [len(k) <= 80 for k in conn.scalars(sa.select(o.c.idempotency_key))] == [True]
