"""The committed coverage table (docs/rules/coverage.csv) must match the registries."""

import csv
from pathlib import Path

import pytest

from chainrules import coverage

TABLE = Path(__file__).resolve().parents[2] / "docs" / "rules" / "coverage.csv"
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


def test_each_row_is_either_differentiable_or_non_differentiable():
    for row in committed_rows():
        differentiable = row.rrule == "yes" or row.frule == "yes"
        assert differentiable != (row.non_differentiable == "yes"), row


def test_counts_count_the_rows():
    table = [
        coverage.Row("a", "yes", "yes", ""),
        coverage.Row("b", "yes", "", ""),
        coverage.Row("c", "", "", "yes"),
    ]
    assert coverage.counts(table) == {"rrule": 2, "frule": 1, "non-differentiable": 1}
