"""Webhook targets and the one HTTP send: what an enterprise's URL may reach, checked when the subscription is made
and again at every send (DNS answers change), and a POST that connects to the address it checked.

- ``https`` only, unless the host is allowed by ``TALENTMATCH_ALERTS_WEBHOOK_ALLOW`` (host names or CIDRs);
- no user info, no zone ids, no numeric host spelled other than as a dotted quad (``2130706433``, ``0x7f.1``,
  ``0177.0.0.1``, ``127.1`` are refused, not guessed at);
- every address the name resolves to must be global unicast: not loopback, link-local, private, shared (CGNAT),
  multicast, reserved, unspecified or documentation, nor an IPv4-mapped, 6to4, NAT64 or Teredo address wrapping
  one; the allow setting admits named private targets;
- the connection goes to the checked address itself (the Host header and TLS SNI and certificate check keep the
  name), so a name that resolves elsewhere between check and connect reaches nothing new; redirects are never
  followed; proxy environment variables are ignored;
- a request has one total deadline (a watchdog shuts its socket, whatever phase it is in) and its answer is read up
  to a few KiB.

Refusals name the rule, never the resolved address; nothing here logs the URL (it may carry a token), and the
request logs of httpx / httpcore (URL, address, port at INFO / DEBUG) are held at WARNING for the same reason.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import re
import socket
import ssl
import threading
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlsplit

import idna

for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).setLevel(logging.WARNING)

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_IETF = ipaddress.ip_network("192.0.0.0/24")
_BENCH = ipaddress.ip_network("198.18.0.0/15")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_NUMERIC_LABEL = re.compile(r"^(?:[0-9]+|0x[0-9a-f]*)$")
_HOST_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$")


class TargetRefused(ValueError):
    """A webhook URL the service may not reach; the message says which rule (never the resolved address), and
    ``public`` is what the enterprise is told: for a host name, not whether or where it resolves (an internal DNS
    oracle otherwise)."""

    def __init__(self, message: str, public: str | None = None) -> None:
        super().__init__(message)
        self.public = public or message


class Unresolved(TargetRefused):
    """The host name did not resolve (in time): possibly passing, unlike the other refusals."""


class SendFailed(Exception):
    """A webhook request that got no answer (refused, reset, TLS, deadline); the message is safe to store."""


@dataclass(frozen=True)
class Allow:
    """``TALENTMATCH_ALERTS_WEBHOOK_ALLOW``: host names and CIDRs an operator admits although private, over http."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Allow:
        hosts, networks = set(), []
        for item in (x.strip() for x in (text or "").split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                if not all(_HOST_LABEL.match(label) for label in item.lower().rstrip(".").split(".")):
                    raise ValueError(f"webhook allow list: {item!r} is neither a host name nor a CIDR") from None
                hosts.add(item.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def admits(self, host: str, addresses: tuple[IP, ...]) -> bool:
        """The host is named, or every address it resolves to is inside an allowed network."""
        if host in self.hosts:
            return True
        return bool(addresses) and all(any(_plain(ip) in net for net in self.networks) for ip in addresses)


@dataclass(frozen=True)
class Target:
    """A checked webhook URL: where to connect (``addresses``) and what to say (``host``, ``port``, ``path``)."""

    scheme: str
    host: str  # ASCII (IDNA), lower case, no trailing dot; an IPv6 literal without brackets
    port: int
    path: str  # path and query
    addresses: tuple[IP, ...]

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == {"https": 443, "http": 80}[self.scheme] else f"{host}:{self.port}"


@dataclass(frozen=True)
class Answer:
    status: int
    head: bytes  # the first bytes of the body, at most the cap


def receiver_of(url: str | None) -> str:
    """The receiver (host:port) a URL names, for per-receiver limits; the URL itself when it does not parse."""
    try:
        _, host, port, _ = split(url or "")
    except TargetRefused:
        return url or ""
    return f"{host}:{port}"


def split(url: str) -> tuple[str, str, int, str]:
    """Scheme, normalised host, port and path of a webhook URL, or ``TargetRefused`` (syntax only, no DNS)."""
    if not isinstance(url, str) or not url or any(c.isspace() or ord(c) < 0x20 or c in "\\\x7f" for c in url):
        raise TargetRefused("the URL is empty or contains spaces, control characters or backslashes")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise TargetRefused("the URL must start with https://")
    if "@" in parts.netloc:
        raise TargetRefused("user info (`user:password@`) is not allowed in a webhook URL; put credentials in the path")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise TargetRefused("the URL's port is not a number from 1 to 65535")
    port = port or (443 if scheme == "https" else 80)
    if parts.netloc.startswith("["):
        literal = parts.netloc[1:].partition("]")[0]
        if "%" in literal:
            raise TargetRefused("IPv6 zone ids are not allowed in a webhook URL")
        try:
            host = str(ipaddress.IPv6Address(literal))
        except ValueError:
            raise TargetRefused("the URL's IPv6 address does not parse") from None
    else:
        host = _host_name(parts.hostname or "")
    return scheme, host, port, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _host_name(raw: str) -> str:
    host = raw[:-1] if raw.endswith(".") else raw
    if not host:
        raise TargetRefused("the URL has no host")
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError:
            raise TargetRefused("the URL's host is not a valid internationalised domain name") from None
    host = host.lower()
    labels = host.split(".")
    if _NUMERIC_LABEL.match(labels[-1]):
        try:
            if str(ipaddress.IPv4Address(host)) == host:
                return host
        except ValueError:
            pass
        raise TargetRefused("a numeric host must be a plain dotted-quad IPv4 address (like 203.0.113.7)")
    if len(host) > 253 or not all(_HOST_LABEL.match(label) and len(label) <= 63 for label in labels):
        raise TargetRefused("the URL's host is not a valid host name")
    return host


def _plain(ip: IP) -> IP:
    """An IPv4-mapped IPv6 address as the IPv4 address it is."""
    return ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else ip


def refusal(ip: IP) -> str | None:
    """Why a webhook may not connect to ``ip`` (the kind of address), or ``None`` for a global unicast address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return _wrapped("IPv4-mapped", ip.ipv4_mapped)
        if ip.teredo is not None:
            return "a Teredo tunnel address"
        if ip.sixtofour is not None:
            return _wrapped("6to4", ip.sixtofour)
        if any(ip in net for net in _NAT64):
            return _wrapped("NAT64", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if ip.is_site_local:
            return "a site-local address"
    checks = (
        (ip.is_unspecified, "the unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address (cloud metadata lives there)"),
        (ip.is_multicast, "a multicast address"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT, "a shared (CGNAT) address"),
        (isinstance(ip, ipaddress.IPv4Address) and (ip in _IETF or ip in _BENCH), "a reserved address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private address"),
        (not ip.is_global, "a non-global address"),
    )
    return next((why for bad, why in checks if bad), None)


def _wrapped(kind: str, inner: ipaddress.IPv4Address) -> str | None:
    why = refusal(inner)
    return None if why is None else f"an {kind} address wrapping {why}"


def resolve(host: str, port: int, timeout: float) -> tuple[IP, ...]:
    """The addresses of ``host`` (an IP literal is itself), within ``timeout`` seconds, or ``TargetRefused``."""
    try:
        return (ipaddress.ip_address(host),)
    except ValueError:
        pass
    box: dict = {}

    def lookup() -> None:
        try:
            box["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as e:
            box["error"] = e

    thread = threading.Thread(target=lookup, name="talentmatch-webhook-dns", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise Unresolved(f"the host name did not resolve within {timeout:g} s")
    if "error" in box:
        raise Unresolved("the host name does not resolve")
    seen: dict[IP, None] = {}
    for *_, sockaddr in box["infos"]:
        seen[ipaddress.ip_address(sockaddr[0].partition("%")[0])] = None
    if not seen:
        raise Unresolved("the host name does not resolve")
    return tuple(seen)


def check(url: str, allow: Allow, *, dns_timeout: float) -> Target:
    """The checked target of a webhook URL, or ``TargetRefused`` saying why it may not be reached."""
    scheme, host, port, path = split(url)
    if scheme != "https" and host not in allow.hosts and not allow.networks:
        raise TargetRefused(_HTTPS)
    public = None if _is_ip(host) else _NOT_PUBLIC
    try:
        addresses = resolve(host, port, dns_timeout)
    except Unresolved as e:
        raise Unresolved(str(e), public) from None
    if allow.admits(host, addresses):
        return Target(scheme, host, port, path, addresses)
    if scheme != "https":
        raise TargetRefused(_HTTPS, public)
    for ip in addresses:
        if (why := refusal(ip)) is not None:
            raise TargetRefused(f"the host resolves to {why}; webhooks reach public addresses only", public)
    return Target(scheme, host, port, path, addresses)


_HTTPS = "the URL must use https:// (plain http only for hosts the operator allows)"
_NOT_PUBLIC = ("the host name must resolve, and only to public addresses; webhooks reach public https endpoints "
               "unless the operator allows the host")  # fmt: skip


@cache
def _tls(ca_file: str | None) -> ssl.SSLContext:
    """The system's trust store, plus the operator's CA bundle for on-premise receivers when given."""
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


class _Watchdog:
    """Shuts the request's socket when its total deadline passes, whichever read or write it is blocked in."""

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self.fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def trace(self, event: str, info: dict) -> None:
        if event == "connection.connect_tcp.complete" and info.get("return_value") is not None:
            with self._lock:
                self._sock = info["return_value"].get_extra_info("socket")
                if self.fired:
                    self._shut()

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            self._shut()

    def _shut(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)


def post(target: Target, body: bytes, headers: dict[str, str], *, deadline: float, max_bytes: int,
         ca_file: str | None = None) -> Answer:  # fmt: skip
    """POST ``body`` to the target's first checked address within ``deadline`` seconds in all; reads at most
    ``max_bytes`` of the answer; TLS trusts the system's CAs and ``ca_file``. Raises ``SendFailed`` when no answer
    came."""
    import httpx  # here: only a dispatcher posting a webhook needs it, not a server start (~0.1–0.3 s of imports)

    ip = target.addresses[0]
    literal = f"[{ip}]" if ip.version == 6 else str(ip)
    extensions: dict = {}
    if target.scheme == "https" and not _is_ip(target.host):
        extensions["sni_hostname"] = target.host  # TLS names and verifies the host, not the address
    with _Watchdog(deadline) as dog:
        extensions["trace"] = dog.trace
        try:
            with httpx.Client(
                verify=_tls(ca_file), trust_env=False, follow_redirects=False, timeout=deadline
            ) as client:
                request = client.build_request("POST", f"{target.scheme}://{literal}:{target.port}{target.path}",
                                               content=body, headers={**headers, "Host": target.host_header},
                                               extensions=extensions)  # fmt: skip
                response = client.send(request, stream=True)
                head = bytearray()
                try:
                    for chunk in response.iter_raw():
                        head += chunk
                        if len(head) >= max_bytes:
                            break
                except httpx.HTTPError:
                    pass  # the status arrived; a body cut short (deadline, peer) changes nothing
                finally:
                    response.close()
        except httpx.HTTPError as e:
            if dog.fired:
                raise SendFailed(f"no answer within {deadline:g} s") from None
            raise SendFailed(f"{type(e).__name__}: {_safe(str(e))}") from None
    return Answer(response.status_code, bytes(head[:max_bytes]))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _safe(text: str) -> str:
    """An error text without addresses or URLs an enterprise could learn the network from (kept for operators)."""
    text = re.sub(r"https?://\S+", "<url>", text)
    return re.sub(r"\[?[0-9a-fA-F:.]{7,}\]?(:\d+)?", "<address>", text)[:300]
