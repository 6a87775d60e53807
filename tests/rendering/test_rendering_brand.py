"""Brand rules in rendered emails: colours, logos, images and their alt text."""

from __future__ import annotations

import dataclasses

import pytest
from markupsafe import escape

from portal.mail.rendering import LineItem, render
from rendering_kit import BRAND, Document, button, make_ctx, with_brand


# Brand rules


@pytest.mark.parametrize(
    "color", ["red", "#fff", "#12345g", "#123456;background:url(x)", "", "4f46e5"]
)
def test_bad_brand_colour_falls_back(color):
    email = render(with_brand(color=color))
    assert "background:#4f46e5;" in button(email)["style"]
    assert "border-top: 4px solid #4f46e5" in email.html
    assert "url(x)" not in email.html and "red;" not in email.html
    assert "#123456" not in email.html and "#12345g" not in email.html


@pytest.mark.parametrize(
    "color, text",
    [
        ("#4f46e5", "#ffffff"),
        ("#000000", "#ffffff"),
        ("#b91c1c", "#ffffff"),
        ("#fde047", "#111827"),
        ("#ffffff", "#111827"),
        ("#A7F3D0", "#111827"),
    ],
)
def test_button_takes_the_brand_colour_with_readable_text(color, text):
    email = render(with_brand(color=color))
    style = button(email)["style"]
    assert f"background:{color.lower()};" in style and f";color:{text};" in style
    assert f'bgcolor="{color.lower()}"' in email.html


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        "http://cdn.acme.test/logo.png",
        "data:image/png;base64,AAAA",
        "//cdn.acme.test/logo.png",
        "/logo.png",
        "https:///nohost.png",
        "https://cdn.acme.test/a b.png",
        "https://[::1/logo.png",
        "https://cdn.acme.test/\u200blogo.png",
    ],
)
def test_unsafe_logo_url_is_not_used(url):
    email = render(with_brand(logo_url=url))
    assert url not in email.html and str(escape(url)) not in email.html
    assert [img["src"] for img in Document(email.html).find("img")] == [
        "https://cdn.acme.test/shirt.png"
    ]
    assert ">Acme Goods</a>" in email.html  # the name stands in for the logo


@pytest.mark.parametrize(
    "url", ["https://cdn.acme.test/logo.png", "http://localhost:5000/logo.png"]
)
def test_https_logo_url_is_used_and_plain_http_only_on_localhost(url):
    assert url in [
        img["src"] for img in Document(render(with_brand(logo_url=url)).html).find("img")
    ]


def test_unsafe_item_image_and_shop_url_are_dropped():
    email = render(
        make_ctx(
            brand=dataclasses.replace(BRAND, shop_url="javascript:alert(2)"),
            items=(LineItem("Hat", 1, 100, "usd", "javascript:alert(1)"),),
        )
    )
    assert "javascript" not in email.html
    assert Document(email.html).find("img") == []


def test_images_carry_alt_text_the_logo_the_merchant_name_and_items_their_names():
    email = render(with_brand(logo_url="https://cdn.acme.test/logo.png"))
    images = {img["src"]: img for img in Document(email.html).find("img")}
    assert images["https://cdn.acme.test/logo.png"]["alt"] == "Acme Goods"
    assert images["https://cdn.acme.test/shirt.png"]["alt"] == "Linen shirt"
    assert len(images) == 2  # the mug has no picture, and no empty <img> stands in for it
    assert all(img["alt"].strip() for img in images.values())
