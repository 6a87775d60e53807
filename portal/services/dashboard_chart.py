"""The dashboard's daily chart as inline SVG drawn on the server (pygal, its JavaScript off): one
drawing for wide screens and one for phones, each with a title and a description a screen
reader reads. Only numbers and dates enter the drawing, never text a person typed."""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

import pygal
from markupsafe import Markup
from pygal.style import Style

from portal.services.dashboard import Cohort

SERIES = (("Carts expired", "expired"), ("Emailed", "emailed"), ("Recovered", "recovered"))
# Each line its own stroke too: where the counts are equal the lines lie on each other, and the
# dashes of the ones below still show through.
STROKES = (
    {"width": 2.5},
    {"width": 2.5, "dasharray": "8, 5"},
    {"width": 2.5, "dasharray": "2, 4"},
)
# The stylesheet's colours: muted ink, the accent, and the colour of success.
COLOURS = ("#8b93a7", "#4f46e5", "#0f7b4b")
FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif'
# Drawn at the size they are shown, so that a phone's labels are as large as a desktop's.
# width, height, date labels, legend's font size (a phone's three names fit on one line)
SIZES = {"wide": (900, 300, 10, 14), "narrow": (360, 300, 4, 12)}


def _style(legend_size: int) -> Style:
    return Style(
        background="transparent",
        plot_background="transparent",
        foreground="#1d2433",
        foreground_strong="#1d2433",
        foreground_subtle="#e3e6ee",
        colors=COLOURS,
        font_family=FONT,
        label_font_size=13,
        major_label_font_size=13,
        legend_font_size=legend_size,
        value_font_size=12,
        tooltip_font_size=13,
        # Solid guides: dashes belong to the lines (see STROKES).
        guide_stroke_dasharray="1, 0",
        major_guide_stroke_dasharray="1, 0",
        guide_stroke_color="#e3e6ee",
        major_guide_stroke_color="#e3e6ee",
    )


def whole_steps(top: int) -> list[int]:
    """The y axis's labels: whole carts in steps of 1, 2 or 5 times a power of ten, at most
    five steps, from 0 to at least `top`."""
    top, scale = max(top, 1), 1
    while True:
        for step in (scale, 2 * scale, 5 * scale):
            if step * 4 >= top:
                return list(range(0, -(-top // step) * step + 1, step))
        scale *= 10


def label(day: date) -> str:
    return f"{day:%b} {day.day}"


def chart(daily: list[tuple[date, Cohort]], size: str) -> Markup:
    """The carts of each day (expired, emailed, recovered) as an accessible SVG drawing."""
    counts = tuple((day, *(getattr(c, attribute) for _, attribute in SERIES)) for day, c in daily)
    return _drawn(counts, size)


# A drawing depends on nothing but its numbers: the same figures are drawn once (pygal takes
# several milliseconds a drawing; a dashboard viewed again draws nothing).
@lru_cache(maxsize=256)
def _drawn(counts: tuple[tuple, ...], size: str) -> Markup:
    width, height, labels, legend_size = SIZES[size]
    drawing = pygal.Line(
        js=[],
        disable_xml_declaration=True,
        style=_style(legend_size),
        width=width,
        height=height,
        legend_at_bottom=True,
        legend_at_bottom_columns=3,
        show_dots=len(counts) <= 7,
        dots_size=2.5,
        stroke_style={"width": 2.5},
        include_x_axis=True,
        min_scale=2,
        max_scale=5,
        x_labels_major_every=max(1, -(-len(counts) // labels)),
        show_minor_x_labels=False,
        truncate_label=-1,
        truncate_legend=-1,
        margin=8,
        spacing=12,
    )
    drawing.x_labels = [label(row[0]) for row in counts]
    drawing.y_labels = whole_steps(max((max(row[1:]) for row in counts), default=0))
    for i, (name, _) in enumerate(SERIES, start=1):
        drawing.add(name, [row[i] for row in counts], stroke_style=STROKES[i - 1])
    return _accessible(drawing.render(is_unicode=True), counts, size)


def _accessible(svg: str, counts: tuple[tuple, ...], size: str) -> Markup:
    """The drawing as one image with a title and a description of what it shows."""
    ident = f"daily-chart-{size}"
    totals = ", ".join(
        f"{sum(row[i] for row in counts)} {name.lower()}"
        for i, (name, _) in enumerate(SERIES, start=1)
    )
    first, last = (label(counts[0][0]), label(counts[-1][0])) if counts else ("", "")
    head = f'<svg role="img" aria-labelledby="{ident}-title {ident}-desc" '
    described = (
        f'<title id="{ident}-title">Carts per day, {first} to {last}</title>'
        f'<desc id="{ident}-desc">Carts that expired each day, how many of them were emailed '
        f"and how many were recovered. In total: {totals}. "
        "The table below lists every day.</desc>"
    )
    # pygal writes its configuration for its JavaScript even without the JavaScript: dropped.
    svg = re.sub(r"<script\b.*?</script>", "", svg, flags=re.S)
    body = svg.replace("<svg ", head, 1).replace(
        'class="pygal-chart"', f'class="pygal-chart daily-chart daily-chart-{size}"', 1
    )
    opening_end = body.index(">") + 1
    return Markup(body[:opening_end] + described + body[opening_end:])
