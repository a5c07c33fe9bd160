"""The organization settings page: the policy a new organization starts with, and its limits."""

import pytest
from django.core.exceptions import ValidationError

from matchpal import services
from matchpal.forms import OrganizationSettingsForm
from matchpal.models import Organization
from matchpal.services import (
    CANCELLATION_DAYS_OUT_OF_RANGE,
    CANCELLATIONS_OUT_OF_RANGE,
    DISPUTE_DAYS_OUT_OF_RANGE,
    GAP_DAYS_OUT_OF_RANGE,
    GRACE_TOO_LONG,
    LATE_WINDOW_TOO_LONG,
    LOW_BALANCE_TOO_HIGH,
    MAX_TOO_LONG,
    MIN_TOO_SMALL,
    NOTES_TOO_LONG,
    RESPONSE_DAYS_OUT_OF_RANGE,
    SESSIONS_PER_DAY_OUT_OF_RANGE,
    SHORT_SHARE_OUT_OF_RANGE,
    STEP_TOO_SMALL,
    max_below_min,
    not_a_multiple,
    revision_out_of_range,
    weekly_out_of_range,
)
from tests.factories import UserFactory
from tests.support import Tenant, client_for, messages_of


def settings_data(org: Organization, **changes: object) -> dict[str, object]:
    """The settings form as the browser would post it back, with `changes` applied."""
    data: dict[str, object] = {}
    for name, value in OrganizationSettingsForm(instance=org).initial.items():
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        else:
            data[name] = "" if value is None else value
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else value
    return data


@pytest.mark.django_db
class TestSettingsPage:
    URL = "/o/alpha/settings/"

    def test_shows_the_policy(self, admin_client_a, tenant_a: Tenant) -> None:  # type: ignore[no-untyped-def]
        response = admin_client_a.get(self.URL)

        assert response.status_code == 200
        assert response.context["form"].instance == tenant_a.organization

    def test_saves_policy_fields(self, admin_client_a, tenant_a: Tenant) -> None:  # type: ignore[no-untyped-def]
        data = settings_data(
            tenant_a.organization,
            duration_step_minutes=15,
            min_session_minutes=30,
            max_session_minutes=120,
            notes_min_length=150,
            max_sessions_per_pair_per_day=2,
            no_show_charge="full",
            insufficient_hours="draw",
            require_student_confirmation=True,
            booking_auto_accept=False,
            time_zone="Europe/London",
        )

        response = admin_client_a.post(self.URL, data)

        assert response.status_code == 302
        assert response["Location"] == self.URL
        assert messages_of(response) == ["Settings saved."]
        org = Organization.objects.get(pk=tenant_a.organization.pk)
        assert (
            org.duration_step_minutes,
            org.min_session_minutes,
            org.max_session_minutes,
            org.notes_min_length,
            org.max_sessions_per_pair_per_day,
        ) == (15, 30, 120, 150, 2)
        assert (org.no_show_charge, org.insufficient_hours, org.time_zone) == (
            "full",
            "draw",
            "Europe/London",
        )
        assert org.require_student_confirmation is True
        assert org.booking_auto_accept is False
        # Untouched fields keep their values.
        assert (org.logging_grace_hours, org.low_balance_threshold_minutes) == (72, 120)

    def test_an_organization_created_with_the_defaults_can_save_its_settings(
        self, db: None
    ) -> None:
        user = UserFactory()
        org = services.organization_create(actor=user, name="Default Zone")

        response = client_for(user).post(
            f"/o/{org.slug}/settings/", settings_data(org, notes_min_length=10)
        )

        assert response.status_code == 302
        org.refresh_from_db()
        assert (org.time_zone, org.notes_min_length) == ("UTC", 10)

    def test_clearing_an_optional_limit_saves_no_limit(
        self,
        admin_client_a,  # type: ignore[no-untyped-def]
        tenant_a: Tenant,
    ) -> None:
        Organization.objects.filter(pk=tenant_a.organization.pk).update(
            weekly_max_minutes_per_provider=600
        )
        org = Organization.objects.get(pk=tenant_a.organization.pk)

        admin_client_a.post(self.URL, settings_data(org, weekly_max_minutes_per_provider=""))

        org.refresh_from_db()
        assert org.weekly_max_minutes_per_provider is None

    @pytest.mark.parametrize(
        ("changes", "field", "error"),
        [
            (
                {"min_session_minutes": 30, "max_session_minutes": 10},
                "max_session_minutes",
                "The maximum (10 min) is below the minimum (30 min).",
            ),
            ({"duration_step_minutes": 0}, "duration_step_minutes", STEP_TOO_SMALL),
            ({"min_session_minutes": 0}, "min_session_minutes", MIN_TOO_SMALL),
            ({"proposal_response_days": 0}, "proposal_response_days", RESPONSE_DAYS_OUT_OF_RANGE),
            ({"proposal_response_days": 366}, "proposal_response_days", RESPONSE_DAYS_OUT_OF_RANGE),
            # A step that the default minimum (5) is not a multiple of.
            (
                {"duration_step_minutes": 7, "max_session_minutes": 175},
                "min_session_minutes",
                "The minimum (5 min) is not a multiple of the duration step (7 min).",
            ),
            (
                {"duration_step_minutes": 25, "min_session_minutes": 50},
                "max_session_minutes",
                "The maximum (180 min) is not a multiple of the duration step (25 min).",
            ),
            ({"max_session_minutes": 1445}, "max_session_minutes", MAX_TOO_LONG),
            ({"revision_minutes": 0}, "revision_minutes", revision_out_of_range(180)),
            (
                {"max_session_minutes": 60, "revision_minutes": 90},
                "revision_minutes",
                "The revision value is between 1 minute and the session maximum (1 h).",
            ),
            (
                {"max_sessions_per_pair_per_day": 0},
                "max_sessions_per_pair_per_day",
                SESSIONS_PER_DAY_OUT_OF_RANGE,
            ),
            (
                {"max_sessions_per_pair_per_day": 25},
                "max_sessions_per_pair_per_day",
                SESSIONS_PER_DAY_OUT_OF_RANGE,
            ),
            (
                {"min_session_minutes": 30, "weekly_max_minutes_per_provider": 20},
                "weekly_max_minutes_per_provider",
                weekly_out_of_range(30),
            ),
            (
                {"weekly_max_minutes_per_student_service": 0},
                "weekly_max_minutes_per_student_service",
                weekly_out_of_range(5),
            ),
            (
                {"weekly_max_minutes_per_student_service": 10081},
                "weekly_max_minutes_per_student_service",
                weekly_out_of_range(5),
            ),
            ({"dispute_window_days": 0}, "dispute_window_days", DISPUTE_DAYS_OUT_OF_RANGE),
            ({"dispute_window_days": 366}, "dispute_window_days", DISPUTE_DAYS_OUT_OF_RANGE),
            ({"notes_min_length": 2001}, "notes_min_length", NOTES_TOO_LONG),
            ({"logging_grace_hours": 8761}, "logging_grace_hours", GRACE_TOO_LONG),
            (
                {"late_cancellation_window_hours": 721},
                "late_cancellation_window_hours",
                LATE_WINDOW_TOO_LONG,
            ),
            (
                {"low_balance_threshold_minutes": 60001},
                "low_balance_threshold_minutes",
                LOW_BALANCE_TOO_HIGH,
            ),
            (
                {"warning_short_session_percent": 101},
                "warning_short_session_percent",
                SHORT_SHARE_OUT_OF_RANGE,
            ),
            ({"warning_gap_days": 0}, "warning_gap_days", GAP_DAYS_OUT_OF_RANGE),
            ({"warning_cancellations": 0}, "warning_cancellations", CANCELLATIONS_OUT_OF_RANGE),
            (
                {"warning_cancellation_days": 366},
                "warning_cancellation_days",
                CANCELLATION_DAYS_OUT_OF_RANGE,
            ),
            ({"max_session_minutes": "two hours"}, "max_session_minutes", "Enter a whole number."),
            (
                {"logging_grace_hours": "-1"},
                "logging_grace_hours",
                "Ensure this value is greater than or equal to 0.",
            ),
            (
                {"no_show_charge": "half"},
                "no_show_charge",
                "Select a valid choice. half is not one of the available choices.",
            ),
            ({"name": ""}, "name", "This field is required."),
        ],
    )
    def test_invalid_input_re_renders_with_the_error_and_saves_nothing(
        self,
        admin_client_a,
        tenant_a: Tenant,
        changes,
        field,
        error,  # type: ignore[no-untyped-def]
    ) -> None:
        before = Organization.objects.filter(pk=tenant_a.organization.pk).values().get()
        data = settings_data(tenant_a.organization, **{"notes_min_length": 99, **changes})

        response = admin_client_a.post(self.URL, data)

        assert response.status_code == 200
        assert response.context["form"].errors == {field: [error]}
        assert error in response.content.decode().replace("&#x27;", "'")
        assert messages_of(response) == []
        assert Organization.objects.filter(pk=tenant_a.organization.pk).values().get() == before

    def test_rules_are_checked_together_each_error_on_its_field(
        self,
        admin_client_a,  # type: ignore[no-untyped-def]
        tenant_a: Tenant,
    ) -> None:
        """A step of 7 with min 5 and max 180 made a 60-minute session's edit form offer 7 min."""
        before = Organization.objects.filter(pk=tenant_a.organization.pk).values().get()
        data = settings_data(
            tenant_a.organization,
            duration_step_minutes=7,
            min_session_minutes=5,
            max_session_minutes=180,
            revision_minutes=200,
            dispute_window_days=0,
        )

        response = admin_client_a.post(self.URL, data)

        assert response.status_code == 200
        assert response.context["form"].errors == {
            "min_session_minutes": [not_a_multiple("minimum", 5, 7)],
            "max_session_minutes": [not_a_multiple("maximum", 180, 7)],
            "revision_minutes": [revision_out_of_range(180)],
            "dispute_window_days": [DISPUTE_DAYS_OUT_OF_RANGE],
        }
        assert Organization.objects.filter(pk=tenant_a.organization.pk).values().get() == before

    def test_saves_the_money_and_dispute_settings(
        self,
        admin_client_a,  # type: ignore[no-untyped-def]
        tenant_a: Tenant,
    ) -> None:
        data = settings_data(
            tenant_a.organization,
            pay_providers_for_charged_absences=False,
            providers_see_client_amount=True,
            dispute_window_days=30,
        )

        response = admin_client_a.post(self.URL, data)

        assert response.status_code == 302
        org = Organization.objects.get(pk=tenant_a.organization.pk)
        assert (
            org.pay_providers_for_charged_absences,
            org.providers_see_client_amount,
            org.dispute_window_days,
        ) == (False, True, 30)
        page = admin_client_a.get(self.URL).content.decode()
        for name in ("pay_providers_for_charged_absences", "providers_see_client_amount"):
            assert str(Organization._meta.get_field(name).help_text) in page
        assert "A student may dispute a session up to this many days after it." in page

    def test_the_service_refuses_what_the_form_refuses(self, tenant_a: Tenant) -> None:
        org = tenant_a.organization

        with pytest.raises(ValidationError) as caught:
            services.organization_update(
                actor=tenant_a.admin,
                organization=org,
                fields={"min_session_minutes": 120, "max_session_minutes": 60},
            )

        assert caught.value.message_dict == {"max_session_minutes": [max_below_min(60, 120)]}
        org.refresh_from_db()
        assert (org.min_session_minutes, org.max_session_minutes) == (5, 180)

    def test_admins_only(
        self,
        provider_client_a,
        student_client_a,
        admin_client_b,  # type: ignore[no-untyped-def]
        tenant_a: Tenant,
    ) -> None:
        data = settings_data(tenant_a.organization, name="Hijacked")

        assert provider_client_a.get(self.URL).status_code == 403
        assert student_client_a.post(self.URL, data).status_code == 403
        assert admin_client_b.post(self.URL, data).status_code == 404
        assert Organization.objects.get(pk=tenant_a.organization.pk).name == "Alpha Tutoring"
