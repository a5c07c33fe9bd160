from django.urls import path

from integrations.woocommerce import views_webhook
from matchpal import converters as converters  # registers <token:…>

# Served with and without the trailing slash: WooCommerce does not follow redirects (it counts
# a 301 as delivered and drops the event), so APPEND_SLASH must never get a chance.
urlpatterns = [
    path("<token:token>/", views_webhook.webhook, name="webhook"),
    path("<token:token>", views_webhook.webhook, name="webhook_no_slash"),
]
