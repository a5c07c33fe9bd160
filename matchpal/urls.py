from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

from matchpal import converters as converters  # registers <token:…>
from matchpal import views

tenant_patterns: list[URLPattern | URLResolver] = [
    path("", include("reports.urls")),
    path("reports/", include("reports.pages_urls")),
    path("settings/", views.organization_settings, name="org_settings"),
    path("members/", views.member_list, name="members"),
    path("members/invite/", views.member_invite, name="member_invite"),
    path("members/<uuid:public_id>/role/", views.member_change_role, name="member_change_role"),
    path("members/<uuid:public_id>/remove/", views.member_remove, name="member_remove"),
    path("invitations/<uuid:public_id>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("service-types/", views.service_type_list, name="service_type_list"),
    path("service-types/new/", views.service_type_create, name="service_type_create"),
    path("service-types/<uuid:public_id>/edit/", views.service_type_edit, name="service_type_edit"),
    path(
        "service-types/<uuid:public_id>/active/",
        views.service_type_set_active,
        name="service_type_set_active",
    ),
    path("students/", include("students.urls")),
    path("students/", include("privacy.urls")),
    path("providers/", include("providers.urls")),
    path("", include("grants.urls")),
    path("relationships/", include("relationships.urls")),
    path("", include("sessions_app.urls")),
    path("shop/", include("integrations.woocommerce.urls")),
    path("", include("notifications.urls")),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("orgs/", views.organization_list, name="organization_list"),
    path("orgs/new/", views.organization_create, name="organization_create"),
    path("invitations/<token:token>/", views.invitation_accept, name="invitation_accept"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("o/<slug:org_slug>/", include(tenant_patterns)),
    path("calendar/", include("sessions_app.urls_feed", namespace="calendar")),
    path(
        "hooks/woocommerce/",
        include(
            ("integrations.woocommerce.urls_webhook", "woocommerce_hooks"),
            namespace="woocommerce_hooks",
        ),
    ),
]
