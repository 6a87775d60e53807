"""The MJML layout: a responsive inline-styled table, dark mode, readable contrast, compiled once."""

from __future__ import annotations

import dataclasses
import re

import pytest

from portal.mail import layout
from portal.mail.rendering import render
from rendering_kit import BRAND, Document, make_ctx, snapshot_ctx, with_content


# The layout


def test_html_is_a_complete_responsive_table_layout_styled_inline():
    email = render(
        make_ctx(
            promotion_code="SAVE10",
            brand=dataclasses.replace(BRAND, logo_url="https://cdn.acme.test/logo.png"),
        )
    )
    html = email.html
    assert html.lstrip().startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    doc = Document(html)
    assert doc.find("link") == [] and "@import" not in html and "url(" not in html
    # Tables for layout, one column at most 600 px wide, fluid below that.
    assert len(doc.find("table")) >= 4
    assert all(table.get("role") == "presentation" for table in doc.find("table"))
    assert set(re.findall(r"mj-column-per-\d+", html)) == {"mj-column-per-100"}
    assert "max-width:600px" in html
    assert "display:flex" not in html.replace(" ", "") and "grid" not in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "@media only screen and (max-width: 480px)" in html
    # Many clients drop <style>: everything that is drawn carries its own style attribute.
    styled = {"body", "table", "td", "div", "p", "h1", "a", "img", "span"}
    assert [
        (tag, attrs) for tag, attrs in doc.tags if tag in styled and not attrs.get("style")
    ] == []
    assert "Helvetica, Arial, sans-serif" in html
    assert not re.search(r"@font-face|fonts\.googleapis", html)
    # The subject is the document's title; the preheader opens the body, hidden.
    assert re.search(r"<title>([^<]*)</title>", html).group(1) == email.subject
    preview = re.search(r"<body[^>]*>\s*<div style=\"([^\"]*)\">([^<&]*)", html)
    assert "display:none" in preview.group(1) and preview.group(2) == email.preheader


def test_one_dark_mode_block_with_light_ink_on_dark_surfaces():
    html = render(make_ctx()).html
    assert html.count("prefers-color-scheme: dark") == 1
    assert '<meta name="color-scheme" content="light dark">' in html
    dark = html[html.index("prefers-color-scheme: dark") :]
    dark = dark[: dark.index("</style>")]
    assert "background-color: #1f2937 !important" in dark and "#f3f4f6 !important" in dark


# What a reader sees: every piece of text against the colour behind it, in Chromium, in the light
# and dark schemes. 3:1 is WCAG's floor for large text; the footer's 12 px grey sits at 4.4:1.
CONTRAST_JS = """() => {
  const rgb = s => s.match(/[\\d.]+/g).map(Number);
  const lum = c => c.slice(0, 3).map(v => v / 255)
    .map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const behind = e => {
    for (; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c;
    }
    return [255, 255, 255];
  };
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node; (node = walker.nextNode()); ) {
    const e = node.parentElement, text = node.textContent.trim();
    if (!text || !e.getClientRects().length || e.closest('[style*="display:none"]')) continue;
    const [a, b] = [lum(rgb(getComputedStyle(e).color)), lum(behind(e))];
    found.push([text.slice(0, 40), (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)]);
  }
  return found;
}"""


@pytest.mark.browser
@pytest.mark.parametrize(
    "scheme",
    [
        "light",
        "dark",
    ],
)
def test_every_text_is_readable_in_the_light_and_dark_schemes(browser, scheme):
    # No logo: the merchant's name, a link to the shop, heads the email.
    html = render(dataclasses.replace(snapshot_ctx(one_item=False), brand=BRAND)).html
    page = browser.new_page(viewport={"width": 600, "height": 800}, color_scheme=scheme)
    try:
        page.route("**/*", lambda route: route.abort())  # nothing is fetched
        page.set_content(html)
        seen = page.evaluate(CONTRAST_JS)
    finally:
        page.close()
    assert len(seen) > 20 and any(text == "Unsubscribe" for text, _ in seen)
    faint = [(text, round(ratio, 2)) for text, ratio in seen if ratio < 3]
    assert faint == [], f"text below 3:1 contrast in the {scheme} scheme"


LOGO_CONTRAST_JS = CONTRAST_JS.replace(
    "const found = [];", "const logo = document.querySelector('img.logo'); const found = [];"
).replace(
    "return found;",
    "return [lum(rgb(getComputedStyle(logo).color)), lum(behind(logo.parentElement))];",
)


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_logo_that_does_not_load_leaves_its_alt_text_readable(browser, scheme):
    # Images blocked (most mail apps' default): the shop's name, the alt text, stands in.
    brand = dataclasses.replace(BRAND, logo_url="https://cdn.acme.test/logo.png")
    html = render(dataclasses.replace(snapshot_ctx(one_item=False), brand=brand)).html
    page = browser.new_page(viewport={"width": 600, "height": 800}, color_scheme=scheme)
    try:
        page.route("**/*", lambda route: route.abort())
        page.set_content(html)
        ink, paper = page.evaluate(LOGO_CONTRAST_JS)
    finally:
        page.close()
    assert (max(ink, paper) + 0.05) / (min(ink, paper) + 0.05) >= 3


def test_no_layout_marker_is_left_in_either_part():
    email = render(make_ctx(promotion_code="SAVE10"))
    token = layout.mark("subject").removesuffix("xsubjectx")  # M + this process's random token
    for part in (email.html, email.text, email.subject, email.preheader):
        assert token not in part
        assert not re.search(r"M[0-9a-f]{16}x[a-z_]+x", part)


def test_the_layout_is_compiled_once_per_design():
    layout.compile_layout.cache_clear()
    render(make_ctx(customer_name="Ann"))
    render(make_ctx(customer_name="Bob", recovery_link="https://portal.test/r/other"))
    assert layout.compile_layout.cache_info().misses == 1
    render(with_content(headline="Another design"))
    assert layout.compile_layout.cache_info().misses == 2
