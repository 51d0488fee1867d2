"""One SMTP send with one total deadline: ``smtplib``'s timeout is per socket operation, so a server that answers a
byte at a time would hold a send for ever; a watchdog shuts the socket when the deadline passes."""

from __future__ import annotations

import contextlib
import smtplib
import socket
import ssl
import threading
from email.message import EmailMessage

from service.settings import Settings


def send(mail: EmailMessage, settings: Settings) -> None:
    """Send ``mail`` through the configured server within ``alerts_http_timeout_seconds`` in all; raises
    ``smtplib.SMTPException`` or ``OSError`` (also when the deadline cut the connection)."""
    if not settings.smtp_host:
        raise smtplib.SMTPException("no SMTP server configured (TALENTMATCH_SMTP_HOST)")
    deadline = settings.alerts_http_timeout_seconds
    smtp = smtplib.SMTP(timeout=deadline)
    watchdog = threading.Timer(deadline, _shut, (smtp,))
    watchdog.daemon = True
    watchdog.start()
    try:
        smtp.connect(settings.smtp_host, settings.smtp_port)
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_username:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            smtp.login(settings.smtp_username, password)
        smtp.send_message(mail)
    finally:
        watchdog.cancel()
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.quit()
        smtp.close()


def _shut(smtp: smtplib.SMTP) -> None:
    sock = smtp.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
