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

# The chart is titled "Carts per day": one word a series, so that a phone's key has room for
# all three on one line ("Carts expired" ran into the next one's line).
SERIES = (("Expired", "expired"), ("Emailed", "emailed"), ("Recovered", "recovered"))
# The stylesheet's colours: muted ink, the accent, and the colour of success.
COLOURS = ("#8b93a7", "#4f46e5", "#0f7b4b")
# Each line is drawn on the one before it and is narrower, so that where counts are equal
# (every emailed cart recovered) each still shows, as a band around the next: the width tells
# the lines apart where their colours cannot. (line width, dot radius) per series.
STROKES = ((8, 6), (4.5, 4), (2, 2.25))
# Past a month the days are too close for wide bands and dots: narrower lines, no dots.
DENSE_STROKES = ((3.5, 0), (2.25, 0), (1.25, 0))
DOTTED_DAYS = 31
FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif'
# Drawn at the size they are shown, so that a phone's labels are as large as a desktop's.
# width, height, date labels, legend's font size (a phone's three names fit on one line)
SIZES = {"wide": (900, 300, 10, 14), "narrow": (360, 300, 4, 12)}
# Half the last date's label ("Nov 30"), which is centred on the plot's right edge.
MARGIN_RIGHT = 24


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
        # Full colours, as in the legend; and each line's own width (pygal's 1 px for every
        # line would otherwise win over the series' widths).
        opacity="1",
        stroke_opacity="1",
        stroke_width="inherit",
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


def labelled_days(days: list[str], most: int) -> list[str]:
    """The days the x axis names: about `most`, evenly spaced back from the last, which is
    always named (today's figures are the ones a merchant looks for); the first too when it
    is nearly a step before the next (3/4 of one: a shorter gap reads as uneven, and on a
    phone its label would touch the next one's)."""
    step = max(1, -(-len(days) // most))
    named = days[::-1][::step][::-1]
    if days and named[0] != days[0] and (len(days) - 1) % step * 4 >= step * 3:
        named.insert(0, days[0])
    return named


def label(day: date) -> str:
    """A day as the chart's axis names it ("Dec 5")."""
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
    strokes = STROKES if len(counts) <= DOTTED_DAYS else DENSE_STROKES
    drawing = pygal.Line(
        js=[],
        disable_xml_declaration=True,
        style=_style(legend_size),
        width=width,
        height=height,
        legend_at_bottom=True,
        legend_at_bottom_columns=3,
        show_dots=strokes[0][1] > 0,
        include_x_axis=True,
        min_scale=2,
        max_scale=5,
        show_minor_x_labels=False,
        truncate_label=-1,
        truncate_legend=-1,
        margin=8,
        margin_right=MARGIN_RIGHT,
        spacing=12,
    )
    drawing.x_labels = [label(row[0]) for row in counts]
    drawing.x_labels_major = labelled_days(drawing.x_labels, labels)
    drawing.y_labels = whole_steps(max((max(row[1:]) for row in counts), default=0))
    _add_series(drawing, counts, strokes)
    svg = _legend_as_lines(drawing.render(is_unicode=True), strokes)
    return _accessible(svg, counts, size)


def _add_series(drawing: pygal.Line, counts: tuple[tuple, ...], strokes: tuple) -> None:
    """One line a series, in SERIES's order (each drawn on the ones before). A day without a
    cart gets no dot: the dots mark the days something happened, which a lone day among
    empty ones otherwise hides in a spike at the edge."""
    for i, ((name, _), (line, dot)) in enumerate(zip(SERIES, strokes, strict=True), start=1):
        points = [{"value": row[i], "node": {"r": 0}} if not row[i] else row[i] for row in counts]
        style = {"width": line, "linejoin": "round", "linecap": "round"}
        drawing.add(name, points, stroke_style=style, dots_size=dot)


# pygal's key for a series: a 12 px square in the series' colour, left of its name.
LEGEND_SQUARE = re.compile(
    r'<rect x="(?P<x>[\d.]+)" y="(?P<y>[\d.]+)" width="12" height="12" '
    r'class="color-(?P<i>\d) reactive" />'
)


def _legend_as_lines(svg: str, strokes: tuple[tuple[float, float], ...]) -> str:
    """The legend's coloured squares replaced by a piece of each line as drawn (its width, and
    its dot when the points have dots), in the square's place, so that the key looks like what
    it names."""

    def sample(found: re.Match) -> str:
        x, y, i = float(found["x"]), float(found["y"]) + 6, int(found["i"])
        line, dot = strokes[i]
        piece = f'<path d="M{x:g} {y:g} h12" class="color-{i}" style="stroke-width:{line}"/>'
        # The widest dot would touch the next name on a phone: 4 px at most in the key.
        ring = f'<circle cx="{x + 6:g}" cy="{y:g}" r="{min(dot, 4)}" class="color-{i}"/>'
        return piece + (ring if dot else "")

    return LEGEND_SQUARE.sub(sample, svg)


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
