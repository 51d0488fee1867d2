"""E-mail subscriptions wait until their address is confirmed: a random token is mailed to it and only its SHA-256
is stored; ``POST /subscriptions/{id}/verify`` with the token activates the subscription. So an enterprise cannot
have alerts (talent cards) mailed to an address it does not control."""

from __future__ import annotations

import hashlib
import logging
import secrets
import smtplib
from email.message import EmailMessage

from service.alerts import mailer
from service.alerts.subscriptions import Subscription
from service.settings import Settings

log = logging.getLogger("talentmatch.alerts")


def new_token() -> tuple[str, str]:
    """A token to mail and the hash to store."""
    token = secrets.token_urlsafe(24)
    return token, digest(token)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def render(sub: Subscription, token: str, settings: Settings) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = "请确认提醒邮箱 / Please confirm the address for talent alerts"
    mail["From"] = settings.smtp_from
    mail["To"] = sub.email or ""
    console = settings.console_url.rstrip("/")
    mail.set_content("\n".join([
        f"企业 {sub.enterprise_id} 订阅了人才匹配提醒，发送到此邮箱。/ Enterprise {sub.enterprise_id} subscribed this "
        "address to talent match alerts.",
        "确认后才会发送提醒；如非本人操作，请忽略此邮件。/ Nothing is sent until it is confirmed; if this was not you, "
        "ignore this e-mail.",
        "",
        f"订阅 / Subscription: {sub.id}",
        f"确认码 / Confirmation token: {token}",
        f"确认 / Confirm: POST {console}/subscriptions/{sub.id}/verify  {{\"token\": \"{token}\"}}",
    ]))  # fmt: skip
    return mail


def send(sub: Subscription, token: str, settings: Settings) -> bool:
    """Mail the token; ``False`` (logged, without the address) when it could not be sent."""
    try:
        mailer.send(render(sub, token, settings), settings)
    except (smtplib.SMTPException, OSError) as e:
        log.warning("subscription %s: the confirmation e-mail was not sent: %s", sub.id, type(e).__name__)
        return False
    return True
