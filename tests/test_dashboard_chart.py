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


def _days(count: int, **figures) -> list[tuple[date, Cohort]]:
    """`count` days to Nov 30, 2026, each with `figures`; `last=True` puts them on the last day
    only (a new merchant's first day)."""
    last = figures.pop("last", False)
    fields = {name: 0 for name in Cohort.__dataclass_fields__}
    return [
        (
            date(2026, 11, 30) - timedelta(days=count - 1 - n),
            Cohort(**{**fields, **(figures if not last or n == count - 1 else {})}),
        )
        for n in range(count)
    ]


@pytest.mark.parametrize(
    ("count", "most", "named"),
    [
        (7, 4, [0, 2, 4, 6]),
        (30, 10, [2, 5, 8, 11, 14, 17, 20, 23, 26, 29]),  # 0 would be 2 days from 2: unnamed
        (30, 4, [5, 13, 21, 29]),  # 0 would be 5 days from 5, where the others are 8 apart
        (31, 10, [2, 6, 10, 14, 18, 22, 26, 30]),  # the first would crowd the 3rd: unnamed
        (90, 4, [0, 20, 43, 66, 89]),
        (1, 4, [0]),
        (0, 4, []),
    ],
)
def test_the_x_axis_always_names_the_last_day(count, most, named):
    assert dashboard_chart.labelled_days(list(range(count)), most) == named


@pytest.mark.parametrize("size", dashboard_chart.SIZES)
@pytest.mark.parametrize("count", [7, 30, 31, 90])
def test_the_last_day_is_labelled_even_when_it_alone_has_carts(size, count):
    svg = str(
        dashboard_chart.chart(_days(count, expired=3, emailed=2, recovered=2, last=True), size)
    )
    axis = re.search(r'class="axis x.*?</g>\s*</g>', svg, flags=re.S)[0]
    assert re.search(r'<text[^>]*class="major"[^>]*>Nov 30</text>', axis)


@pytest.mark.parametrize("size", dashboard_chart.SIZES)
def test_the_drawing_has_no_fractional_carts(size):
    svg = str(dashboard_chart.chart(_days(7, expired=1, emailed=1), size))
    axis = re.findall(r'class="axis y[^"]*".*?</g>\s*</g>', svg, flags=re.S)
    assert axis and not re.search(r">\d+\.\d+<", axis[0])


@pytest.mark.parametrize("size", dashboard_chart.SIZES)
def test_equal_lines_stay_visible_each_narrower_than_the_one_below(size):
    svg = str(dashboard_chart.chart(_days(7, expired=4, emailed=4, recovered=4), size))
    widths = [
        float(re.search(rf"\.series\.serie-{i}\{{[^}}]*stroke-width:([\d.]+)", svg)[1])
        for i in range(3)
    ]
    assert widths[0] > widths[1] > widths[2] >= 1.5  # drawn in this order, each on the last
    # pygal's own rule gives every line 1 px unless told to take its series' width.
    assert re.search(r"\.reactive\{[^}]*stroke-width:inherit", svg)
    assert "stroke-opacity:1" in svg and "stroke-dasharray:8" not in svg


@pytest.mark.parametrize("size", dashboard_chart.SIZES)
def test_a_month_has_dots_on_the_days_with_carts_and_a_quarter_none(size):
    month = str(dashboard_chart.chart(_days(30, expired=3, emailed=2, last=True), size))
    radii = [float(r) for r in re.findall(r'<circle [^>]*r="([\d.]+)" class="dot', month)]
    assert len(radii) == 3 * 30
    # Only Nov 30's expired and emailed carts: a dot each, the lower one the larger.
    assert sorted(r for r in radii if r) == [4.0, 6.0]
    quarter = str(dashboard_chart.chart(_days(90, expired=3, emailed=2), size))
    assert 'class="dot' not in quarter


@pytest.mark.parametrize("size", dashboard_chart.SIZES)
def test_the_legend_shows_each_line_as_drawn(size):
    svg = str(dashboard_chart.chart(_days(7, expired=1), size))
    legend = re.search(r'class="legends".*', svg, flags=re.S)[0]
    assert 'width="12" height="12"' not in legend  # pygal's squares are gone
    for i, (width, _) in enumerate(dashboard_chart.STROKES):
        assert f'class="color-{i}" style="stroke-width:{width}"' in legend
    assert "Expired" in legend and "Recovered" in legend


@pytest.mark.browser
def test_on_a_phone_each_name_in_the_key_ends_before_the_next_line_begins(browser):
    svg = str(dashboard_chart.chart(_days(90, expired=3, emailed=2), "narrow"))
    page = browser.new_page(viewport={"width": 375, "height": 400})
    page.set_content(f"<body style='margin:0;padding:8px'>{svg}</body>")
    gaps = page.evaluate(
        """() => {
        const key = document.querySelector('.legends');
        const names = [...key.querySelectorAll('text')].map(t => t.getBoundingClientRect());
        const lines = [...key.querySelectorAll('path')].map(p => p.getBoundingClientRect());
        return names.slice(0, -1).map((name, i) => lines[i + 1].left - name.right);
    }"""
    )
    page.close()
    assert len(gaps) == 2 and min(gaps) >= 6, gaps  # room between a name and the next line
