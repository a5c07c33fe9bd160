"""The hostile values each form field receives, one field at a time (docs/testing.md, "Fuzzing").

To add one, append a `(label, value)` pair: every field of every discovered form receives it on
the next run. The label names it in failure reports.
"""

HOSTILE: tuple[tuple[str, str], ...] = (
    ("empty", ""),
    ("10,000 characters", "x" * 10_000),
    ("right-to-left", "\u202eabc\u202c مرحبا"),
    ("emoji", "🙂👩‍👩‍👧 ok"),
    ("combining marks", "e\u0301\u0301\u0301\u0336"),
    ("NUL byte", "a\x00b"),
    ("newlines", "first\r\nsecond\nthird"),
    ("minus one", "-1"),
    ("2**31", str(2**31)),
    ("2**63", str(2**63)),
    ("1e309", "1e309"),
    ("year 1 date", "0001-01-01"),
    ("year 9999 date", "9999-12-31"),
    ("year 1 datetime", "0001-01-01T00:00"),
    ("year 9999 datetime", "9999-12-31T23:59"),
    ("malformed UUID", "not-a-uuid"),
    ("UUID one digit short", "12345678-1234-1234-1234-12345678901"),
    ("integer key", "1"),
)
