"""The delivery endpoint: verify, store, enqueue, answer. Nothing else happens in the request,
so WooCommerce (which never retries and disables a webhook after failures) gets its 200 fast."""

import logging
from functools import partial

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations.woocommerce import bodies, signature
from integrations.woocommerce.models import Delivery, DeliveryStatus, Store
from integrations.woocommerce.tasks import process_delivery
from matchpal.throttle import Limit, refused_plain

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # orders are a few KB; anything near this is not an order
# A request the store's secret did not sign is kept for the admin to see that it came, with the
# start of its body only: anyone who knows the URL could otherwise fill the table.
REJECTED_EXCERPT_BYTES = 2000
KEPT_HEADERS = (
    "X-WC-Webhook-Source",
    "X-WC-Webhook-Topic",
    "X-WC-Webhook-Resource",
    "X-WC-Webhook-Event",
    "X-WC-Webhook-ID",
    "X-WC-Webhook-Delivery-ID",
    "X-WC-Webhook-Signature",
    "User-Agent",
    "Content-Type",
    "Content-Length",
)


def _headers(request: HttpRequest) -> dict[str, str]:
    # Storable whatever arrives: a NUL would make the insert fail (bodies.clean_text).
    return {
        name: bodies.clean_text(request.headers[name])
        for name in KEPT_HEADERS
        if name in request.headers
    }


def _enqueue(delivery_id: int) -> None:
    try:
        process_delivery.delay(delivery_id)
    except Exception:
        # The delivery is stored: an error answer now would lose nothing but would count
        # towards WooCommerce disabling the webhook. The sweeper enqueues it again within
        # minutes (tasks.requeue_stuck_deliveries).
        log.exception("Enqueueing WooCommerce delivery %s failed; the sweeper will.", delivery_id)


def rejected_limit() -> Limit:
    """Unsigned requests (pings, wrong or missing signatures) per delivery URL and hour. Signed
    deliveries are never limited: a busy shop's orders always get through."""
    from django.conf import settings

    return Limit(
        name="webhook-rejected",
        count=settings.MATCHPAL_WEBHOOK_REJECTED_LIMIT,
        seconds=3600,
        message="Too many unsigned or rejected requests to this URL; try again in an hour.",
    )


def _is_ping(request: HttpRequest, body: bytes) -> bool:
    # Saving a webhook as active posts `webhook_id=<N>` form-encoded, unsigned, no X-WC headers.
    return (
        "X-WC-Webhook-Signature" not in request.headers
        and request.content_type == "application/x-www-form-urlencoded"
        and body.startswith(b"webhook_id=")
    )


@csrf_exempt  # a signed server-to-server POST; this view alone is exempt
@require_POST
def webhook(request: HttpRequest, token: str) -> HttpResponse:
    store = (
        Store.objects.filter(delivery_token=token, is_active=True)
        .only("pk", "organization_id", "webhook_secret")
        .first()
    )
    if store is None:
        return HttpResponse("Unknown webhook URL.", status=404, content_type="text/plain")
    limit = rejected_limit()
    if limit.exhausted(token) and "X-WC-Webhook-Signature" not in request.headers:
        return refused_plain(limit)
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
        return HttpResponse("Body too large.", status=413, content_type="text/plain")
    body = request.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return HttpResponse("Body too large.", status=413, content_type="text/plain")
    headers = _headers(request)
    if _is_ping(request, body):
        if not limit.hit(token):
            return refused_plain(limit)
        Delivery.objects.create(
            organization_id=store.organization_id,
            store=store,
            topic="ping",
            headers=headers,
            body=body,
            status=DeliveryStatus.PING,
            outcome="Activation ping answered.",
        )
        return HttpResponse("ok", content_type="text/plain")
    valid = signature.is_valid(
        body, store.webhook_secret, request.headers.get("X-WC-Webhook-Signature")
    )
    if not valid and not limit.hit(token):
        return refused_plain(limit)
    delivery = Delivery(
        organization_id=store.organization_id,
        store=store,
        headers=headers,
        body=body if valid else body[:REJECTED_EXCERPT_BYTES],
        topic=headers.get("X-WC-Webhook-Topic", "")[:100],
        delivery_id=headers.get("X-WC-Webhook-Delivery-ID", "")[:64],
        webhook_id=headers.get("X-WC-Webhook-ID", "")[:32],
        signature_valid=valid,
        status=DeliveryStatus.RECEIVED if valid else DeliveryStatus.REJECTED,
        outcome="" if valid else _rejected_outcome(len(body)),
    )
    with transaction.atomic():
        delivery.save()
        if valid:
            transaction.on_commit(partial(_enqueue, delivery.pk))
    if not valid:
        return HttpResponse("Invalid signature.", status=401, content_type="text/plain")
    return HttpResponse("ok", content_type="text/plain")


def _rejected_outcome(size: int) -> str:
    outcome = "Missing or wrong signature; nothing was processed."
    if size > REJECTED_EXCERPT_BYTES:
        outcome += f" Only the first {REJECTED_EXCERPT_BYTES:,} of its {size:,} bytes were kept."
    return outcome
