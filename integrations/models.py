# One folder per integration (integrations/woocommerce/); Django finds the models here.
from integrations.woocommerce.models import (  # noqa: F401
    Delivery,
    Order,
    OrderError,
    OrderLineGrant,
    Store,
)
