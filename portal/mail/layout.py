"""The recovery email's HTML in two stages, so the costly part runs once per design.

Stage one (`compile_layout`, cached per design): the MJML template is filled with the design's
texts and brand, compiled to table-based responsive HTML by MJML (the `mrml` binding) and its
classes inlined by `css-inline`. What changes from send to send is left as markers. Stage two
(`fill`, every send): each marker is replaced by its value, escaped. Markers carry a random
token of this process, so no merchant text can spell one.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from functools import cache, lru_cache
from pathlib import Path

import css_inline
import mrml
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "mail"
_TOKEN = secrets.token_hex(8)
_MARK = re.compile(rf"M{_TOKEN}x([a-z0-9_]+)x")
SLOTS = (
    "subject",
    "preheader",
    "customer_name",
    "cart_total",
    "recovery_link_expires",
    "promotion_code",
    "items_title",
    "cart_rows",
    "recovery_link",
    "unsubscribe_url",
    # Values placed in attributes: css-inline writes "<" and ">" back raw inside attribute
    # values, so they are filled after it, escaped.
    "merchant_name",
    "logo_url",
    "shop_url",
    "support_email",
)


class LayoutError(RuntimeError):
    """The MJML template did not compile: a fault of the template, never of merchant input."""


def mark(name: str) -> str:
    """The marker that stands for slot `name` until `fill` replaces it."""
    return f"M{_TOKEN}x{name}x"


MARKS = {name: mark(name) for name in SLOTS}


@lru_cache(maxsize=512)
def compile_layout(view_items: tuple[tuple[str, object], ...]) -> str:
    """The inlined HTML of the MJML template for one design (a hashable view of it), with the
    markers of SLOTS in place. Cached: a worker compiles each design once."""
    mjml = _env().get_template("recovery.mjml").render(dict(view_items), marks=MARKS, css=_css())
    try:
        html = mrml.to_html(mjml, parser_options=_parser(), render_options=_render()).content
    except Exception as exc:  # noqa: BLE001  mrml raises its own untyped errors
        raise LayoutError(f"the email layout did not compile: {exc}") from exc
    return _inliner().inline(html)


def fill(layout: str, values: Mapping[str, str]) -> str:
    """`layout` with every marker replaced by its value, escaped (a Markup value is placed as
    it is: the caller built it from escaped parts). A value is never scanned for markers."""
    return _MARK.sub(lambda match: str(escape(values[match.group(1)])), layout)


def item_rows(items: list[dict], total: str, total_word: str = "Total") -> Markup:
    """The cart's table for one send, inlined with the email's classes; each item's name and
    picture go in after inlining (as markers until then), escaped. `total_word` heads the
    total, in the email's language."""
    slots, marked = {}, []
    for index, item in enumerate(items):
        slots[f"name{index}"], slots[f"image{index}"] = item["name"], item["image_url"] or ""
        image = mark(f"image{index}") if item["image_url"] else None
        marked.append({**item, "name": mark(f"name{index}"), "image_url": image})
    show_images = any(item["image_url"] for item in items)
    view = {"items": marked, "show_images": show_images, "total": total, "total_word": total_word}
    rows = _env().get_template("recovery_items.html").render(view)
    return Markup(fill(css_inline.inline_fragment(rows, _css()), slots))


@cache
def _css() -> str:
    return (TEMPLATES / "recovery.css").read_text(encoding="utf-8")


@cache
def _inliner() -> css_inline.CSSInliner:
    # Nothing is fetched: the layout links no stylesheet, and a worker must not wait on one.
    return css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=True)


def _parser() -> mrml.ParserOptions:
    return mrml.ParserOptions(include_loader=mrml.noop_loader())  # no mj-include from anywhere


def _render() -> mrml.RenderOptions:
    # No web fonts: the email uses the reader's system fonts, and links no stylesheet.
    return mrml.RenderOptions(disable_comments=True, fonts={})


@cache
def _env() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html", "mjml"), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
