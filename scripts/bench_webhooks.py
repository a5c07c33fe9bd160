"""Benchmark the WooCommerce webhook against a running Matchpal, on loopback only.

Posts N signed deliveries (distinct order ids, as WooCommerce builds them) from a few client
threads, one connection per delivery as WooCommerce makes them, and measures:

- the acknowledgement latency of the webhook (p50/p95/p99),
- the latency of a trivial view, /healthz, over as many requests (p50/p95/p99), as a baseline
  measured in the same run (before the deliveries, while the worker is idle),
- the time from each acknowledgement to its grant (the grant's `created_at`, read through the
  Django ORM with the server's own settings), p50/p95/p99, and the drain time (first
  acknowledgement to last grant).

The server must be the demo organization's (`manage.py seed_demo`: the store `northside-demo`
and product 101), with a Celery worker draining the deliveries. Run this script with the same
environment as the server (DATABASE_URL, REDIS_URL, SECRET_KEY…); docs/woocommerce.md
("Benchmark") gives the whole setup on PostgreSQL and Redis.

Not a test: nothing here asserts; it prints a markdown table. It exits non-zero when a
delivery was not answered 200 or not granted before --drain-timeout.
"""

import argparse
import http.client
import ipaddress
import json
import os
import platform
import secrets
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.benchkit import cpu_model, percentile  # noqa: E402

DEFAULT_TOKEN = "northside-demo"
DEFAULT_PRODUCT = 101


def php_json(payload: Any) -> bytes:
    """PHP's json_encode: no whitespace, `/` escaped as `\\/`, non-ASCII as `\\uXXXX`."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=True)
    return text.replace("/", "\\/").encode()


def order(order_id: int, product_id: int, email: str) -> dict[str, Any]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return {
        "id": order_id,
        "parent_id": 0,
        "number": str(order_id),
        "status": "processing",
        "currency": "USD",
        "customer_id": 0,
        "total": "450.00",
        "date_created_gmt": now,
        "date_modified_gmt": now,
        "date_paid_gmt": now,
        "date_completed_gmt": None,
        "billing": {"first_name": "Bench", "last_name": "Customer", "email": email, "phone": ""},
        "line_items": [
            {
                "id": order_id * 10 + 1,
                "name": "Tutoring – 10 hours",
                "product_id": product_id,
                "variation_id": 0,
                "quantity": 1,
                "sku": None,
                "subtotal": "450.00",
                "total": "450.00",
                "price": 450,
                "meta_data": [],
            }
        ],
        "refunds": [],
        "meta_data": [],
    }


def ensure_loopback(host: str) -> None:
    addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    if not addresses or not all(
        ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses
    ):
        sys.exit(f"Refusing to benchmark {host}: loopback addresses only.")


class Client:
    """One HTTP/1.1 connection per request, as WooCommerce's deliveries are made."""

    def __init__(self, base_url: str, timeout: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http":
            sys.exit("Only http:// on loopback is supported.")
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, float, float]:
        """(status, seconds, wall-clock time of the answer)."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        start = time.perf_counter()
        try:
            connection.request(method, self.prefix + path, body=body, headers=headers or {})
            response = connection.getresponse()
            response.read()
            status = response.status
        except OSError:
            status = 0
        finally:
            connection.close()
        return status, time.perf_counter() - start, time.time()


def run_phase(
    count: int, threads: int, deadline: float, one: Any, rate: float = 0
) -> list[tuple[int, int, float, float]]:
    """Call one(i) for i in range(count) from `threads` threads until done or the deadline;
    with a rate, start call i no sooner than i / rate seconds after the first."""
    results: list[tuple[int, int, float, float]] = []
    lock = threading.Lock()
    counter = iter(range(count))
    start = time.monotonic()

    def worker() -> None:
        while time.monotonic() < deadline:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            if rate:
                time.sleep(max(0.0, start + i / rate - time.monotonic()))
            status, seconds, at = one(i)
            with lock:
                results.append((i, status, seconds, at))

    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(worker) for _ in range(threads)]:
            future.result()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="server base URL")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the store's delivery token")
    parser.add_argument(
        "--secret", default=None, help="the store's webhook secret (default: the demo store's)"
    )
    parser.add_argument(
        "--product", type=int, default=DEFAULT_PRODUCT, help="a shop product id mapped to a package"
    )
    parser.add_argument("-n", "--count", type=int, default=2000, help="deliveries to post")
    parser.add_argument("--threads", type=int, default=4, help="concurrent client threads")
    parser.add_argument(
        "--rate",
        type=float,
        default=0,
        help="post at most this many deliveries a second (default: as fast as the threads "
        "go); below the worker's pace no backlog forms, so acknowledgement → grant is the "
        "processing time rather than the time spent queued",
    )
    parser.add_argument(
        "--max-seconds", type=float, default=300, help="stop posting after this long (per phase)"
    )
    parser.add_argument(
        "--drain-timeout", type=float, default=900, help="stop waiting for grants after this long"
    )
    parser.add_argument(
        "--email",
        default="bench.customer@example.net",
        help="billing email of every order (one student gets every grant)",
    )
    parser.add_argument("--label", default="", help="a name for the setup, shown in the output")
    args = parser.parse_args()
    if not 1 <= args.count <= 100_000 or not 1 <= args.threads <= 32 or args.rate < 0:
        sys.exit("--count must be 1..100000, --threads 1..32 and --rate positive.")

    client = Client(args.url, timeout=30)
    ensure_loopback(client.host)

    # The server's settings, to read the grants it makes (DEBUG on unless set, as `make run`).
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "matchpal.settings")
    os.environ.setdefault("DEBUG", "true")
    import django

    django.setup()
    from django.db import close_old_connections

    from demo.seed import DEMO_STORE_SECRET
    from grants.models import Grant
    from integrations.woocommerce.signature import sign

    secret = args.secret or DEMO_STORE_SECRET
    hook = f"/hooks/woocommerce/{args.token}/"
    first_id = int(time.time() * 1000) % 10**12  # distinct from any earlier run's orders
    bodies = [php_json(order(first_id + i, args.product, args.email)) for i in range(args.count)]

    def deliver(i: int) -> tuple[int, float, float]:
        body = bodies[i]
        return client.request(
            "POST",
            hook,
            body,
            {
                "Content-Type": "application/json",
                "User-Agent": "WooCommerce/10.5.0 Hookshot (WordPress/6.9)",
                "X-WC-Webhook-Source": "https://shop.example.org/",
                "X-WC-Webhook-Topic": "order.created",
                "X-WC-Webhook-Resource": "order",
                "X-WC-Webhook-Event": "created",
                "X-WC-Webhook-ID": "1",
                "X-WC-Webhook-Delivery-ID": secrets.token_hex(16),
                "X-WC-Webhook-Signature": sign(body, secret),
            },
        )

    load_before = os.getloadavg()[0]  # the machine's other work shows in the figures
    status, _, _ = client.request("GET", "/healthz")
    if status != 200:
        sys.exit(f"{args.url}/healthz answered {status}: is the server running?")

    # 1. The baseline: a trivial view, idle server.
    health = run_phase(
        args.count,
        args.threads,
        time.monotonic() + args.max_seconds,
        lambda _i: client.request("GET", "/healthz"),
    )
    # 2. The deliveries (the worker starts draining them meanwhile).
    started = time.monotonic()
    posted = run_phase(args.count, args.threads, started + args.max_seconds, deliver, args.rate)
    post_seconds = time.monotonic() - started
    acked = {first_id + i: at for i, status, _, at in posted if status == 200}

    # 3. Wait for every acknowledged delivery's grant.
    wanted = {f"Order #{order_id}": order_id for order_id in acked}
    granted: dict[int, datetime] = {}
    drain_deadline = time.monotonic() + args.drain_timeout
    while len(granted) < len(wanted) and time.monotonic() < drain_deadline:
        missing = [ref for ref, oid in wanted.items() if oid not in granted]
        for start in range(0, len(missing), 500):
            rows = Grant.objects.filter(reference__in=missing[start : start + 500]).values_list(
                "reference", "created_at"
            )
            for reference, created_at in rows:
                granted[wanted[reference]] = created_at
        close_old_connections()
        if len(granted) < len(wanted):
            time.sleep(0.5)

    to_grant = [granted[oid].timestamp() - acked[oid] for oid in granted]
    first_ack = min(acked.values(), default=float("nan"))
    last_grant = max((g.timestamp() for g in granted.values()), default=float("nan"))
    ack_ms = [s * 1000 for _, status, s, _ in posted if status == 200]
    health_ms = [s * 1000 for _, status, s, _ in health if status == 200]
    failures = sum(1 for _, status, _, _ in posted if status != 200)

    label = f" — {args.label}" if args.label else ""
    print(f"\n### Webhook benchmark{label}\n")
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {cpu_model()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {load_before:.1f} before and "
        f"{os.getloadavg()[0]:.1f} after; `{' '.join(['python', *sys.argv])}`.\n"
    )
    print(
        f"{len(posted)} deliveries posted ({failures} not answered 200) from {args.threads} "
        f"threads in {post_seconds:.1f} s ({len(posted) / post_seconds:.0f}/s); "
        f"{len(granted)} of {len(acked)} granted, the last "
        f"{last_grant - first_ack:.1f} s after the first acknowledgement "
        f"({len(granted) / max(last_grant - first_ack, 1e-9):.0f} grants/s).\n"
    )
    print("| measure | n | p50 | p95 | p99 |")
    print("|---|---:|---:|---:|---:|")
    print(
        f"| webhook acknowledgement | {len(ack_ms)} | {percentile(ack_ms, 50):.1f} ms | "
        f"{percentile(ack_ms, 95):.1f} ms | {percentile(ack_ms, 99):.1f} ms |"
    )
    print(
        f"| /healthz (baseline, same run) | {len(health_ms)} | "
        f"{percentile(health_ms, 50):.1f} ms | {percentile(health_ms, 95):.1f} ms | "
        f"{percentile(health_ms, 99):.1f} ms |"
    )
    print(
        f"| acknowledgement → grant | {len(to_grant)} | {percentile(to_grant, 50):.2f} s | "
        f"{percentile(to_grant, 95):.2f} s | {percentile(to_grant, 99):.2f} s |"
    )
    print(
        f"\nAcknowledgement p95 ÷ /healthz p95 (same run): "
        f"{percentile(ack_ms, 95) / percentile(health_ms, 95):.1f}×."
    )
    return 0 if failures == 0 and len(granted) == len(acked) else 1


if __name__ == "__main__":
    sys.exit(main())
