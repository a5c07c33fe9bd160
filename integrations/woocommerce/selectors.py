import uuid

from django.db.models import QuerySet
from django.http import Http404

from integrations.woocommerce.models import Delivery, OrderError, Store
from matchpal.models import Organization


def store_list(*, organization: Organization) -> QuerySet[Store]:
    return Store.objects.filter(organization=organization)


def store_get(*, organization: Organization, public_id: uuid.UUID) -> Store:
    store = store_list(organization=organization).filter(public_id=public_id).first()
    if store is None:
        raise Http404("No such store.")
    return store


def error_list(*, organization: Organization) -> QuerySet[OrderError]:
    return OrderError.objects.filter(organization=organization).select_related(
        "store", "order", "resolved_by"
    )


def open_errors(*, organization: Organization) -> QuerySet[OrderError]:
    """The order errors that wait for an admin."""
    return OrderError.objects.filter(organization=organization, resolved_at__isnull=True)


def open_error_count(*, organization: Organization) -> int:
    """How many order errors wait for an admin."""
    return open_errors(organization=organization).count()


def error_get(*, organization: Organization, public_id: uuid.UUID) -> OrderError:
    error = (
        error_list(organization=organization)
        .filter(public_id=public_id)
        .select_related("store__organization", "order__student")
        .first()
    )
    if error is None:
        raise Http404("No such order error.")
    return error


def delivery_list(*, organization: Organization) -> QuerySet[Delivery]:
    return Delivery.objects.filter(organization=organization).select_related("store").defer("body")


def delivery_get(*, organization: Organization, public_id: uuid.UUID) -> Delivery:
    delivery = (
        Delivery.objects.filter(organization=organization, public_id=public_id)
        .select_related("store")
        .first()
    )
    if delivery is None:
        raise Http404("No such delivery.")
    return delivery
