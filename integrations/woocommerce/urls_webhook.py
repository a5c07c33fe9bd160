from django.urls import path

from integrations.woocommerce import views_webhook

# Served with and without the trailing slash: WooCommerce does not follow redirects (it counts
# a 301 as delivered and drops the event), so APPEND_SLASH must never get a chance.
urlpatterns = [
    path("<str:token>/", views_webhook.webhook, name="webhook"),
    path("<str:token>", views_webhook.webhook, name="webhook_no_slash"),
]
