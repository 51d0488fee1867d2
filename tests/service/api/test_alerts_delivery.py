"""Delivery against real receivers on loopback: a webhook server that goes down and up, refuses, or is slow while
the dispatcher process is killed; a real SMTP server (aiosmtpd). Nothing is lost, nothing doubles beyond its key."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import orjson
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from alert_helpers import SECRET, Receiver, World, perovskite_talents

from service import db
from service.alerts.dispatch import _claim, backoff, dispatch_once, render_email
from service.alerts.signing import SignatureError, sign, verify_signature
from service.alerts.subscriptions import Channel, Delivery

FAST = {"alerts_backoff_seconds": 1.0, "alerts_backoff_max_seconds": 8.0, "alerts_lease_seconds": 30.0,
        "alerts_webhook_allow": "127.0.0.1/32"}  # fmt: skip
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Jiaxing


def outbox(store) -> list:
    o = db.OutboxRow.__table__
    with store.engine.connect() as conn:
        return conn.execute(sa.select(o).order_by(o.c.id)).all()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.down()


def webhook_world(tmp_path, world_dir, receiver, n=6, url=None, **settings) -> World:
    w = World(tmp_path, world_dir, url, **FAST, **settings)
    w.subscribe(channel=Channel.webhook, url=receiver.url, secret=SECRET)
    assert len(w.arrive(perovskite_talents(n), now=T0)) == n
    return w


def test_receiver_down_then_up_gets_every_alert_exactly_once(tmp_path, world_dir, receiver, db_url):
    w = webhook_world(tmp_path, world_dir, receiver, url=db_url)
    receiver.down()
    stats = dispatch_once(w.store, w.settings, now=T0)
    # at most one try per lane (two per receiver): once it gave no answer, its other messages wait without an
    # attempt — the second lane too when it starts after the first one's failure (a busy machine: 1 try, not 2)
    tried = stats.retried
    assert (stats.claimed, stats.deferred, stats.delivered) == (6, 6 - tried, 0) and tried in (1, 2)
    assert dispatch_once(w.store, w.settings, now=T0).claimed == 0  # backing off: not due yet
    rows = outbox(w.store)
    assert sorted(r.attempts for r in rows) == [0] * (6 - tried) + [1] * tried
    assert {r.status for r in rows} == {"pending"}
    assert all("ConnectError" in r.last_error for r in rows if r.attempts)
    assert all(T0 + timedelta(seconds=0.5) <= db_utc(r.next_attempt_at) <= T0 + timedelta(seconds=1) for r in rows)
    stats = dispatch_once(w.store, w.settings, now=T0 + timedelta(seconds=1.5))
    assert stats.retried in (1, 2) and stats.retried + stats.deferred == 6
    receiver.up()
    now, delivered = T0 + timedelta(seconds=2), 0
    while delivered < 6 and now < T0 + timedelta(minutes=1):
        now += timedelta(seconds=1)
        delivered += dispatch_once(w.store, w.settings, now=now).delivered
    keys = receiver.keys()
    assert sorted(keys) == sorted(r.idempotency_key for r in outbox(w.store)) and len(set(keys)) == 6
    assert all(r["valid"] for r in receiver.requests)
    body = orjson.loads(receiver.requests[0]["body"])
    alert = body["alerts"][0]
    assert body["type"] == "alert" and body["idempotency_key"] == keys[0]
    assert alert["need"]["id"] == "n1" and alert["talent"]["masked"] is True and alert["talent"]["email"] is None
    assert alert["reasons"] and {"en", "zh"} <= set(alert["reasons"][0])
    assert {r.status for r in outbox(w.store)} == {"delivered"}
    assert dispatch_once(w.store, w.settings, now=now + timedelta(hours=1)).claimed == 0


def test_gone_receiver_is_dead_lettered_not_retried(tmp_path, world_dir, receiver, caplog):
    w = webhook_world(tmp_path, world_dir, receiver, n=2)
    receiver.status = 410
    stats = dispatch_once(w.store, w.settings, now=T0)
    assert (stats.claimed, stats.dead, stats.retried) == (2, 2, 0)
    assert [r.status for r in outbox(w.store)] == ["dead", "dead"]
    assert "answered 410" in outbox(w.store)[0].last_error and "dead-lettered" in caplog.text
    assert dispatch_once(w.store, w.settings, now=T0 + timedelta(days=1)).claimed == 0
    assert len(receiver.requests) == 2
    a = db.AlertRow.__table__
    with w.store.engine.connect() as conn:
        assert set(conn.scalars(sa.select(a.c.status))) == {"dead"}


@pytest.mark.parametrize("status", [500, 429, 408])
def test_transient_answers_retry_until_the_horizon(tmp_path, world_dir, receiver, status):
    w = webhook_world(tmp_path, world_dir, receiver, n=1, alerts_dead_after_seconds=60.0)
    receiver.status = status
    now = T0
    for _ in range(4):
        assert dispatch_once(w.store, w.settings, now=now).retried == 1
        now += timedelta(seconds=9)
    stats = dispatch_once(w.store, w.settings, now=T0 + timedelta(seconds=61))
    assert stats.dead == 1
    row = outbox(w.store)[0]
    assert (row.status, row.attempts) == ("dead", 5) and f"answered {status}" in row.last_error


def test_backoff_doubles_caps_and_jitters(tmp_path, world_dir):
    w = World(tmp_path, world_dir, alerts_backoff_seconds=2.0, alerts_backoff_max_seconds=10.0)
    assert [backoff(n, w.settings, lambda: 1.0) for n in (1, 2, 3, 4, 5)] == [2.0, 4.0, 8.0, 10.0, 10.0]
    assert backoff(3, w.settings, lambda: 0.0) == 4.0  # jitter: between half and all of the delay


@pytest.mark.slow
def test_worker_killed_mid_batch_loses_nothing(tmp_path, world_dir):
    """A dispatcher process is SIGKILLed while sending; a new one takes over once the lease expires."""
    receiver = Receiver(delay=0.25)
    try:
        w = webhook_world(tmp_path, world_dir, receiver, n=8)
        env = {**os.environ, "TALENTMATCH_DATABASE_URL": w.url, "TALENTMATCH_ALERTS_LEASE_SECONDS": "1",
               "TALENTMATCH_ALERTS_INTERVAL_SECONDS": "0.05", "TALENTMATCH_ALERTS_BACKOFF_SECONDS": "0.05",
               "TALENTMATCH_ALERTS_WEBHOOK_ALLOW": "127.0.0.1", "TALENTMATCH_ALERTS_PER_RECEIVER": "1",
               "TALENTMATCH_SECRET_KEY_FILE": str(tmp_path / "secret.key")}  # fmt: skip
        code = "from service.alerts import run_worker; run_worker()"
        first = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=os.getcwd())
        deadline = time.monotonic() + 30
        while len(receiver.requests) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        sent_before = len(receiver.requests)
        assert 3 <= sent_before < 8
        second = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=os.getcwd())
        try:
            while {r.status for r in outbox(w.store)} != {"delivered"} and time.monotonic() < deadline + 30:
                time.sleep(0.05)
        finally:
            second.terminate()
            second.wait(10)
        keys = Counter(receiver.keys())
        assert set(keys) == {r.idempotency_key for r in outbox(w.store)}  # nothing lost
        assert sum(keys.values()) - len(keys) <= 1  # at most the message in flight at the kill came twice
        assert {r.status for r in outbox(w.store)} == {"delivered"}
    finally:
        receiver.down()


def test_two_dispatchers_never_claim_the_same_message(tmp_path, world_dir, receiver, db_url):
    w = webhook_world(tmp_path, world_dir, receiver, n=4, url=db_url)
    first = _claim(w.store, w.settings, T0, "a" * 32)
    second = _claim(w.store, w.settings, T0, "b" * 32)
    assert (len(first), len(second)) == (4, 0)
    after_lease = _claim(w.store, w.settings, T0 + timedelta(seconds=31), "c" * 32)
    assert len(after_lease) == 4  # a dead dispatcher's lease runs out


def test_signature_verification():
    body = b'{"alerts": []}'
    header = sign(SECRET, body, timestamp=1_700_000_000)
    assert verify_signature(SECRET, header, body, now=1_700_000_100) == 1_700_000_000
    with pytest.raises(SignatureError, match="mismatch"):
        verify_signature(SECRET, header, body.replace(b"[]", b"[1]"), now=1_700_000_100)
    with pytest.raises(SignatureError, match="mismatch"):
        verify_signature("another-secret-0123456789", header, body, now=1_700_000_100)
    with pytest.raises(SignatureError, match="stale signature"):
        verify_signature(SECRET, header, body, now=1_700_000_301)
    with pytest.raises(SignatureError, match="missing"):
        verify_signature(SECRET, None, body)
    with pytest.raises(SignatureError, match="malformed"):
        verify_signature(SECRET, "v1=abc", body)


class Inbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


def test_email_reaches_a_real_smtp_server_in_both_languages(tmp_path, world_dir):
    handler = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(handler, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        w = World(tmp_path, world_dir, smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False,
                  smtp_from="alerts@talent.jiaxing.example", console_url="https://tm.example")  # fmt: skip
        w.subscribe(channel=Channel.email, email="hr@e1.example")
        w.arrive(perovskite_talents(1, sharing=True), now=T0)
        stats = dispatch_once(w.store, w.settings, now=T0)
        assert stats.delivered == 1
        [envelope] = handler.messages
        assert envelope.rcpt_tos == ["hr@e1.example"] and envelope.mail_from == "alerts@talent.jiaxing.example"
        mail = message_from_bytes(envelope.content, policy=policy.default)
        subject, text = mail["Subject"], mail.get_content()
        assert "新人才匹配" in subject and "New talent match" in subject and "钙钛矿电池研发负责人" in subject
        assert "候选人 / Candidate: 研究员0" in text and "r0@example.org" in text  # sharing consent: named
        assert "匹配理由 / Reasons:" in text and "https://tm.example/needs/n1/candidates" in text
        assert mail["Idempotency-Key"] == outbox(w.store)[0].idempotency_key
    finally:
        smtp.stop()


def test_email_without_a_server_is_retried_and_masks_without_consent(tmp_path, world_dir):
    w = World(tmp_path, world_dir, smtp_host="127.0.0.1", smtp_port=1, smtp_starttls=False, **FAST)
    w.subscribe(channel=Channel.email, email="hr@e1.example")
    w.arrive(perovskite_talents(1), now=T0)
    assert dispatch_once(w.store, w.settings, now=T0).retried == 1
    assert "ConnectionRefusedError" in outbox(w.store)[0].last_error
    [msg] = _claim(w.store, w.settings, T0 + timedelta(seconds=5), "x" * 32)
    text = render_email(msg, w.settings).get_content()
    assert "姓名已隐藏" in text and "r0@example.org" not in text


def test_daily_digest_is_one_message_per_subscription_and_day(tmp_path, world_dir, receiver):
    w = World(tmp_path, world_dir, **FAST)
    w.subscribe(channel=Channel.webhook, url=receiver.url, secret=SECRET, delivery=Delivery.digest)
    w.arrive(perovskite_talents(3), now=T0)
    w.arrive(perovskite_talents(2, prefix="tq"), now=T0 + timedelta(hours=5))
    assert dispatch_once(w.store, w.settings, now=T0 + timedelta(hours=6)).claimed == 0  # the day is not over
    stats = dispatch_once(w.store, w.settings, now=T0 + timedelta(days=1))
    assert (stats.digests, stats.delivered) == (1, 1)
    [request] = receiver.requests
    body = orjson.loads(request["body"])
    assert body["type"] == "digest" and len(body["alerts"]) == 5 and request["valid"]
    assert dispatch_once(w.store, w.settings, now=T0 + timedelta(days=2)).digests == 0


def db_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
