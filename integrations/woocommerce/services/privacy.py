"""A student's erasure reaches the shop orders linked to them (privacy.services.student_erase)."""

from django.db import transaction

from integrations.woocommerce.models import Order
from matchpal.models import Organization
from students.models import Student

# The order snapshot's keys that describe the customer; the lines, totals and refunds stay (a
# refund arriving later is still applied to the right grant).
PERSONAL_KEYS = (
    "billing",
    "shipping",
    "customer_note",
    "customer_ip_address",
    "customer_user_agent",
)


def orders_anonymise(*, organization: Organization, student: Student) -> int:
    """Blank the billing name and email of the student's orders and drop the customer's
    details from their snapshots. Returns how many orders were changed."""
    with transaction.atomic():
        orders = list(
            Order.objects.select_for_update().filter(organization=organization, student=student)
        )
        for order in orders:
            order.billing_email = ""
            order.billing_name = ""
            order.payload = {k: v for k, v in order.payload.items() if k not in PERSONAL_KEYS}
            order.save(update_fields=["billing_email", "billing_name", "payload", "updated_at"])
    return len(orders)
