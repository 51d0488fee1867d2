"""The dispatcher: delivers the outbox (webhook, e-mail) with retries, backoff, dead letters, and no double claims.

Each pass flushes the daily digests that are due, then claims up to ``alerts_batch_size`` pending messages whose
time has come, taking turns over subscriptions (every subscription's oldest message before any one's second), so a
backlog at one receiver cannot fill the batches. A claim is a conditional ``UPDATE … WHERE id = ? AND status =
'pending' AND (locked_until IS NULL OR locked_until < now)`` that sets a lease and a random token: of two
dispatchers, exactly one gets rowcount 1 (on SQLite and PostgreSQL alike), and results are written back only under
that token. A dispatcher killed mid-send leaves its lease to expire; the message is then sent again with the same
``Idempotency-Key``, which is how receivers drop the duplicate: at-least-once delivery, exactly-once effect. While a
pass runs, a keeper renews the lease of the messages it still holds, so a long pass never loses them to another
dispatcher.

One receiver cannot stall the rest: messages go out on ``alerts_workers`` threads, at most ``alerts_per_receiver``
at once to one receiver (host and port; all e-mail is one receiver, the SMTP server); each request has a total
deadline and reads at most ``alerts_response_max_bytes`` of the answer (``service.alerts.webhook``). A receiver
that gave no answer in this pass gets no more tries in it (its other messages wait a backoff without counting an
attempt), and no send starts after ``alerts_pass_seconds``.

At send time each alert's card is rendered again from the talent as stored now: withdrawn matching consent (or an
erased talent) cancels the alert, withdrawn sharing consent masks it.

Outcomes: 2xx (or an accepted e-mail) → ``delivered``; a permanent refusal (a redirect, 4xx other than 408/429,
SMTP 5xx, a target the SSRF guard refuses) → ``dead`` at once, logged; anything else → retried after
``alerts_backoff_seconds × 2^(attempt-1)`` (capped, times a random 0.5–1 so failed receivers are not hit in
lockstep), and ``dead`` once the message is older than ``alerts_dead_after_seconds``. An exception while building or
sending a message (a bug, a poison message) counts as an attempt too and is dead after ``alerts_poison_attempts``;
it never stops the pass. Logs name messages by key, never by URL or e-mail address.
"""

from __future__ import annotations

import logging
import random
import re
import secrets
import smtplib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from urllib.parse import quote

import orjson
import sqlalchemy as sa

from service import db
from service.alerts import mailer, webhook
from service.alerts import subscriptions as subs_db
from service.alerts.matching import flush_digests, still_to_send, utc
from service.alerts.sealing import PREFIX, unseal
from service.alerts.signing import HEADER, sign
from service.alerts.subscriptions import Channel, Subscription, _from_row
from service.api.cards import talent_card
from service.disclosure import enterprise_reasons
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
    deferred: int = 0
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        keys = ("digests", "claimed", "delivered", "retried", "dead", "cancelled", "deferred")
        return {k: getattr(self, k) for k in keys}


@dataclass(frozen=True)
class Outcome:
    status: str  # delivered | retry | dead | cancelled
    detail: str = ""
    unreachable: bool = False  # no answer at all: the receiver gets no more tries this pass


@dataclass(frozen=True)
class Message:
    id: int
    kind: str
    key: str
    attempts: int
    created_at: datetime
    subscription: Subscription
    alerts: list[dict]
    alert_ids: list[int] = field(default_factory=list)

    @property
    def receiver(self) -> str:
        if self.subscription.channel is Channel.webhook:
            return webhook.receiver_of(self.subscription.url)
        return self.subscription.channel.value


def backoff(attempts: int, settings: Settings, rnd: Callable[[], float] = random.random) -> float:
    """Seconds before retry number ``attempts`` (1 = the first retry): exponential, capped, jittered ×0.5–1."""
    base = min(settings.alerts_backoff_max_seconds, settings.alerts_backoff_seconds * 2 ** max(attempts - 1, 0))
    return base * (0.5 + 0.5 * rnd())


def dispatch_once(store: Store, settings: Settings, *, now: datetime | None = None) -> DispatchStats:
    """One pass: flush due digests, claim a batch, deliver it (concurrently across receivers), record outcomes.
    ``now`` fixes the clock (tests); otherwise each outcome is stamped when its send ends."""
    clock = (lambda: now) if now is not None else (lambda: datetime.now(UTC))
    start = clock()
    stats = DispatchStats(digests=flush_digests(store, settings, now=start))
    token = secrets.token_hex(16)
    messages = _claim(store, settings, start, token)
    stats.claimed = len(messages)
    if messages:
        with _LeaseKeeper(store, settings, token, clock):
            _Pass(store, settings, token, clock, stats).run(messages)
    return stats


class _LeaseKeeper:
    """Renews the lease of the messages this pass still holds, every third of a lease, until the pass ends."""

    def __init__(self, store: Store, settings: Settings, token: str, clock: Callable[[], datetime]) -> None:
        self.store, self.settings, self.token, self.clock = store, settings, token, clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="talentmatch-alerts-lease", daemon=True)

    def __enter__(self) -> _LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        o = db.OutboxRow.__table__
        lease = self.settings.alerts_lease_seconds
        while not self._stop.wait(lease / 3):
            try:
                with self.store.engine.begin() as conn:
                    conn.execute(sa.update(o).where(o.c.lease_token == self.token)
                                 .values(locked_until=self.clock() + timedelta(seconds=lease)))  # fmt: skip
            except Exception:
                log.exception("alert dispatcher: renewing the lease failed; retrying")


class _Pass:
    """The sends of one pass: lanes of messages per receiver on a thread pool."""

    def __init__(self, store: Store, settings: Settings, token: str, clock: Callable[[], datetime],
                 stats: DispatchStats) -> None:  # fmt: skip
        self.store, self.settings, self.token, self.clock, self.stats = store, settings, token, clock, stats
        self.allow = webhook.Allow.parse(settings.alerts_webhook_allow)
        self.ends = time.monotonic() + settings.alerts_pass_seconds
        self.unreachable: set[str] = set()
        self._lock = threading.Lock()

    def run(self, messages: list[Message]) -> None:
        lanes = _lanes(messages, self.settings.alerts_per_receiver)
        with ThreadPoolExecutor(min(self.settings.alerts_workers, len(lanes)), "talentmatch-alerts-send") as pool:
            for future in [pool.submit(self._lane, lane) for lane in lanes]:
                future.result()

    def _lane(self, lane: list[Message]) -> None:
        for msg in lane:
            try:
                with self._lock:
                    unreachable = msg.receiver in self.unreachable
                if unreachable or time.monotonic() > self.ends:
                    self._defer(msg, backoff_too=unreachable)
                else:
                    self._one(msg)
            except Exception:  # recording failed (database): the lease runs out and the message comes again
                log.exception("alert message %s: recording its outcome failed", msg.key)

    def _one(self, msg: Message) -> None:
        try:
            if still_to_send(self.store, msg.id, self.token) is None:  # erased or cancelled since the claim
                return self._count(Outcome("cancelled", "no longer to send"))
            msg = current(self.store, msg)
            outcome = _deliver(msg, self.settings, self.allow) if msg.alerts else Outcome(
                "cancelled", "nothing left to send (consent withdrawn or talent erased)")  # fmt: skip
        except Exception as e:
            reason = f"could not build or send: {type(e).__name__}: {e}"[:500]
            last = msg.attempts + 1 >= self.settings.alerts_poison_attempts
            if not last:
                log.warning("alert message %s (%s) failed: %s", msg.key, msg.kind, loggable(reason))
            outcome = Outcome("dead" if last else "retry", reason)
        sent_at = self.clock()
        if outcome.status == "retry" and sent_at - msg.created_at >= timedelta(
            seconds=self.settings.alerts_dead_after_seconds
        ):
            outcome = Outcome("dead", f"gave up after {msg.attempts + 1} attempts: {outcome.detail}")
        if outcome.status == "dead":
            log.warning("alert message %s (%s) dead-lettered: %s", msg.key, msg.kind, loggable(outcome.detail))
        _finish(self.store, msg, self.token, outcome.status, outcome.detail, sent_at, self.settings)
        with self._lock:
            if outcome.unreachable:
                self.unreachable.add(msg.receiver)
        self._count(outcome)

    def _count(self, outcome: Outcome) -> None:
        with self._lock:
            if outcome.status == "dead":
                self.stats.errors.append(outcome.detail)
            counter = {"delivered": "delivered", "retry": "retried", "dead": "dead", "cancelled": "cancelled"}
            name = counter[outcome.status]
            setattr(self.stats, name, getattr(self.stats, name) + 1)

    def _defer(self, msg: Message, *, backoff_too: bool) -> None:
        """Give a message back unsent (no attempt counted): after a backoff when its receiver gave no answer in
        this pass, at once when the pass ran out of time."""
        o = db.OutboxRow.__table__
        values: dict = {"locked_until": None, "lease_token": None}
        if backoff_too:
            values["next_attempt_at"] = self.clock() + timedelta(seconds=backoff(1, self.settings))
        with self.store.engine.begin() as conn:
            conn.execute(sa.update(o).where(o.c.id == msg.id, o.c.lease_token == self.token).values(**values))
        with self._lock:
            self.stats.deferred += 1


def loggable(detail: str) -> str:
    """An outcome's detail fit for the log: URLs and e-mail addresses (an exception may quote them) replaced."""
    return _ADDRESS.sub("<address>", _URL.sub("<url>", detail))


_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://\S+")
_ADDRESS = re.compile(r"[^\s<>@\"']+@[^\s<>@\"']+")


def _lanes(messages: list[Message], per_receiver: int) -> list[list[Message]]:
    """Messages split into at most ``per_receiver`` sequential lanes per receiver; every receiver's first lane
    comes before any second one, so a small pool still starts each receiver early."""
    by_receiver: dict[str, list[Message]] = {}
    for msg in messages:
        by_receiver.setdefault(msg.receiver, []).append(msg)
    rounds: list[list[list[Message]]] = []
    for batch in by_receiver.values():
        n = min(per_receiver, len(batch))
        for i in range(n):
            if len(rounds) <= i:
                rounds.append([])
            rounds[i].append(batch[i::n])
    return [lane for r in rounds for lane in r]


def _claim(store: Store, settings: Settings, now: datetime, token: str) -> list[Message]:
    o, a, s = db.OutboxRow.__table__, db.AlertRow.__table__, db.SubscriptionRow.__table__
    free = sa.or_(o.c.locked_until.is_(None), o.c.locked_until < now)
    in_force = o.c.subscription_id.in_(subs_db.in_force_ids())  # offboarded enterprises, deleted subscriptions
    if cancelled := subs_db.cancel_out_of_force(store):
        log.info("cancelled %d alert message(s) of subscriptions no longer in force", cancelled)
    turn = sa.func.row_number().over(partition_by=o.c.subscription_id, order_by=(o.c.next_attempt_at, o.c.id))
    due = (sa.select(o.c.id, o.c.next_attempt_at, turn.label("turn"))
           .where(o.c.status == "pending", o.c.next_attempt_at <= now, free, in_force).subquery())  # fmt: skip
    with store.engine.connect() as conn:  # round robin over subscriptions: a backlog cannot fill every batch
        ids = conn.scalars(sa.select(due.c.id).order_by(due.c.turn, due.c.next_attempt_at, due.c.id)
                           .limit(settings.alerts_batch_size)).all()  # fmt: skip
    lease = now + timedelta(seconds=settings.alerts_lease_seconds)
    claimed = []
    for outbox_id in ids:
        with store.engine.begin() as conn:
            won = conn.execute(sa.update(o).where(o.c.id == outbox_id, o.c.status == "pending", free, in_force)
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
        alerts: dict[int, list] = {}
        for r in conn.execute(sa.select(a.c.id, a.c.outbox_id, a.c.payload).where(a.c.outbox_id.in_(claimed))
                              .order_by(a.c.id)):  # fmt: skip
            alerts.setdefault(r.outbox_id, []).append(r)
    clear = {i for i, sub in sub_rows.items() if sub.secret and not sub.secret.startswith(PREFIX)}
    if clear and (sealed := subs_db.seal_plaintext(store, settings, clear)):  # stored before sealing existed
        log.info("sealed %d webhook secret(s) stored in clear", sealed)
    for r in rows:
        mine = alerts.get(r.id, [])
        out.append(Message(r.id, r.kind, r.idempotency_key, r.attempts, utc(r.created_at), sub_rows[r.subscription_id],
                           [x.payload for x in mine], [x.id for x in mine]))  # fmt: skip
    return out


def current(store: Store, msg: Message) -> Message:
    """The message with each card rendered from the talent as stored now: alerts on talents who withdrew matching
    consent (or were erased) are cancelled and dropped, withdrawn sharing consent masks the card; reasons stored
    by an older version are filtered as an enterprise may read them (``service.disclosure``)."""
    kept, kept_ids, dropped = [], [], []
    for alert_id, payload in zip(msg.alert_ids, msg.alerts, strict=True):
        talent = store.get("talent", payload["talent"]["id"])
        if talent is None or not talent.consent.matching:
            dropped.append(alert_id)
            continue
        card = talent_card(talent, reveal=False).model_dump(mode="json")
        kept.append({**payload, "talent": card, "reasons": enterprise_reasons(payload.get("reasons", []))})
        kept_ids.append(alert_id)
    if dropped:
        a = db.AlertRow.__table__
        with store.engine.begin() as conn:
            conn.execute(sa.update(a).where(a.c.id.in_(dropped)).values(status="cancelled"))
    return Message(msg.id, msg.kind, msg.key, msg.attempts, msg.created_at, msg.subscription, kept, kept_ids)


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
        if done and status in ("delivered", "dead", "cancelled") and msg.alert_ids:
            conn.execute(sa.update(a).where(a.c.id.in_(msg.alert_ids)).values(status=status))


def body_of(msg: Message) -> bytes:
    """The JSON body every channel renders from: the key, the subscription and its alerts."""
    return orjson.dumps({"type": msg.kind, "idempotency_key": msg.key, "subscription_id": msg.subscription.id,
                         "alerts": msg.alerts})  # fmt: skip


def header_value(text: str) -> str:
    """ASCII-safe header value: anything outside printable ASCII (a non-ASCII need id in a key) percent-encoded."""
    return quote(text, safe="-._~:=,/+@")


def _deliver(msg: Message, settings: Settings, allow: webhook.Allow) -> Outcome:
    if msg.subscription.channel is Channel.webhook:
        return send_webhook(msg, settings, allow)
    if msg.subscription.channel is Channel.email:
        return send_email(msg, settings)
    return Outcome("dead", f"channel {msg.subscription.channel} has nothing to deliver")


def send_webhook(msg: Message, settings: Settings, allow: webhook.Allow) -> Outcome:
    """Check the target again (DNS may have changed), POST the signed JSON body to the checked address; 2xx
    delivered, 408/429/5xx and no answer retried, other 4xx and refused targets dead."""
    sub = msg.subscription
    body = body_of(msg)
    headers = {"Content-Type": "application/json", "Idempotency-Key": header_value(msg.key),
               HEADER: sign(unseal(sub.secret or "", settings), body), "User-Agent": "talentmatch-alerts"}  # fmt: skip
    try:
        target = webhook.check(sub.url or "", allow, dns_timeout=settings.alerts_dns_timeout_seconds)
    except webhook.Unresolved as e:
        return Outcome("retry", f"webhook target: {e}", unreachable=True)
    except webhook.TargetRefused as e:
        return Outcome("dead", f"webhook target refused: {e}")
    ca = str(settings.alerts_webhook_ca_file) if settings.alerts_webhook_ca_file else None
    try:
        answer = webhook.post(target, body, headers, deadline=settings.alerts_http_timeout_seconds,
                              max_bytes=settings.alerts_response_max_bytes, ca_file=ca)  # fmt: skip
    except webhook.SendFailed as e:
        return Outcome("retry", f"webhook: {e}", unreachable=True)
    if 200 <= answer.status < 300:
        return Outcome("delivered")
    detail = f"webhook answered {answer.status}: {answer.head[:200].decode('utf-8', 'replace')}"
    if 300 <= answer.status < 400:
        return Outcome("dead", f"{detail} (redirects are not followed: subscribe the final URL)")
    if 400 <= answer.status < 500 and answer.status not in (408, 429):
        return Outcome("dead", detail)
    return Outcome("retry", detail)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(text: str) -> str:
    """Header-safe text: control characters and line breaks (CR, LF, U+2028…) become one space."""
    return _CONTROL.sub(" ", text).strip()


def render_email(msg: Message, settings: Settings) -> EmailMessage:
    """A bilingual plain-text e-mail: each candidate's card, score and reasons, and a link to the console."""
    first = msg.alerts[0]
    n = len(msg.alerts)
    title = first["need"]["title"] if len({x["need"]["id"] for x in msg.alerts}) == 1 else f"{n} 个岗位 / {n} posts"
    mail = EmailMessage()
    mail["Subject"] = one_line(f"新人才匹配：{title}（{n} 位候选人） / New talent match: {title} ({n} candidate(s))")
    mail["From"] = settings.smtp_from
    mail["To"] = msg.subscription.email or ""
    mail["Idempotency-Key"] = header_value(msg.key)
    mail["Message-ID"] = f"<{header_value(msg.key)}@talentmatch>"
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
    """Send through the configured SMTP server within one total deadline; SMTP 5xx refusals are dead, the rest
    retried."""
    if not settings.smtp_host:
        return Outcome("retry", "no SMTP server configured (TALENTMATCH_SMTP_HOST)")
    try:
        mailer.send(render_email(msg, settings), settings)
    except smtplib.SMTPRecipientsRefused as e:
        codes = [code for code, _ in e.recipients.values()]
        status = "dead" if all(c >= 500 for c in codes) else "retry"
        return Outcome(status, f"SMTP refused the recipient: {codes}")
    except smtplib.SMTPResponseException as e:
        return Outcome("dead" if e.smtp_code >= 500 else "retry", f"SMTP {e.smtp_code}: {e.smtp_error!r}")
    except (smtplib.SMTPException, OSError) as e:
        return Outcome("retry", f"SMTP {settings.smtp_host}:{settings.smtp_port}: {type(e).__name__}: {e}",
                       unreachable=True)  # fmt: skip
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
