"""The shop client fetches only the shop: store URLs on public addresses (checked when saved
and again at every request), no redirects, bounded answers, and no answer body on a page."""

import contextlib
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, override_settings

from integrations.woocommerce import client, services
from integrations.woocommerce.models import ErrorKind, OrderError, Store
from matchpal import outbound
from tests.integrations import woo
from tests.integrations.conftest import CONSUMER_KEY, CONSUMER_SECRET, Shop, grants_of

pytestmark = pytest.mark.django_db

SHOP = "/o/alpha/shop/"
PUBLIC = "93.184.215.14"  # a public address (example.org's), never connected to here


def refused(host: str, address: str, kind: str) -> str:
    return outbound.refused_message(host, ip_address(address), kind)


# --- Saving a store URL ----------------------------------------------------------------------


def save(admin_client: Client, url: str):  # type: ignore[no-untyped-def]
    return admin_client.post(
        f"{SHOP}new/",
        {"name": "Shop", "store_url": url, "paid_statuses": ["completed"], "is_active": "on"},
    )


ADDRESSES = [
    # (URL, host as checked, the address it is, its kind)
    ("http://127.0.0.1/", "127.0.0.1", "127.0.0.1", outbound.LOOPBACK),
    ("http://127.8.9.10:8080/", "127.8.9.10", "127.8.9.10", outbound.LOOPBACK),
    ("http://[::1]/", "::1", "::1", outbound.LOOPBACK),
    ("http://10.0.0.5/", "10.0.0.5", "10.0.0.5", outbound.PRIVATE),
    ("https://172.16.4.2/", "172.16.4.2", "172.16.4.2", outbound.PRIVATE),
    ("http://192.168.1.20/", "192.168.1.20", "192.168.1.20", outbound.PRIVATE),
    ("http://100.64.0.1/", "100.64.0.1", "100.64.0.1", outbound.PRIVATE),
    ("http://[fd12:3456::1]/", "fd12:3456::1", "fd12:3456::1", outbound.PRIVATE),
    ("http://169.254.169.254/", "169.254.169.254", "169.254.169.254", outbound.LINK_LOCAL),
    ("http://[fe80::1]/", "fe80::1", "fe80::1", outbound.LINK_LOCAL),
    ("http://224.0.0.251/", "224.0.0.251", "224.0.0.251", outbound.MULTICAST),
    ("http://[ff02::1]/", "ff02::1", "ff02::1", outbound.MULTICAST),
    ("http://240.0.0.1/", "240.0.0.1", "240.0.0.1", outbound.RESERVED),
    ("http://192.0.2.10/", "192.0.2.10", "192.0.2.10", outbound.RESERVED),
    ("http://255.255.255.255/", "255.255.255.255", "255.255.255.255", outbound.RESERVED),
    ("http://0.0.0.0/", "0.0.0.0", "0.0.0.0", outbound.UNSPECIFIED),
    ("http://[::]/", "::", "::", outbound.UNSPECIFIED),
    # IPv6 forms that reach an IPv4 address: mapped, 6to4, NAT64.
    ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1", "::ffff:7f00:1", outbound.LOOPBACK),
    ("http://[::ffff:10.1.2.3]/", "::ffff:10.1.2.3", "::ffff:a01:203", outbound.PRIVATE),
    ("http://[2002:a9fe:a9fe::1]/", "2002:a9fe:a9fe::1", "2002:a9fe:a9fe::1", outbound.LINK_LOCAL),
    ("http://[64:ff9b::7f00:1]/", "64:ff9b::7f00:1", "64:ff9b::7f00:1", outbound.LOOPBACK),
]


@pytest.mark.parametrize(
    ("url", "host", "address", "kind"), ADDRESSES, ids=[a[0] for a in ADDRESSES]
)
def test_a_store_url_on_a_non_public_address_is_refused_on_the_field(
    admin_client_a: Client, url: str, host: str, address: str, kind: str
) -> None:
    response = save(admin_client_a, url)

    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors == {"store_url": [refused(host, address, kind)]}
    assert 'aria-invalid="true"' in response.content.decode()  # the field is outlined
    assert not Store.objects.exists()


def test_a_name_that_resolves_to_loopback_is_refused(admin_client_a: Client) -> None:
    # localhost, through the system's resolver, as any name would be.
    addresses = {info[4][0] for info in socket.getaddrinfo("localhost", 80)}

    response = save(admin_client_a, "http://localhost:8080/")

    [message] = response.context["form"].errors["store_url"]
    assert message in {refused("localhost", a, outbound.LOOPBACK) for a in addresses}, message
    assert not Store.objects.exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://shop.example.org/#", outbound.URL_FRAGMENT),
        ("https://10.0.0.1/admin#/x", outbound.URL_FRAGMENT),
        ("https://shop.example.org/?", outbound.URL_QUERY),
        ("https://shop.example.org/?page=admin", outbound.URL_QUERY),
        ("https://user:secret@shop.example.org/", outbound.URL_USERINFO),
        ("ftp://shop.example.org/", outbound.URL_SCHEME),
    ],
)
def test_a_store_url_with_a_fragment_query_or_user_is_refused(
    admin_client_a: Client, url: str, message: str
) -> None:
    response = save(admin_client_a, url)

    assert response.context["form"].errors == {"store_url": [message]}
    assert not Store.objects.exists()


def test_public_addresses_and_names_not_resolvable_yet_are_saved(admin_client_a: Client) -> None:
    assert save(admin_client_a, f"https://{PUBLIC}/").status_code == 302
    # A shop not live yet (or a resolver down for a moment): checked again at every request.
    assert save(admin_client_a, "https://shop.not-live-yet.example/").status_code == 302

    assert sorted(Store.objects.values_list("store_url", flat=True)) == [
        f"https://{PUBLIC}/",
        "https://shop.not-live-yet.example/",
    ]


@override_settings(MATCHPAL_SHOP_ALLOW_PRIVATE_ADDRESSES=True)
def test_a_self_hosted_server_may_allow_loopback_and_private_but_not_link_local(
    admin_client_a: Client,
) -> None:
    assert save(admin_client_a, "http://10.0.0.5/").status_code == 302
    assert save(admin_client_a, "http://localhost:8080/").status_code == 302

    for url, host, kind in [
        ("http://169.254.169.254/", "169.254.169.254", outbound.LINK_LOCAL),
        ("http://224.0.0.251/", "224.0.0.251", outbound.MULTICAST),
        ("http://0.0.0.0/", "0.0.0.0", outbound.UNSPECIFIED),
    ]:
        response = save(admin_client_a, url)
        assert response.context["form"].errors == {"store_url": [refused(host, host, kind)]}
    assert Store.objects.count() == 2


# --- A real server on loopback -------------------------------------------------------------


@dataclass
class LocalServer:
    """An HTTP server on 127.0.0.1 whose answer a test chooses."""

    url: str = ""
    port: int = 0
    answer: Callable[[BaseHTTPRequestHandler], None] = lambda h: None
    requests: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
def local_server() -> Iterator[LocalServer]:
    server = LocalServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server.requests.append({"path": self.path, **dict(self.headers.items())})
            # The client hangs up on a slow or oversized answer, as it should.
            with contextlib.suppress(OSError):
                server.answer(self)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    server.port = httpd.server_address[1]
    server.url = f"http://127.0.0.1:{server.port}/"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def json_answer(body: bytes, status: int = 200, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=UTF-8")
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    return answer


@pytest.fixture
def local_shop(shop: Shop, local_server: LocalServer) -> Store:
    """A store whose URL points at the local server, saved as if before these checks (or
    with the allow setting on at the time)."""
    store = shop.store
    store.store_url = local_server.url
    store.consumer_key, store.consumer_secret = CONSUMER_KEY, CONSUMER_SECRET
    store.save()
    return store


def test_a_store_on_loopback_is_not_fetched_unless_private_addresses_are_allowed(
    local_shop: Store, local_server: LocalServer
) -> None:
    local_server.answer = json_answer(woo.php_json(woo.order(status="completed")))

    with pytest.raises(client.ShopRefused) as refusal:
        client.fetch_order(local_shop, 727)

    assert str(refusal.value) == (
        "The shop's API was not called: "
        + refused("127.0.0.1", "127.0.0.1", outbound.LOOPBACK).rstrip(".")
    )
    assert local_server.requests == []  # not even connected to

    with override_settings(MATCHPAL_SHOP_ALLOW_PRIVATE_ADDRESSES=True):
        assert client.fetch_order(local_shop, 727)["id"] == 727
    assert [r["path"] for r in local_server.requests] == ["/wp-json/wc/v3/orders/727"]


def test_the_catch_up_of_a_refused_store_tells_the_admins_once(
    local_shop: Store, local_server: LocalServer
) -> None:
    local_server.answer = json_answer(b"[]")

    assert services.sync_store(store=local_shop) == 0
    assert services.sync_store(store=local_shop) == 0

    error = OrderError.objects.get()
    assert (error.kind, error.subject, error.payload, error.message) == (
        ErrorKind.PROCESSING_FAILED,
        "sync:address_refused",
        {"store_url": local_server.url},
        "The catch-up stopped: The shop's API was not called: "
        + refused("127.0.0.1", "127.0.0.1", outbound.LOOPBACK).rstrip(".")
        + ". Correct the store URL in the store's settings, then resolve.",
    )
    assert local_server.requests == []


def test_a_delivery_that_needs_a_refused_store_fails_at_once(
    local_shop: Store, local_server: LocalServer, shop: Shop
) -> None:
    local_server.answer = json_answer(woo.php_json(woo.order(status="completed")))

    shop.post({"action": "woocommerce_payment_complete", "arg": 727}, topic="action.x")

    delivery = shop.last_delivery()
    assert delivery.status == "failed"
    assert delivery.outcome.startswith("Gave up: The shop's API was not called: 127.0.0.1 is ")
    assert OrderError.objects.get().kind == ErrorKind.PROCESSING_FAILED
    assert local_server.requests == []
    assert not grants_of()


def test_a_name_is_resolved_once_and_the_checked_address_is_the_one_connected_to(
    local_shop: Store, local_server: LocalServer, monkeypatch
) -> None:
    # DNS rebinding: the name answers an allowed address to the check, then another one. The
    # request must go to the address checked, with the name in the Host header.
    real = socket.getaddrinfo
    answers = iter(["127.0.0.1", "10.255.255.1"])
    lookups: list[str] = []

    def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "shop.rebind.test":
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        return real(next(answers), port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    Store.objects.filter(pk=local_shop.pk).update(
        store_url=f"http://shop.rebind.test:{local_server.port}/"
    )
    local_shop.refresh_from_db()
    local_server.answer = json_answer(woo.php_json(woo.order(status="completed")))

    with override_settings(MATCHPAL_SHOP_ALLOW_PRIVATE_ADDRESSES=True):
        assert client.fetch_order(local_shop, 727)["id"] == 727

    assert lookups == ["shop.rebind.test"]
    [request] = local_server.requests
    assert request["Host"] == f"shop.rebind.test:{local_server.port}"


def test_a_name_that_changes_to_an_internal_address_is_refused_at_the_request(
    admin_client_a: Client, local_server: LocalServer, monkeypatch
) -> None:
    real = socket.getaddrinfo
    current = {"address": PUBLIC}

    def resolver(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "shop.rebind.test":
            return real(current["address"], port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    assert save(admin_client_a, f"http://shop.rebind.test:{local_server.port}/").status_code == 302
    store = Store.objects.get()
    store.consumer_key, store.consumer_secret = CONSUMER_KEY, CONSUMER_SECRET
    current["address"] = "127.0.0.1"  # the name now points inside

    with pytest.raises(
        client.ShopRefused, match=r"shop\.rebind\.test resolves to 127\.0\.0\.1, a loopback"
    ):
        client.fetch_order(store, 727)
    assert local_server.requests == []


@override_settings(MATCHPAL_SHOP_ALLOW_PRIVATE_ADDRESSES=True)
def test_a_redirect_is_not_followed_even_to_an_address_refused_anyway(
    local_shop: Store, local_server: LocalServer
) -> None:
    target = "http://169.254.169.254/latest/meta-data/"
    local_server.answer = json_answer(b"", status=302, headers={"Location": target})

    with pytest.raises(client.ShopRefused) as refusal:
        client.fetch_order(local_shop, 727)

    assert (refusal.value.code, str(refusal.value)) == (
        "redirect",
        f"The shop's API answered orders/727 with a redirect (302) to {target}. Redirects "
        "are not followed",
    )
    assert len(local_server.requests) == 1


@override_settings(MATCHPAL_SHOP_ALLOW_PRIVATE_ADDRESSES=True)
def test_an_answer_over_the_size_cap_is_cut_off(
    local_shop: Store, local_server: LocalServer
) -> None:
    sent: list[int] = []

    def endless(handler: BaseHTTPRequestHandler) -> None:
        # No Content-Length: the client must count as it reads.
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.end_headers()
        handler.wfile.write(b"[")
        for _ in range(200):  # 12.5 MB if the client kept reading
            handler.wfile.write(b"0," * 32768)
            sent.append(1)

    local_server.answer = endless

    with pytest.raises(client.ShopRefused) as refusal:
        client.fetch_order(local_shop, 727)

    assert (refusal.value.code, str(refusal.value)) == (
        "too_large",
        "The shop's API answered orders/727 with too much: the answer was larger than 5 MB "
        "and was cut off",
    )
    assert len(sent) < 200

    # Declared too large: refused before reading any of it.
    local_server.answer = lambda h: (
        h.send_response(200),
        h.send_header("Content-Length", str(outbound.MAX_ANSWER_BYTES + 1)),
        h.end_headers(),
    )
    with pytest.raises(client.ShopRefused, match="larger than 5 MB"):
        client.fetch_order(local_shop, 727)


@override_settings(MATCHPAL_SHOP_ALLOW_PRIVATE_ADDRESSES=True)
def test_a_slow_answer_times_out(local_shop: Store, local_server: LocalServer, monkeypatch) -> None:
    monkeypatch.setattr(outbound, "READ_TIMEOUT_SECONDS", 0.3)
    release = threading.Event()

    def silent(handler: BaseHTTPRequestHandler) -> None:
        release.wait(5)

    local_server.answer = silent
    started = time.monotonic()
    try:
        with pytest.raises(client.ShopAPIError) as failure:
            client.fetch_order(local_shop, 727)
    finally:
        release.set()

    assert str(failure.value) == "The shop's API did not answer orders/727: no answer within 0.3 s"
    assert not isinstance(failure.value, client.ShopRefused)  # a later attempt may do better
    assert time.monotonic() - started < 2


@override_settings(MATCHPAL_SHOP_ALLOW_PRIVATE_ADDRESSES=True)
def test_an_answer_that_trickles_in_is_cut_off_at_the_deadline(
    local_shop: Store, local_server: LocalServer, monkeypatch
) -> None:
    monkeypatch.setattr(outbound, "TOTAL_TIMEOUT_SECONDS", 0.5)

    def trickle(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.end_headers()
        for _ in range(50):  # a byte every 0.1 s: each read is quick, the whole is not
            handler.wfile.write(b" ")
            handler.wfile.flush()
            time.sleep(0.1)

    local_server.answer = trickle
    started = time.monotonic()

    with pytest.raises(client.ShopAPIError) as failure:
        client.fetch_order(local_shop, 727)

    assert str(failure.value) == (
        "The shop's API did not answer orders/727: the answer took longer than 0.5 s and was "
        "cut off"
    )
    assert time.monotonic() - started < 2


@pytest.fixture
def tls_server(local_server: LocalServer, tmp_path: Path) -> Iterator[tuple[int, Path, list]]:
    """A TLS server on loopback with a certificate for shop.pinned.test only; yields its port,
    the certificate (to trust) and the server names clients asked for (SNI)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    name = "shop.pinned.test"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}"),
            *("-addext", f"subjectAltName=DNS:{name}"),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    names: list = []
    context.sni_callback = lambda _sock, name, _context: names.append(name)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            local_server.requests.append({"path": self.path, **dict(self.headers.items())})
            local_server.answer(self)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1], cert, names
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@override_settings(MATCHPAL_SHOP_ALLOW_PRIVATE_ADDRESSES=True)
def test_https_to_the_pinned_address_sends_the_name_and_verifies_the_certificate_for_it(
    local_shop: Store, local_server: LocalServer, tls_server, monkeypatch
) -> None:
    port, cert, names = tls_server
    real_lookup, real_context = socket.getaddrinfo, ssl.create_default_context

    def lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        pinned = host in ("shop.pinned.test", "other.pinned.test")
        return real_lookup("127.0.0.1" if pinned else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    monkeypatch.setattr(ssl, "create_default_context", lambda: real_context(cafile=str(cert)))
    local_server.answer = json_answer(woo.php_json(woo.order(status="completed")))
    local_shop.store_url = f"https://shop.pinned.test:{port}/"

    assert client.fetch_order(local_shop, 727)["id"] == 727
    assert names == ["shop.pinned.test"]
    assert local_server.requests[-1]["Host"] == f"shop.pinned.test:{port}"

    # The same address under another name: the certificate is checked against the name.
    local_shop.store_url = f"https://other.pinned.test:{port}/"
    with pytest.raises(client.ShopAPIError) as failure:
        client.fetch_order(local_shop, 727)
    assert str(failure.value) == (
        "The shop's API did not answer orders/727: the secure connection failed "
        "(CERTIFICATE_VERIFY_FAILED)"
    )
    assert len(local_server.requests) == 1


# --- What an admin sees of an unexpected answer --------------------------------------------


SECRET = b"internal-only-7f3a"


@override_settings(MATCHPAL_SHOP_ALLOW_PRIVATE_ADDRESSES=True)
def test_an_unexpected_answer_is_summarised_never_shown(
    local_shop: Store, local_server: LocalServer, admin_client_a: Client
) -> None:
    # Something that is not the shop's API answers: an error page, then JSON of its own.
    page = b"<html><body>" + SECRET + b"</body></html>"

    def html(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(500, "Secret " + SECRET.decode())
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(len(page)))
        handler.end_headers()
        handler.wfile.write(page)

    local_server.answer = html
    with pytest.raises(client.ShopAPIError) as failure:
        client.fetch_order(local_shop, 727)
    assert str(failure.value) == (
        f"The shop's API answered orders/727 with 500 Internal Server Error (text/html, "
        f"{len(page)} bytes)"
    )

    body = b'{"config": {"password": "' + SECRET + b'"}}'
    local_server.answer = json_answer(body)
    assert services.sync_store(store=local_shop) == 0

    error = OrderError.objects.get()
    assert (error.subject, error.payload["code"]) == ("sync:not_a_list", "not_a_list")
    assert error.message == (
        "The catch-up stopped: The shop's API answered orders with something other than a "
        f"list of orders: 200 OK (application/json, {len(body)} bytes). Check the store's REST "
        "API keys (they need read access to orders) and the shop's security plugins, then "
        "resolve."
    )
    for url in (f"{SHOP}errors/", f"{SHOP}errors/{error.public_id}/"):
        content = admin_client_a.get(url).content
        assert SECRET not in content, url

    # A list whose entries are not orders: only an error object's code and message show.
    local_server.answer = json_answer(b'[{"password": "' + SECRET + b'"}]')
    services.sync_store(store=local_shop)
    entry = OrderError.objects.get(subject="sync:no-id")
    assert (entry.payload, entry.message) == (
        {},
        "The catch-up got an entry without an order id.",
    )
    assert SECRET not in admin_client_a.get(f"{SHOP}errors/{entry.public_id}/").content
