"""The fixed vocabulary every center is drawn from: names, notes, packages, services, and the
weights that decide what a relationship is for and how it ends.

Changing any of these changes the rows a seed builds (the order of the tuples is part of it)."""

from __future__ import annotations

from decimal import Decimal

from grants.models import Unit
from relationships.models import RelationshipStatus
from sessions_app.models import SessionKind

# fmt: off
FIRST_NAMES = (
    "Maya", "Lucas", "Sofia", "Ethan", "Olivia", "Noah", "Aisha", "Leo", "Chloe", "Samuel",
    "Amara", "Daniel", "Hannah", "Priya", "Mateo", "Zoe", "Omar", "Ines", "Felix", "Nora", "Ravi",
    "Elena", "Jonas", "Yuki", "Kofi", "Lena", "Arjun", "Clara", "Diego", "Mei",
)
LAST_NAMES = (
    "Patel", "Bennett", "Marquez", "Kim", "Novak", "Williams", "Rahman", "Fischer", "Dubois",
    "Adeyemi", "Okafor", "Reyes", "Lindqvist", "Tanaka", "Moreau", "Schmidt", "Haddad", "Costa",
    "Nguyen", "Silva", "Kowalski", "Murphy", "Jensen", "Rossi",
)
# fmt: on
NOTES = (
    "Worked through factoring quadratics; homework: exercises 4-12.",
    "Reviewed the essay outline and tightened the thesis statement.",
    "Practice test section 2; timing improved by four minutes.",
    "Discussed the college list and application deadlines.",
    "Covered Newton's laws with worked examples; quiz next week.",
    "Reading comprehension drills; annotated two passages together.",
)
MODES = ("Online", "At the center", "Online", "Library")
CANCEL_REASONS = ("Student was ill", "Family trip", "Provider unavailable", "School event")
NO_SHOW_EXPLANATIONS = ("No answer on the phone; the family was told.", "Missed the call.")
DISPUTE_REASONS = ("We finished 15 minutes early that day.", "This session did not take place.")

# name, quantity, unit, services, validity days, price
PACKAGES = (
    ("Tutoring 10 hours", 600, Unit.MINUTES, ("Tutoring",), 365, "450.00"),
    ("Tutoring 20 hours", 1200, Unit.MINUTES, ("Tutoring",), 365, "860.00"),
    ("Tutoring 40 hours", 2400, Unit.MINUTES, ("Tutoring",), 730, "1640.00"),
    ("Advising 5 hours", 300, Unit.MINUTES, ("Advising",), 365, "375.00"),
    ("Advising 15 hours", 900, Unit.MINUTES, ("Advising",), 365, "1050.00"),
    ("Test prep 8 sessions", 8, Unit.SESSIONS, ("Test prep",), 180, "520.00"),
    ("College application bundle", 900, Unit.MINUTES, ("Tutoring", "Advising"), 365, "690.00"),
)
# service type → (client rate, session kind)
SERVICES = {
    "Tutoring": (Decimal("60.00"), SessionKind.TUTORING),
    "Advising": (Decimal("85.00"), SessionKind.ADVISING),
    "Test prep": (Decimal("70.00"), SessionKind.TUTORING),
}
# How often each service is what a relationship is for.
WEIGHTS = {"Tutoring": 60, "Advising": 25, "Test prep": 15}
# A relationship's fate, by weight: most run or ran their course.
FATES = (
    (RelationshipStatus.PAIRED, 35),
    (RelationshipStatus.COMPLETED, 40),
    (RelationshipStatus.CANCELLED, 10),
    (RelationshipStatus.DECLINED, 8),
    (RelationshipStatus.PROPOSED, 7),
)
WITH_SESSIONS = (
    RelationshipStatus.PAIRED,
    RelationshipStatus.COMPLETED,
    RelationshipStatus.CANCELLED,
)
