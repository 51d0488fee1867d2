"""The dispatcher: delivers the outbox (webhook, e-mail) with retries, backoff, dead letters, and no double claims.

Each pass flushes the daily digests that are due, then claims up to ``alerts_batch_size`` pending messages whose
time has come. A claim is a conditional ``UPDATE … WHERE id = ? AND status = 'pending' AND (locked_until IS NULL OR
locked_until < now)`` that sets a lease and a random token: of two dispatchers, exactly one gets rowcount 1 (on
SQLite and PostgreSQL alike), and results are written back only under that token. A dispatcher killed mid-send
leaves its lease to expire; the message is then sent again with the same ``Idempotency-Key``, which is how
receivers drop the duplicate: at-least-once delivery, exactly-once effect.

Outcomes: 2xx (or an accepted e-mail) → ``delivered``; a permanent refusal (4xx other than 408/429, SMTP 5xx) →
``dead`` at once, logged; anything else → retried after ``alerts_backoff_seconds × 2^(attempt-1)`` (capped, times
a random 0.5–1 so failed receivers are not hit in lockstep), and ``dead`` once the message is older than
``alerts_dead_after_seconds``.
"""

from __future__ import annotations

import logging
import random
import secrets
import smtplib
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import httpx
import orjson
import sqlalchemy as sa

from service import db
from service.alerts.matching import flush_digests, still_to_send, utc
from service.alerts.signing import HEADER, sign
from service.alerts.subscriptions import Channel, Subscription, _from_row
from service.settings import Settings
from service.store import Store

log = logging.getLogger("talentmatch.alerts")


@dataclass
class DispatchStats:
    digests: int = 0
    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    cancelled: int = 0
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("digests", "claimed", "delivered", "retried", "dead", "cancelled")}


@dataclass(frozen=True)
class Outcome:
    status: str  # delivered | retry | dead
    detail: str = ""


@dataclass(frozen=True)
class Message:
    id: int
    kind: str
    key: str
    attempts: int
    created_at: datetime
    subscription: Subscription
    alerts: list[dict]


def backoff(attempts: int, settings: Settings, rnd: Callable[[], float] = random.random) -> float:
    """Seconds before retry number ``attempts`` (1 = the first retry): exponential, capped, jittered ×0.5–1."""
    base = min(settings.alerts_backoff_max_seconds, settings.alerts_backoff_seconds * 2 ** max(attempts - 1, 0))
    return base * (0.5 + 0.5 * rnd())


def dispatch_once(store: Store, settings: Settings, *, now: datetime | None = None,
                  client: httpx.Client | None = None) -> DispatchStats:  # fmt: skip
    """One pass: flush due digests, claim a batch, deliver each message, record the outcomes."""
    now = now or datetime.now(UTC)
    stats = DispatchStats(digests=flush_digests(store, settings, now=now))
    token = secrets.token_hex(16)
    messages = _claim(store, settings, now, token)
    stats.claimed = len(messages)
    own = client is None
    client = client or httpx.Client(timeout=settings.alerts_http_timeout_seconds, follow_redirects=False)
    try:
        for msg in messages:
            msg = replace(msg, alerts=still_to_send(store, msg.id, token) or [])  # an erasure may have come since
            if not msg.alerts:
                _finish(store, msg, token, "cancelled", "nothing left to send (erased)", now)
                stats.cancelled += 1
                continue
            outcome = _deliver(msg, settings, client)
            sent_at = datetime.now(UTC) if now is None else now
            if outcome.status == "retry" and sent_at - msg.created_at >= timedelta(
                seconds=settings.alerts_dead_after_seconds
            ):
                outcome = Outcome("dead", f"gave up after {msg.attempts + 1} attempts: {outcome.detail}")
            if outcome.status == "dead":
                log.warning("alert message %s (%s) dead-lettered: %s", msg.key, msg.kind, outcome.detail)
                stats.errors.append(outcome.detail)
            _finish(store, msg, token, outcome.status, outcome.detail, sent_at, settings)
            counter = {"delivered": "delivered", "retry": "retried", "dead": "dead"}[outcome.status]
            setattr(stats, counter, getattr(stats, counter) + 1)
    finally:
        if own:
            client.close()
    return stats


def _claim(store: Store, settings: Settings, now: datetime, token: str) -> list[Message]:
    o, a, s = db.OutboxRow.__table__, db.AlertRow.__table__, db.SubscriptionRow.__table__
    free = sa.or_(o.c.locked_until.is_(None), o.c.locked_until < now)
    with store.engine.connect() as conn:
        ids = conn.scalars(sa.select(o.c.id).where(o.c.status == "pending", o.c.next_attempt_at <= now, free)
                           .order_by(o.c.next_attempt_at, o.c.id).limit(settings.alerts_batch_size)).all()  # fmt: skip
    lease = now + timedelta(seconds=settings.alerts_lease_seconds)
    claimed = []
    for outbox_id in ids:
        with store.engine.begin() as conn:
            won = conn.execute(sa.update(o).where(o.c.id == outbox_id, o.c.status == "pending", free)
                               .values(locked_until=lease, lease_token=token)).rowcount  # fmt: skip
        if won:
            claimed.append(outbox_id)
    if not claimed:
        return []
    out = []
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(o).where(o.c.id.in_(claimed)).order_by(o.c.id)).all()
        sub_ids = {r.subscription_id for r in rows}
        sub_rows = {r.id: _from_row(r) for r in conn.execute(sa.select(s).where(s.c.id.in_(sub_ids)))}
        payloads: dict[int, list[dict]] = {}
        for r in conn.execute(sa.select(a.c.outbox_id, a.c.payload).where(a.c.outbox_id.in_(claimed)).order_by(a.c.id)):
            payloads.setdefault(r.outbox_id, []).append(r.payload)
    for r in rows:
        out.append(Message(r.id, r.kind, r.idempotency_key, r.attempts, utc(r.created_at), sub_rows[r.subscription_id],
                           payloads.get(r.id, [])))  # fmt: skip
    return out


def _finish(store: Store, msg: Message, token: str, status: str, detail: str, now: datetime,
            settings: Settings | None = None) -> None:  # fmt: skip
    """Record an outcome, only while this dispatcher still holds the lease."""
    o, a = db.OutboxRow.__table__, db.AlertRow.__table__
    values: dict = {"attempts": msg.attempts + 1, "locked_until": None, "lease_token": None,
                    "last_error": detail[:2000] or None}  # fmt: skip
    if status == "retry":
        values |= {"next_attempt_at": now + timedelta(seconds=backoff(msg.attempts + 1, settings))}  # type: ignore[arg-type]
    else:
        values |= {"status": status}
        if status == "delivered":
            values |= {"delivered_at": now, "last_error": None}
    with store.engine.begin() as conn:
        done = conn.execute(sa.update(o).where(o.c.id == msg.id, o.c.lease_token == token).values(**values)).rowcount
        if done and status in ("delivered", "dead"):
            conn.execute(sa.update(a).where(a.c.outbox_id == msg.id).values(status=status))


def body_of(msg: Message) -> bytes:
    """The JSON body every channel renders from: the key, the subscription and its alerts."""
    return orjson.dumps({"type": msg.kind, "idempotency_key": msg.key, "subscription_id": msg.subscription.id,
                         "alerts": msg.alerts})  # fmt: skip


def _deliver(msg: Message, settings: Settings, client: httpx.Client) -> Outcome:
    if msg.subscription.channel is Channel.webhook:
        return send_webhook(msg, client)
    if msg.subscription.channel is Channel.email:
        return send_email(msg, settings)
    return Outcome("dead", f"channel {msg.subscription.channel} has nothing to deliver")


def send_webhook(msg: Message, client: httpx.Client) -> Outcome:
    """POST the signed JSON body; 2xx delivered, 408/429/5xx and network errors retried, other 4xx dead."""
    sub = msg.subscription
    body = body_of(msg)
    headers = {"Content-Type": "application/json", "Idempotency-Key": msg.key, HEADER: sign(sub.secret or "", body),
               "User-Agent": "talentmatch-alerts"}  # fmt: skip
    try:
        r = client.post(sub.url or "", content=body, headers=headers)
    except httpx.HTTPError as e:
        return Outcome("retry", f"webhook {sub.url}: {type(e).__name__}: {e}")
    if 200 <= r.status_code < 300:
        return Outcome("delivered")
    detail = f"webhook {sub.url} answered {r.status_code}: {r.text[:200]}"
    if 400 <= r.status_code < 500 and r.status_code not in (408, 429):
        return Outcome("dead", detail)
    return Outcome("retry", detail)


def render_email(msg: Message, settings: Settings) -> EmailMessage:
    """A bilingual plain-text e-mail: each candidate's card, score and reasons, and a link to the console."""
    first = msg.alerts[0]
    n = len(msg.alerts)
    title = first["need"]["title"] if len({x["need"]["id"] for x in msg.alerts}) == 1 else f"{n} 个岗位 / {n} posts"
    mail = EmailMessage()
    mail["Subject"] = f"新人才匹配：{title}（{n} 位候选人） / New talent match: {title} ({n} candidate(s))"
    mail["From"] = settings.smtp_from
    mail["To"] = msg.subscription.email or ""
    mail["Idempotency-Key"] = msg.key
    mail["Message-ID"] = f"<{msg.key}@talentmatch>"
    lines = ["您好，以下人才与贵单位的岗位匹配。/ Hello, the following talent fits your posts.", ""]
    for x in msg.alerts:
        card = x["talent"]
        skills = "、".join(card.get("skills") or []) or "—"
        lines += [
            f"岗位 / Post: {x['need']['title']} ({x['need']['id']})",
            f"候选人 / Candidate: {card['name']} (id {card['id']})"
            + ("（未获授权共享姓名与联系方式 / name and contact withheld without the talent's consent）"
               if card.get("masked") else f" {card.get('email') or ''}"),
            f"人才层次 / Tier: {card.get('tier') or '—'}    技能 / Skills: {skills}",
            f"匹配分 / Score: {x['score']:.3f}",
            "匹配理由 / Reasons:",
            *(f"  - {r['zh']} / {r['en']}" for r in x.get("reasons", [])),
            f"在控制台查看 / Open in the console: {x['console_url']}",
            "",
        ]  # fmt: skip
    lines.append(f"退订请在控制台管理订阅 / Manage subscriptions in the console. Ref: {msg.key}")
    mail.set_content("\n".join(lines))
    return mail


def send_email(msg: Message, settings: Settings) -> Outcome:
    """Send through the configured SMTP server; SMTP 5xx refusals are dead, the rest retried."""
    if not settings.smtp_host:
        return Outcome("retry", "no SMTP server configured (TALENTMATCH_SMTP_HOST)")
    mail = render_email(msg, settings)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.alerts_http_timeout_seconds) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                smtp.login(settings.smtp_username, password)
            smtp.send_message(mail)
    except smtplib.SMTPRecipientsRefused as e:
        codes = [code for code, _ in e.recipients.values()]
        status = "dead" if all(c >= 500 for c in codes) else "retry"
        return Outcome(status, f"SMTP refused {msg.subscription.email}: {e.recipients}")
    except smtplib.SMTPResponseException as e:
        return Outcome("dead" if e.smtp_code >= 500 else "retry", f"SMTP {e.smtp_code}: {e.smtp_error!r}")
    except (smtplib.SMTPException, OSError) as e:
        return Outcome("retry", f"SMTP {settings.smtp_host}:{settings.smtp_port}: {type(e).__name__}: {e}")
    return Outcome("delivered")


# --- running it ----------------------------------------------------------------------------------------------------


class Dispatcher:
    """The in-process dispatcher of ``talentmatch serve``: a daemon thread doing a pass every interval (and
    warming top-N cut-offs between passes), stopped at shutdown."""

    def __init__(self, store: Store, settings: Settings, idle: Callable[[], object] | None = None) -> None:
        self.store, self.settings, self.idle = store, settings, idle
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="talentmatch-alerts", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                dispatch_once(self.store, self.settings)
                if self.idle is not None:
                    self.idle()
            except Exception:
                log.exception("alert dispatcher pass failed; retrying next interval")
            self._stop.wait(self.settings.alerts_interval_seconds)


def run_worker(settings: Settings | None = None, *, once: bool = False, stop: threading.Event | None = None,
               on_pass: Callable[[DispatchStats], None] | None = None) -> DispatchStats:  # fmt: skip
    """``talentmatch alerts dispatch [--once]``: the dispatcher as its own process. Loops until ``stop`` is set
    (or Ctrl-C); returns the totals."""
    settings = settings or Settings()
    stop = stop or threading.Event()
    total = DispatchStats()
    store = Store(settings.database_url)
    try:
        store.check_schema()
        while True:
            stats = dispatch_once(store, settings)
            for k, v in stats.to_dict().items():
                setattr(total, k, getattr(total, k) + v)
            if on_pass is not None:
                on_pass(stats)
            if once or stop.wait(settings.alerts_interval_seconds):
                return total
    except KeyboardInterrupt:
        return total
    finally:
        store.close()
