"""The committed coverage table (docs/rules/coverage.csv) must match the registries."""

import csv
from pathlib import Path

import pytest

from chainrules import coverage
from chainrules_core import frule, rrule

TABLE = Path(__file__).resolve().parents[2] / "docs" / "rules" / "coverage.csv"
REGENERATE = "regenerate it with: python -m chainrules.coverage > docs/rules/coverage.csv"


def committed_rows():
    with TABLE.open() as f:
        return [coverage.Row(*row.values()) for row in csv.DictReader(f)]


@pytest.mark.parametrize("row", committed_rows(), ids=lambda row: row.function)
def test_every_listed_function_keeps_its_rules(row):
    f = coverage.lookup(row.function)
    reverse, forward = rrule.implementations(f), frule.implementations(f)
    if row.non_differentiable == "yes":
        assert reverse and all(getattr(i, "non_differentiable", False) for i in reverse), (
            f"{row.function} is listed as non-differentiable but lost that registration"
        )
    if row.rrule == "yes":
        assert reverse, f"{row.function} lost its rrule"
    if row.frule == "yes":
        assert forward, f"{row.function} lost its frule"


def test_the_committed_table_is_current():
    current = list(coverage.rows())
    assert coverage.to_csv(current) == TABLE.read_text(), (
        f"the coverage table is out of date; {REGENERATE}"
    )


def test_counts_add_up():
    table = committed_rows()
    counts = coverage.counts(table)
    assert counts["rrule"] + counts["non-differentiable"] <= len(table)
    assert all(
        (r.rrule or r.frule) != r.non_differentiable or not r.non_differentiable for r in table
    )
