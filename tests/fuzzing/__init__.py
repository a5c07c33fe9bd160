"""The form fuzzer: finds every form of every page by itself and posts hostile values to it.

`discovery` walks the same URL resolver as the isolation crawler (`tests/isolation.py` fills
each URL argument), GETs each page as each role and parses every `<form>` in the answer;
`values` holds the hostile values. `tests/test_form_fuzzing.py` runs them.
"""
