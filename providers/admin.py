from django.contrib import admin

from providers.models import Provider


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "email", "organization", "status"]
    list_filter = ["status", "organization"]
    search_fields = ["name", "email"]
    readonly_fields = ["public_id", "created_at", "updated_at"]
    list_select_related = ["organization"]
