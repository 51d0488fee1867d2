"""The webhook SSRF guard: which URLs a subscription may name, checked through the API of a real server and at
send time against real loopback receivers (allowed only through ``TALENTMATCH_ALERTS_WEBHOOK_ALLOW``)."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from alert_helpers import SECRET, Receiver
from api_helpers import auth, run_server, settings_for

from service.alerts.webhook import Allow, SendFailed, Target, TargetRefused, check, post, refusal, split
from service.api.app import create_app

NONE = Allow()
LOOPBACK = Allow.parse("127.0.0.1/32")

REFUSED = [
    ("http://169.254.169.254/latest/meta-data/", "https"),  # plain http
    ("https://169.254.169.254/latest/meta-data/", "link-local"),
    ("https://127.0.0.1/", "loopback"),
    ("https://127.1/", "dotted-quad"),
    ("https://2130706433/", "dotted-quad"),  # decimal 127.0.0.1
    ("https://0x7f000001/", "dotted-quad"),
    ("https://0177.0.0.1/", "dotted-quad"),  # octal
    ("https://127.0.0.01/", "dotted-quad"),
    ("https://10.0.0.5/", "private"),
    ("https://172.16.3.4/", "private"),
    ("https://192.168.1.1./", "private"),  # trailing dot
    ("https://100.64.0.1/", "CGNAT"),
    ("https://224.0.0.1/", "multicast"),
    ("https://240.0.0.1/", "reserved"),
    ("https://0.0.0.0/", "unspecified"),
    ("https://[::1]/", "loopback"),
    ("https://[::]/", "unspecified"),
    ("https://[fe80::1]/", "link-local"),
    ("https://[fe80::1%25eth0]/", "zone"),
    ("https://[fd00::1]/", "private"),
    ("https://[ff02::1]/", "multicast"),
    ("https://[::ffff:127.0.0.1]/", "IPv4-mapped"),
    ("https://[::ffff:169.254.169.254]/", "IPv4-mapped"),
    ("https://[2002:7f00:1::]/", "6to4"),  # 6to4 of 127.0.0.1
    ("https://[2002:a9fe:a9fe::]/", "6to4"),  # 6to4 of 169.254.169.254
    ("https://[64:ff9b::a9fe:a9fe]/", "NAT64"),
    ("https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "Teredo"),
    ("https://good.example@127.0.0.1/", "user info"),
    ("https://127.0.0.1\\@good.example/", "backslash"),
    ("https://user:pw@good.example/", "user info"),
    ("ftp://good.example/", "https"),
    ("https://localhost/", "loopback"),
    ("https://localhost./", "loopback"),
    ("https://ex ample.com/", "spaces"),
    ("https://a..b/", "host name"),
    ("https://no-such-host.invalid/", "does not resolve"),
    ("https://good.example:99999/", "port"),
    ("https://good.example:0/", "port"),
]


@pytest.mark.parametrize(("url", "why"), REFUSED)
def test_refused_urls_name_the_rule(url, why):
    with pytest.raises(TargetRefused, match=why):
        check(url, NONE, dns_timeout=2.0)


def test_host_names_do_not_tell_the_enterprise_where_they_resolve():
    """``public`` (what the API answers) is the same for an unknown name and a name of an internal host."""
    told = set()
    for url in ("https://localhost/", "https://no-such-host.invalid/", "http://localhost/"):
        with pytest.raises(TargetRefused) as refused:
            check(url, Allow.parse("10.9.9.9/32"), dns_timeout=2.0)
        told.add(refused.value.public)
    assert len(told) == 1 and "public" in told.pop()


def test_public_addresses_pass_and_embeddings_of_public_addresses_too():
    for text in ("203.0.114.7", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "2002:808:808::", "64:ff9b::808:808"):
        assert refusal(ipaddress.ip_address(text)) is None, text
    target = check("https://8.8.8.8:8443/hook?a=1", NONE, dns_timeout=1.0)
    assert (target.host, target.port, target.path) == ("8.8.8.8", 8443, "/hook?a=1")
    assert split("https://Bücher.Example./x")[1] == "xn--bcher-kva.example"


def test_the_allow_list_admits_named_private_targets_and_plain_http():
    allow = Allow.parse("127.0.0.1/32, localhost")
    assert check("http://127.0.0.1:9/hook", allow, dns_timeout=2.0).addresses == (ipaddress.ip_address("127.0.0.1"),)
    assert check("http://localhost:9/hook", allow, dns_timeout=2.0).host == "localhost"
    with pytest.raises(TargetRefused, match="private"):
        check("https://10.1.2.3/", allow, dns_timeout=2.0)  # not in the list
    with pytest.raises(ValueError, match="neither a host name nor a CIDR"):
        Allow.parse("10.0.0.0/8, bad host!")


def test_the_connection_goes_to_the_checked_address_with_the_name_in_host(receiver_with_host):
    """DNS rebinding: whatever the name resolves to later, the request goes to the address that was checked."""
    receiver, seen = receiver_with_host
    target = Target("http", "hooks.rebind.test", receiver.port, "/hook", (ipaddress.ip_address("127.0.0.1"),))
    answer = post(target, b"{}", {"Content-Type": "application/json"}, deadline=5.0, max_bytes=16)
    assert answer.status == 200 and seen == [f"hooks.rebind.test:{receiver.port}"]


@pytest.fixture
def receiver_with_host():
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(self.headers["Host"])
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    class R:
        port = server.server_address[1]

    yield R, seen
    server.shutdown()
    server.server_close()


def test_redirects_are_not_followed_and_proxies_not_used(monkeypatch, receiver_with_host):
    inner, seen = receiver_with_host

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(307)
            self.send_header("Location", f"http://127.0.0.1:{inner.port}/hook")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:1")  # a proxy from the environment would refuse
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:1")
    try:
        target = check(f"http://127.0.0.1:{server.server_address[1]}/", LOOPBACK, dns_timeout=2.0)
        assert post(target, b"{}", {}, deadline=5.0, max_bytes=16).status == 307
        assert seen == []
    finally:
        server.shutdown()
        server.server_close()


def test_a_hanging_receiver_is_cut_at_the_total_deadline():
    """A receiver that accepts and then sends one byte per 0.2 s never trips a per-read timeout; the total does."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def trickle() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000:
                if stop.is_set():
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.2)

    threading.Thread(target=trickle, daemon=True).start()
    target = Target("http", "127.0.0.1", listener.getsockname()[1], "/", (ipaddress.ip_address("127.0.0.1"),))
    t0 = time.monotonic()
    try:
        with pytest.raises(SendFailed, match=r"no answer within 1 s"):
            post(target, b"{}", {}, deadline=1.0, max_bytes=16)
        assert time.monotonic() - t0 < 2.0
    finally:
        stop.set()
        listener.close()


@pytest.fixture
def api(sqlite_url, keys, tmp_path):
    app = create_app(settings_for(sqlite_url, tmp_path, alerts_dispatcher=False, alerts_webhook_allow="127.0.0.1"))
    with run_server(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client


def test_subscriptions_refuse_internal_targets_with_a_422_on_url(api, keys):
    e1 = auth(keys["e1"])
    base = {"need_id": "n1", "channel": "webhook", "secret": SECRET, "top_n": 3}
    for url in ("http://169.254.169.254/latest/meta-data/", "https://169.254.169.254/", "https://[::ffff:10.0.0.1]/",
                "https://0x0a000001/", "http://10.0.0.1/", "https://[::1]/"):  # fmt: skip
        r = api.post("/subscriptions", json={**base, "url": url}, headers=e1)
        assert r.status_code == 422 and r.json()["error"]["field"] == "url", (url, r.text)
        assert "169.254" not in r.json()["error"]["message"].replace(url, "")
    receiver = Receiver()
    try:
        r = api.post("/subscriptions", json={**base, "url": receiver.url}, headers=e1)  # allowed by the operator
        assert r.status_code == 201, r.text
    finally:
        receiver.down()


def _ca_and_cert(tmp_path, name: str):
    """A throwaway CA and a server certificate for ``name`` signed by it (PEM files)."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def named(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    now = datetime.now(UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(named("test CA")).issuer_name(named("test CA"))
          .public_key(ca_key.public_key()).serial_number(1).not_valid_before(now - timedelta(minutes=1))
          .not_valid_after(now + timedelta(hours=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))  # fmt: skip
    cert = (x509.CertificateBuilder().subject_name(named(name)).issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(2).not_valid_before(now - timedelta(minutes=1)).not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))  # fmt: skip
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(pem))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(pem))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))  # fmt: skip
    return tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"


def test_https_goes_to_the_checked_address_with_sni_and_verification_for_the_name(tmp_path, receiver_with_host):
    import ssl

    ca, cert, key = _ca_and_cert(tmp_path, "hooks.tls.test")
    _, seen = receiver_with_host
    names: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    loopback = (ipaddress.ip_address("127.0.0.1"),)
    try:
        target = Target("https", "hooks.tls.test", port, "/hook", loopback)
        assert post(target, b"{}", {}, deadline=5.0, max_bytes=16, ca_file=str(ca)).status == 204
        assert names == ["hooks.tls.test"] and seen == [f"hooks.tls.test:{port}"]
        with pytest.raises(SendFailed, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            post(Target("https", "other.tls.test", port, "/", loopback), b"{}", {}, deadline=5.0, max_bytes=16,
                 ca_file=str(ca))  # fmt: skip
        with pytest.raises(SendFailed, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            post(target, b"{}", {}, deadline=5.0, max_bytes=16)  # an unknown CA is not trusted
    finally:
        server.shutdown()
        server.server_close()
