"""The committed coverage table (docs/rules/coverage.csv) must match the registries."""

import csv
from pathlib import Path

import pytest

from chainrules import coverage

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules"
TABLE = DOCS / "coverage.csv"
REGENERATE = "regenerate it with: python -m chainrules.coverage > docs/rules/coverage.csv"


def committed_rows():
    with TABLE.open() as f:
        rows = [coverage.Row(*row.values()) for row in csv.DictReader(f)]
    return [row._replace(function=row.function.strip("`")) for row in rows]


def available_rows():
    """The committed rows of functions that exist here: the table is made on the newest Python,
    numpy and scipy, and some functions (``math.cbrt``, say) are newer than others."""
    return [row for row in committed_rows() if coverage.available(row.function)]


@pytest.mark.parametrize("row", available_rows(), ids=lambda row: row.function)
def test_every_listed_function_keeps_its_rules(row):
    now = coverage.status(row.function)
    for column in ("rrule", "frule", "non_differentiable"):
        if getattr(row, column) == "yes":
            assert getattr(now, column) == "yes", f"{row.function} lost its {column}"


def test_the_committed_table_is_current():
    current = list(coverage.rows())
    assert coverage.to_csv(current) == coverage.to_csv(available_rows()), (
        f"the coverage table is out of date; {REGENERATE}"
    )


def test_only_functions_missing_here_are_left_out_of_the_comparison():
    missing = {row.function for row in committed_rows()} - {r.function for r in available_rows()}
    for name in missing:
        with pytest.raises((KeyError, AttributeError)):
            coverage.lookup(name)
    assert coverage.available("math.sin") and not coverage.available("math.no_such_function")


def test_each_row_is_differentiable_non_differentiable_or_missing():
    for row in committed_rows():
        differentiable = row.rrule == "yes" or row.frule == "yes"
        kinds = [differentiable, row.non_differentiable == "yes", row.missing == "yes"]
        assert kinds.count(True) == 1, row


def test_counts_count_the_rows():
    table = [
        coverage.Row("a", "yes", "yes", "", ""),
        coverage.Row("b", "yes", "", "", ""),
        coverage.Row("c", "", "", "yes", ""),
        coverage.Row("d", "", "", "", "yes"),
    ]
    assert coverage.counts(table) == {
        "rrule": 2,
        "frule": 1,
        "non-differentiable": 1,
        "missing": 1,
    }


# The numpy functions with neither a rule nor a non-differentiable registration. A new numpy
# function, or a rule that goes away, makes this test fail rather than the list grow unseen;
# when a rule is added, take its function off the list (and off docs/rules/coverage.rst).
MISSING: list[str] = []


def test_the_missing_numpy_functions_are_the_expected_ones():
    assert coverage.missing(list(coverage.rows())) == MISSING


def test_the_docs_list_the_missing_numpy_functions():
    prose = (DOCS / "coverage.rst").read_text()
    assert f"{len(MISSING)} differentiable numpy functions" in prose
    listed = [line.strip()[4:-2] for line in prose.splitlines() if line.startswith("* ``numpy.")]
    assert listed == MISSING


def test_only_functions_of_the_fully_listed_namespaces_can_be_missing():
    for row in committed_rows():
        if row.missing == "yes":
            assert coverage._namespace_of(row.function) in coverage.LISTED_IN_FULL, row


def test_excluded_names_exist_and_have_no_rule():
    """Each exclusion is a real public name, and none hides a function that has a rule."""
    for names in coverage.EXCLUDED.values():
        for name in names:
            if coverage.available(name):
                row = coverage.status(name)
                assert not (row.rrule or row.frule or row.non_differentiable), name
