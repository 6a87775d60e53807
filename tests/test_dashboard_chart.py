"""The dashboard's daily chart: whole carts on its axis, every line its own stroke."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from portal.services import dashboard_chart
from portal.services.dashboard import Cohort


@pytest.mark.parametrize(
    ("top", "labels"),
    [(0, [0, 1]), (3, [0, 1, 2, 3]), (7, [0, 2, 4, 6, 8]), (37, [0, 10, 20, 30, 40])],
)
def test_the_axis_counts_whole_carts(top, labels):
    assert dashboard_chart.whole_steps(top) == labels


@pytest.mark.parametrize("size", dashboard_chart.SIZES)
def test_the_drawing_has_no_fractional_carts_and_tells_equal_lines_apart(size):
    fields = {name: 0 for name in Cohort.__dataclass_fields__}
    days = [
        (date(2026, 11, 1) + timedelta(days=n), Cohort(**{**fields, "expired": 1, "emailed": 1}))
        for n in range(7)
    ]
    svg = str(dashboard_chart.chart(days, size))
    axis = re.findall(r'class="axis y[^"]*".*?</g>\s*</g>', svg, flags=re.S)
    assert axis and not re.search(r">\d+\.\d+<", axis[0])
    assert svg.count("stroke-dasharray") >= 2  # the emailed and the recovered lines
