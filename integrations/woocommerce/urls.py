from django.urls import path

from integrations.woocommerce import views

app_name = "woocommerce"

urlpatterns = [
    path("", views.store_list, name="store_list"),
    path("new/", views.store_create, name="store_create"),
    path("errors/", views.error_list, name="error_list"),
    path("errors/<uuid:public_id>/", views.error_detail, name="error_detail"),
    path("deliveries/", views.delivery_list, name="delivery_list"),
    path("deliveries/<uuid:public_id>/", views.delivery_detail, name="delivery_detail"),
    path("<uuid:public_id>/", views.store_detail, name="store_detail"),
    path("<uuid:public_id>/edit/", views.store_edit, name="store_edit"),
    path("<uuid:public_id>/sync/", views.store_sync, name="store_sync"),
]
