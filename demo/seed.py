"""The demo organization that `make run` seeds the first time: a lived-in center built through
the apps' own services. This app sits above every domain app; no app imports it."""

from datetime import time, timedelta
from decimal import Decimal

from allauth.account.models import EmailAddress
from django.db import transaction
from django.utils import timezone

from grants import services as ledger
from grants.models import GrantSource, ShopKey
from integrations.woocommerce.models import Store
from matchpal.models import Membership, Organization, Role, ServiceType, User
from matchpal.services import DEFAULT_SERVICE_TYPES
from notifications.services import muted
from providers import services as availability
from providers.models import ExceptionKind, MeetingMode, Provider, ProviderService
from relationships import services as pairing
from relationships.models import Relationship
from sessions_app import booking, missed, slots
from sessions_app import services as sessions
from sessions_app.models import FeedbackQuestion, Session
from students.models import Student

DEMO_SLUG = "northside"
DEMO_PASSWORD = "matchpal-demo"
DEMO_ADMIN = "admin@northside.example"
# The demo shop (docs/woocommerce.md posts a sample order to it with curl).
DEMO_STORE_TOKEN = "northside-demo"
DEMO_STORE_SECRET = "NorthsideDemoWebhookSecret2026abcdefXYZ7"

PROVIDERS = [
    # name, email, services, pay rate, bio
    (
        "Amara Okafor",
        "amara.okafor@northside.example",
        ["Tutoring"],
        "32.00",
        "Maths and physics tutor; former secondary-school teacher.",
    ),
    (
        "Daniel Reyes",
        "daniel.reyes@northside.example",
        ["Advising"],
        "45.00",
        "College admissions advisor, ten years of application seasons.",
    ),
    (
        "Hannah Lindqvist",
        "hannah.lindqvist@northside.example",
        ["Tutoring", "Advising"],
        "38.00",
        "Writing and essay coach; also advises on course selection.",
    ),
]

STUDENTS = [
    # name, email, guardian, guardian email, has login
    ("Maya Patel", "maya.patel@example.net", "Priya Patel", "priya.patel@example.net", True),
    (
        "Lucas Bennett",
        "lucas.bennett@example.net",
        "Sarah Bennett",
        "sarah.bennett@example.net",
        True,
    ),
    (
        "Sofia Marquez",
        "sofia.marquez@example.net",
        "Elena Marquez",
        "elena.marquez@example.net",
        False,
    ),
    ("Ethan Kim", "ethan.kim@example.net", "Grace Kim", "grace.kim@example.net", False),
    ("Olivia Novak", "olivia.novak@example.net", "", "", False),
    ("Noah Williams", "noah.williams@example.net", "James Williams", "james.w@example.net", False),
    ("Aisha Rahman", "aisha.rahman@example.net", "Farah Rahman", "farah.rahman@example.net", False),
    ("Leo Fischer", "leo.fischer@example.net", "Anna Fischer", "anna.fischer@example.net", False),
    ("Chloe Dubois", "chloe.dubois@example.net", "", "", False),
    ("Samuel Adeyemi", "samuel.adeyemi@example.net", "Ngozi Adeyemi", "ngozi.a@example.net", False),
]


PACKAGES = [
    # name, minutes, services, validity days, price, WooCommerce product id
    ("Tutoring 10 hours", 600, ["Tutoring"], 180, "450.00", "101"),
    ("Tutoring 20 hours", 1200, ["Tutoring"], 365, "860.00", "102"),
    ("Advising 5 hours", 300, ["Advising"], 365, "375.00", "201"),
    ("College application bundle", 900, ["Tutoring", "Advising"], 365, "690.00", "301"),
]

# student index → (package index, days ago bought); a few students get two grants.
PURCHASES = [
    (0, 0, 120),
    (0, 2, 115),
    (1, 1, 130),
    (2, 0, 112),
    (3, 3, 140),
    (4, 0, 170),
    (5, 2, 5),
    (6, 3, 125),
    (7, 0, 100),
    (9, 1, 15),
]


def _login(email: str, name: str) -> User:
    user = User.objects.create_user(email=email, password=DEMO_PASSWORD, name=name)
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    return user


# Months of the center's history replayed at once tell nobody: the bells start empty and fill
# as people use the demo.
@muted()
@transaction.atomic
def seed_demo() -> Organization | None:
    """Create the demo organization unless it exists; return it, or None if it existed."""

    if Organization.objects.filter(slug=DEMO_SLUG).exists():
        return None
    # Providers answer booking requests here (auto-accept off), so the demo shows requests;
    # booked sessions last 45 minutes.
    org = Organization.objects.create(
        name="Northside Learning Center",
        slug=DEMO_SLUG,
        time_zone="America/New_York",
        booking_auto_accept=False,
        booking_slot_minutes=45,
    )
    types = {
        name: ServiceType.objects.create(organization=org, name=name)
        for name in DEFAULT_SERVICE_TYPES
    }
    admin = _login(DEMO_ADMIN, "Rosa Delgado")
    Membership.objects.create(user=admin, organization=org, role=Role.ADMIN)
    for name, email, services, rate, bio in PROVIDERS:
        user = _login(email, name)
        Membership.objects.create(user=user, organization=org, role=Role.PROVIDER)
        provider = Provider.objects.create(
            organization=org,
            user=user,
            name=name,
            email=email,
            bio=bio,
            default_pay_rate=Decimal(rate),
        )
        for service in services:
            ProviderService.objects.create(
                organization=org, provider=provider, service_type=types[service]
            )
    students: list[Student] = []
    for name, email, guardian, guardian_email, has_login in STUDENTS:
        login = _login(email, name) if has_login else None
        if login is not None:
            Membership.objects.create(user=login, organization=org, role=Role.STUDENT)
        students.append(
            Student.objects.create(
                organization=org,
                user=login,
                name=name,
                email=email,
                guardian_name=guardian,
                guardian_email=guardian_email,
            )
        )
    _seed_ledger(org, admin, types, students)
    _seed_relationships(org, admin, types, students)
    _seed_scheduling(org, admin, types, students)
    _seed_store(org)
    _seed_check_in_questions(org)
    return org


def _seed_check_in_questions(org: Organization) -> None:
    """What a provider answers at check-in (docs/scheduling.md): the rating is the session's."""
    for position, (text, kind, required, rating) in enumerate(
        [
            ("How did the session go?", "rating", True, True),
            ("Was homework set?", "yes_no", True, False),
            ("What should the next session cover?", "text", False, False),
        ]
    ):
        FeedbackQuestion.objects.create(
            organization=org,
            text=text,
            kind=kind,
            required=required,
            is_session_rating=rating,
            position=position,
        )


def _seed_store(org: Organization) -> None:
    Store.objects.create(
        organization=org,
        name="Northside shop",
        store_url="https://shop.northside.example/",
        webhook_secret=DEMO_STORE_SECRET,
        delivery_token=DEMO_STORE_TOKEN,
    )


def _seed_ledger(
    org: Organization, admin: User, types: dict[str, ServiceType], students: list[Student]
) -> None:
    packages = [
        ledger.package_save(
            actor=admin,
            organization=org,
            name=name,
            quantity=minutes,
            unit="minutes",
            service_types=[types[t] for t in services],
            validity_days=days,
            price=Decimal(price),
            shop_keys=[(ShopKey.PRODUCT, product)],
        )
        for name, minutes, services, days, price, product in PACKAGES
    ]
    now = timezone.now()
    for student_index, package_index, days_ago in PURCHASES:
        ledger.grant_from_package(
            actor=admin,
            student=students[student_index],
            package=packages[package_index],
            valid_from=now - timedelta(days=days_ago),
            source=GrantSource.WOOCOMMERCE,
            reference=f"Order #{4100 + student_index * 7 + package_index}",
        )


# (student index, provider index, service, hours allocated, final status)
RELATIONSHIPS = [
    (0, 0, "Tutoring", 8, "paired"),
    (0, 1, "Advising", 4, "paired"),
    (1, 2, "Tutoring", 10, "paired"),
    (2, 0, "Tutoring", 3, "paired"),
    (3, 0, "Tutoring", 6, "completed"),
    (4, 2, "Tutoring", 5, "proposed"),
    (5, 1, "Advising", 2, "declined"),
    (6, 2, "Advising", 4, "cancelled"),
    (7, 0, "Tutoring", 6, "proposed"),
]

NOTES = [
    "Worked through factoring quadratics; homework: exercises 4-12.",
    "Reviewed the essay outline and tightened the thesis statement.",
    "Practice test section 2; timing improved by four minutes.",
    "Discussed the college list and application deadlines.",
    "Covered Newton's laws with worked examples; quiz next week.",
]


def _member(user: User, org: Organization) -> Membership:
    """The demo person's membership, the one a view would resolve for them."""
    return Membership.objects.select_related("user").get(user=user, organization=org)


# Each provider's weekly hours: (weekdays, start, end, mode, location).
HOURS = [
    ((0, 1, 2, 3), "15:00", "19:00", MeetingMode.IN_PERSON, "Room 2"),
    ((4,), "10:00", "13:00", MeetingMode.ONLINE, "https://meet.example.org/northside"),
]


def _seed_scheduling(
    org: Organization, admin: User, types: dict[str, ServiceType], students: list[Student]
) -> None:
    """Weekly hours for every provider, a day off and extra hours, a weekly series booked by
    the admin and two requests from students awaiting their provider (docs/scheduling.md)."""
    providers = list(Provider.objects.filter(organization=org).order_by("pk"))
    admin_member = _member(admin, org)
    for provider in providers:
        for weekdays, start, end, mode, location in HOURS:
            for weekday in weekdays:
                availability.availability_window_add(
                    membership=admin_member,
                    provider=provider,
                    weekday=weekday,
                    start=time.fromisoformat(start),
                    end=time.fromisoformat(end),
                    mode=mode,
                    location=location,
                )
    next_week = slots.week_start(org) + timedelta(days=7)
    availability.availability_exception_add(
        membership=admin_member,
        provider=providers[0],
        kind=ExceptionKind.TIME_OFF,
        date=next_week + timedelta(days=4),
        start=None,
        end=None,
        note="Conference",
    )
    availability.availability_exception_add(
        membership=admin_member,
        provider=providers[1],
        kind=ExceptionKind.EXTRA,
        date=next_week + timedelta(days=5),
        start=time(10),
        end=time(12),
        location="Room 2",
        note="Exam prep",
    )
    paired = {
        (r.student_id, r.provider_id, r.service_type.name): r
        for r in Relationship.objects.filter(organization=org, status="paired").select_related(
            "organization", "student", "provider", "service_type"
        )
    }
    # The admin books Lucas's weekly tutoring; Maya and Lucas each ask for a session, which
    # their providers have not answered yet.
    plans = [
        (paired[students[1].pk, providers[2].pk, "Tutoring"], admin_member, 2, "Essay drafts"),
        (paired[students[0].pk, providers[0].pk, "Tutoring"], None, None, "Algebra II"),
        (paired[students[1].pk, providers[2].pk, "Tutoring"], None, None, "Thesis statement"),
    ]
    for relationship, membership, count, topic in plans:
        student_login = relationship.student.user
        assert student_login is not None  # these demo students sign in
        free = slots.free_slots(organization=org, relationships=[relationship], first_day=next_week)
        booking.session_book(
            membership=membership or _member(student_login, org),
            relationship=relationship,
            starts_at=free[len(free) // 3].start,
            topic=topic,
            series=booking.Series(count=count) if count else None,
        )


def _seed_relationships(
    org: Organization, admin: User, types: dict[str, ServiceType], students: list[Student]
) -> None:
    """A lived-in center: relationships in every state and a few months of sessions."""
    providers = list(Provider.objects.filter(organization=org).order_by("pk"))
    admin_member = _member(admin, org)
    now = timezone.now()
    for n, (si, pi, service, hours, status) in enumerate(RELATIONSHIPS):
        provider = providers[pi]
        assert provider.user is not None  # every demo provider signs in
        provider_member = _member(provider.user, org)
        relationship = pairing.relationship_propose(
            membership=admin_member,
            organization=org,
            student=students[si],
            provider=provider,
            service_type=types[service],
            quantity=hours * 60,
            client_rate=Decimal("60.00") if service == "Tutoring" else Decimal("85.00"),
        )
        if status == "proposed":
            continue
        if status == "declined":
            pairing.relationship_decline(
                membership=provider_member,
                relationship=relationship,
                reason="My schedule is full this term.",
            )
            continue
        pairing.relationship_accept(membership=provider_member, relationship=relationship)
        # Pretend the pairing happened months ago so the history has depth.
        paired_at = now - timedelta(days=100 - n * 5)
        Relationship.objects.filter(pk=relationship.pk).update(paired_at=paired_at)
        relationship.refresh_from_db()
        starts = [
            paired_at + timedelta(days=7 * week + 1, hours=2)
            for week in range(12)
            if paired_at + timedelta(days=7 * week + 1) < now
        ]
        for week, start in enumerate(starts[: hours - 1]):
            session = sessions.session_log(
                membership=admin_member,
                relationship=relationship,
                starts_at=start,
                duration=60 if week % 3 else 45,
                kind="advising" if service == "Advising" else "tutoring",
                mode="Online" if week % 2 else "At the center",
                notes=NOTES[week % len(NOTES)],
            )
            Session.objects.filter(pk=session.pk).update(logged_by=provider.user)
            if week == 2:
                sessions.session_cancel(
                    membership=admin_member, session=session, reason="Student was ill"
                )
            if week == 4 and n == 2:
                sessions.session_no_show(
                    membership=admin_member,
                    session=session,
                    party="student",
                    explanation="No answer on the phone; the family was told.",
                )
        student_login = students[si].user
        if n == 0 and student_login is not None and starts:
            # The student disagrees with a session two days ago (inside the dispute window):
            # the admin home shows it.
            latest = sessions.session_log(
                membership=admin_member,
                relationship=relationship,
                starts_at=(now - timedelta(days=2)).replace(hour=15, minute=0, microsecond=0),
                duration=45,
                mode="Online",
                notes=NOTES[0],
            )
            Session.objects.filter(pk=latest.pk).update(logged_by=provider.user)
            sessions.session_dispute(
                membership=_member(student_login, org),
                session=latest,
                reason="We finished 15 minutes early that day.",
            )
        if n == 1:
            # A meeting yesterday that the provider has not logged yet.
            sessions.session_log(
                membership=admin_member,
                relationship=relationship,
                starts_at=now - timedelta(days=1, hours=3),
                duration=60,
                kind="advising",
                scheduled=True,
            )
            # And one last week nobody logged: past the grace window, so the missed-sessions
            # job marks it missed (docs/scheduling.md, "Missed sessions") and only an admin
            # can act on it now.
            sessions.session_log(
                membership=admin_member,
                relationship=relationship,
                starts_at=now - timedelta(days=6, hours=2),
                duration=60,
                kind="advising",
                scheduled=True,
            )
            missed.mark_missed(now=now)
        if status == "paired":
            sessions.session_log(
                membership=admin_member,
                relationship=relationship,
                starts_at=now + timedelta(days=2, hours=n),
                duration=60,
                kind="advising" if service == "Advising" else "tutoring",
                scheduled=True,
            )
        if status == "completed":
            pairing.relationship_complete(
                membership=admin_member, relationship=relationship, reason="Exam passed"
            )
        if status == "cancelled":
            pairing.relationship_cancel(
                membership=admin_member, relationship=relationship, reason="The family moved away"
            )
