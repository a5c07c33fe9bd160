"""Outbound HTTP to a URL an organization typed in (a shop's REST API): public hosts only, with
bounded time and size.

A URL an admin typed must never make the server fetch something inside its own network (the
database, Redis, a cloud metadata service, an intranet page): that is server-side request
forgery. So every request made here

- takes only an http(s) URL with a host, no user info and no fragment;
- resolves the host once and refuses it when any of its addresses is not public (loopback,
  private, link-local, multicast, reserved, unspecified, and IPv6 forms that carry such an
  IPv4 address), then connects to the very address it checked: letting the HTTP library look
  the name up again would let a DNS answer that changed in between (DNS rebinding) choose
  where the request goes;
- follows no redirect: a 3xx is handed to the caller as an answer like any other;
- bounds the connection, each read and the whole exchange, and reads at most `max_bytes`,
  streamed, so a slow or endless answer cannot hold a worker or fill its memory.

The same checks run when a URL is saved (`check_url_to_save`), so an admin hears about a bad
address at once, and again at every request, because what a name resolves to can change.
"""

import contextlib
import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from typing import Any
from urllib.parse import urlsplit

MAX_ANSWER_BYTES = 5 * 1024 * 1024
CONNECT_TIMEOUT_SECONDS = 10.0
READ_TIMEOUT_SECONDS = 30.0
TOTAL_TIMEOUT_SECONDS = 60.0

URL_SCHEME = "Use an address starting with http:// or https://."
URL_HOST = "Give the host name of the address."
URL_PORT = "The port must be a number from 1 to 65535."
URL_USERINFO = "Leave the user name and password out of the address."
URL_FRAGMENT = "Remove the “#” and what follows it: give the shop's home page."
URL_QUERY = "Remove the “?” and what follows it: give the shop's home page."
URL_CHARACTERS = "The address contains spaces or control characters."

# What kind of address a refused one is, as the messages say it.
UNSPECIFIED = "an unspecified address"
LOOPBACK = "a loopback address"
PRIVATE = "a private address"
LINK_LOCAL = "a link-local address"
MULTICAST = "a multicast address"
RESERVED = "a reserved address"

# A self-hosted server may allow its own network (its shop on the same machine or LAN), never
# link-local (169.254.169.254 is the cloud metadata service), multicast, reserved or
# unspecified addresses.
ALLOWED_AS_PRIVATE = frozenset({LOOPBACK, PRIVATE})

_PRIVATE_NETWORKS = tuple(
    ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",  # carrier-grade NAT: inside someone's network, not the internet
        "fc00::/7",  # unique local
        "fec0::/10",  # the deprecated site-local
    )
)
_THIS_NETWORK = ip_network("0.0.0.0/8")  # Linux connects 0.x.x.x to the machine itself
_NAT64 = ip_network("64:ff9b::/96")

IPAddress = IPv4Address | IPv6Address


class OutboundError(Exception):
    """The request was not made, or its answer not read; the message is fit to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AddressRefused(OutboundError):
    """The URL, or an address its host resolves to, is not one we connect to."""


class NameNotFound(OutboundError):
    """The host name does not resolve (now)."""


class NoAnswer(OutboundError):
    """The connection failed, timed out, or the answer was malformed."""


class AnswerTooLarge(OutboundError):
    """The answer was longer than allowed; it was cut off and nothing of it is used."""


def refused_message(host: str, address: IPAddress, kind: str) -> str:
    where = f"{address} is" if host == str(address) else f"{host} resolves to {address},"
    return f"{where} {kind}: only addresses on the public internet are allowed."


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 one reaches (IPv4-mapped, 6to4, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_kind(address: IPAddress) -> str | None:
    """What kind of non-public address this is; None for a public one."""
    if isinstance(address, IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return address_kind(embedded)
    if address.is_unspecified or address in _THIS_NETWORK:
        return UNSPECIFIED
    if address.is_loopback:
        return LOOPBACK
    if address.is_link_local:
        return LINK_LOCAL
    if address.is_multicast:
        return MULTICAST
    if any(address in network for network in _PRIVATE_NETWORKS):
        return PRIVATE
    if address.is_reserved or not address.is_global:
        return RESERVED  # documentation, benchmarking, 240/4, broadcast and the like
    return None


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as sent in the Host header and TLS SNI (IDNA-encoded, IPv6 without brackets)
    port: int
    path: str  # path and query


def parse_url(url: str, *, allow_query: bool = True) -> Target:
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise AddressRefused(URL_CHARACTERS)
    # Checked on the raw text: a "#" would cut off whatever a caller appends to the URL.
    if "#" in url:
        raise AddressRefused(URL_FRAGMENT)
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise AddressRefused(URL_SCHEME)
    if "@" in parts.netloc or "\\" in parts.netloc:
        raise AddressRefused(URL_USERINFO)
    if not allow_query and "?" in url:
        raise AddressRefused(URL_QUERY)
    if not parts.hostname:
        raise AddressRefused(URL_HOST)
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise AddressRefused(URL_HOST) from None
    try:
        port = parts.port  # ValueError when out of range or not a number
    except ValueError:
        raise AddressRefused(URL_PORT) from None
    if port == 0:
        raise AddressRefused(URL_PORT)
    port = port or (443 if parts.scheme.lower() == "https" else 80)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme=parts.scheme.lower(), host=host, port=port, path=path)


def resolve(host: str, port: int, *, allow_private: bool) -> list[tuple[int, Any]]:
    """Every address `host` resolves to, as (family, socket address); refused when any of them
    is not public (an attacker's name may list a public address beside an internal one)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise NameNotFound(f"{host} could not be resolved") from None
    addresses: list[tuple[int, Any]] = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ip_address(str(sockaddr[0]).split("%", 1)[0])  # an IPv6 scope id aside
        kind = address_kind(address)
        if kind is not None and not (allow_private and kind in ALLOWED_AS_PRIVATE):
            raise AddressRefused(refused_message(host, address, kind))
        addresses.append((family, sockaddr))
    if not addresses:
        raise NameNotFound(f"{host} could not be resolved")
    return addresses


def check_url_to_save(url: str, *, allow_private: bool) -> None:
    """Refuse, with a message for the form, a URL that requests would refuse. A name that
    does not resolve yet is let through (a shop not live yet, a resolver down for a moment):
    every request checks again and refuses it then if it points inside."""
    target = parse_url(url, allow_query=False)
    with contextlib.suppress(NameNotFound):
        resolve(target.host, target.port, allow_private=allow_private)


def _connect_to(
    addresses: list[tuple[int, Any]], _address: Any, timeout: Any, _source: Any = None
) -> socket.socket:
    """Stands in for socket.create_connection: connects to the addresses checked, in order,
    never to what the host name resolves to now."""
    error: OSError | None = None
    for family, sockaddr in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        return sock
    raise error or OSError("no address to connect to")


# http.client's connect() obtains its socket from `self._create_connection((host, port), …)`,
# which would resolve the name again. Pointing it at `_connect_to` pins the connection to the
# checked address while everything else stays the library's own: the Host header comes from
# the name, and for HTTPS the socket is wrapped with `server_hostname=` the name, so SNI is
# sent and the certificate verified against the name, not the address. (urllib3/requests
# offer no stable hook for this; the standard library needs one attribute.)
class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(
        self, host: str, port: int, *, addresses: list[tuple[int, Any]], timeout: float
    ) -> None:
        super().__init__(host, port, timeout=timeout)
        self._create_connection = partial(_connect_to, addresses)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(
        self, host: str, port: int, *, addresses: list[tuple[int, Any]], timeout: float
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._create_connection = partial(_connect_to, addresses)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def content_type(self) -> str:
        media_type = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        # A header the far end chose: shown only when it reads like a media type.
        if (
            media_type
            and len(media_type) <= 100
            and all(c.isalnum() or c in "/.+-_" for c in media_type)
        ):
            return media_type
        return "no content type"

    def summary(self) -> str:
        """What a person may see of an answer nobody expected: never its body."""
        try:
            status = f"{self.status} {HTTPStatus(self.status).phrase}"
        except ValueError:
            status = str(self.status)
        return f"{status} ({self.content_type}, {len(self.body):,} bytes)"


def get(
    url: str,
    *,
    headers: dict[str, str],
    allow_private: bool,
    max_bytes: int | None = None,
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
    total_timeout: float | None = None,
) -> Answer:
    """GET `url` from a public address; any status comes back as an Answer (redirects too).
    The limits default to the module's, read at each call."""
    max_bytes = max_bytes or MAX_ANSWER_BYTES
    connect_timeout = connect_timeout or CONNECT_TIMEOUT_SECONDS
    read_timeout = read_timeout or READ_TIMEOUT_SECONDS
    total_timeout = total_timeout or TOTAL_TIMEOUT_SECONDS
    target = parse_url(url)
    addresses = resolve(target.host, target.port, allow_private=allow_private)
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(
        target.host, target.port, addresses=addresses, timeout=connect_timeout
    )
    # Per-read timeouts alone let an answer trickle in a byte at a time for ever: at the
    # deadline the socket is shut down, which ends any read in progress.
    expired = threading.Event()
    opened: list[socket.socket] = []  # the connection forgets its socket once the answer
    # is read to the end (HTTP/1.0, "Connection: close"), the response still reads from it

    def expire() -> None:
        expired.set()
        for sock in opened:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    deadline = threading.Timer(total_timeout, expire)
    deadline.daemon = True
    started = time.monotonic()
    deadline.start()
    connected = False
    try:
        connection.connect()
        connected = True
        opened.append(connection.sock)
        connection.sock.settimeout(read_timeout)  # the connection and TLS had connect_timeout
        if expired.is_set():
            raise NoAnswer(_too_slow(total_timeout))
        connection.request("GET", target.path, headers=headers)
        response = connection.getresponse()
        declared = response.getheader("Content-Length") or ""
        if declared.isdigit() and int(declared) > max_bytes:
            raise AnswerTooLarge(_too_large(max_bytes))
        chunks, size = [], 0
        while chunk := response.read1(64 * 1024):  # one system call each: the timeout holds
            size += len(chunk)
            if size > max_bytes:
                raise AnswerTooLarge(_too_large(max_bytes))
            chunks.append(chunk)
        if expired.is_set():
            raise NoAnswer(_too_slow(total_timeout))
        return Answer(status=response.status, headers=response.headers, body=b"".join(chunks))
    except OutboundError:
        raise
    except (OSError, http.client.HTTPException) as exc:
        if expired.is_set() or time.monotonic() - started >= total_timeout:
            raise NoAnswer(_too_slow(total_timeout)) from exc
        raise NoAnswer(_failure(exc, connected, connect_timeout, read_timeout)) from exc
    finally:
        deadline.cancel()
        connection.close()


def _too_large(max_bytes: int) -> str:
    return f"the answer was larger than {max_bytes / (1024 * 1024):g} MB and was cut off"


def _too_slow(total_timeout: float) -> str:
    return f"the answer took longer than {total_timeout:g} s and was cut off"


def _failure(exc: Exception, connected: bool, connect_timeout: float, read_timeout: float) -> str:
    if isinstance(exc, TimeoutError):
        if connected:
            return f"no answer within {read_timeout:g} s"
        return f"no connection within {connect_timeout:g} s"
    if isinstance(exc, ssl.SSLError):
        return f"the secure connection failed ({exc.reason or type(exc).__name__})"
    if isinstance(exc, http.client.HTTPException):
        # Never the exception's text: BadStatusLine and friends carry what the far end sent.
        return f"a malformed answer ({type(exc).__name__})"
    reason = exc.strerror if isinstance(exc, OSError) else None
    return f"the connection failed ({reason or type(exc).__name__})"
