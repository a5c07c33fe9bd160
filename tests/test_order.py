"""The long tests start first (tests/conftest.py, LONG_FIRST), so neither xdist worker is left
running one alone at the end."""

import pytest

from tests.conftest import LONG_FIRST, long_first_rank


def test_each_long_test_ranks_by_the_first_prefix_it_matches() -> None:
    settings_fuzz = (
        "tests/test_form_fuzzing.py::test_hostile_values_never_answer_5xx_nor_half_save"
        "[org_settings-admin]"
    )
    other_fuzz = "tests/test_form_fuzzing.py::test_every_form_class_is_reached"

    assert long_first_rank("tests/sessions_app/test_stateful.py::test_x") == 2
    assert long_first_rank(settings_fuzz) < long_first_rank(other_fuzz) < len(LONG_FIRST)
    assert long_first_rank("tests/students/test_pages.py::test_list") == len(LONG_FIRST)


def test_the_collected_long_tests_come_before_every_other(request: pytest.FixtureRequest) -> None:
    ranks = [long_first_rank(item.nodeid) for item in request.session.items]

    assert ranks == sorted(ranks)
