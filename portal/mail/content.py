"""The merchant-editable texts of a recovery email: the defaults of each step, the fixed list of
placeholders, and the checks a design must pass before it is saved. Pure.

Placeholders are filled by a small routine of our own (never `str.format`, which would let
`{merchant_name.__class__}` reach attributes): a value is a plain string, nothing is evaluated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from portal.mail.mime import BIDI, HIDDEN

PLACEHOLDERS = (
    "merchant_name",
    "customer_name",
    "cart_total",
    "recovery_link_expires",
    "promotion_code",
)
# Each field: its name in words, its longest length, whether it may be empty. The limits keep a
# whole email well under the 102 KB at which Gmail clips a message.
FIELDS = {
    "subject": ("subject", 150, True),
    "preheader": ("preheader", 200, False),
    "headline": ("headline", 150, True),
    "body": ("body", 2000, True),
    "button_label": ("button label", 40, True),
    "footer": ("footer", 600, False),
}
ONE_LINE = frozenset({"subject", "preheader", "headline", "button_label"})
LINE_BREAK = re.compile("[\r\n\x0b\x0c\x85\u2028\u2029]")
# Control characters but tab and line ends: never meant, some unsendable (a NUL cannot even be
# stored). Line ends are a one-line field's own message.
INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f]")
# One pass over a text: an escaped brace, or a single-braced name (anything up to the close).
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
HIDDEN_WORDS = (
    "Remove the invisible character (paste as plain text): in a subject or heading it hides "
    "text, or turns it around."
)
LONE_BRACE_WORDS = (
    "A brace is not closed: write a placeholder with both, like {cart_total}, and a brace "
    "itself as {{ or }}."
)


@dataclass(frozen=True)
class Content:
    """The merchant-editable texts, with placeholders; blank lines separate `body` paragraphs."""

    subject: str
    preheader: str
    headline: str
    body: str
    button_label: str
    footer: str


DEFAULT_CONTENT = Content(
    subject="You left something in your cart at {merchant_name}",
    preheader="We saved your cart, so you can pick up right where you left off.",
    headline="Still thinking it over?",
    body=(
        "Hi {customer_name},\n\n"
        "We saved your cart at {merchant_name}, so finishing your order takes just a click."
    ),
    button_label="Return to your cart",
    footer="You're receiving this email because you asked {merchant_name} to keep you "
    "updated when you checked out.",
)

# The follow-ups' defaults: the same design, words that fit a second and a last reminder.
FOLLOW_UP_CONTENT = (
    replace(
        DEFAULT_CONTENT,
        subject="Your cart at {merchant_name} is still waiting",
        preheader="Everything you picked is still there, one click away.",
        headline="Your cart is still here",
        body="Hi {customer_name},\n\n"
        "The things you picked at {merchant_name} are still in your cart. "
        "Come back whenever you're ready.",
    ),
    replace(
        DEFAULT_CONTENT,
        subject="Last reminder: your cart at {merchant_name}",
        preheader="After this, we won't remind you again.",
        headline="One last reminder",
        body="Hi {customer_name},\n\n"
        "This is our last note about your cart at {merchant_name}. "
        "If you still want it, it's one click away.",
    ),
)


def default_content(step: int) -> Content:
    """The built-in texts of step `step` (0: the first email; 1 and 2: the follow-ups)."""
    return DEFAULT_CONTENT if step <= 0 else FOLLOW_UP_CONTENT[min(step, 2) - 1]


def check_placeholders(text: str) -> list[str]:
    """The unknown placeholder names used in `text` (as written between the braces, each once,
    in order of appearance); [] when every placeholder is known. "{{" and "}}" are literal braces."""
    unknown: list[str] = []
    for match in _TOKEN.finditer(text):
        name = match.group(1)
        if name is not None and name not in PLACEHOLDERS and name not in unknown:
            unknown.append(name)
    return unknown


def intended(written: str) -> str | None:
    """The placeholder `written` (what stands between braces) was surely meant to be, forgiving
    case, spaces and hyphens ("Customer Name" → "customer_name"); None when it resembles none."""
    name = re.sub(r"[\s-]+", "_", written.strip()).lower()
    return name if name in PLACEHOLDERS else None


def doubled_placeholders(text: str) -> list[str]:
    """The placeholders written in double braces in `text` ("{{ customer_name }}"), each once by
    the name meant; [] when there is none. They would reach the shopper as literal text."""
    # Other email tools write placeholders so ({{ first_name }}); here "{{" and "}}" are escaped
    # braces, read in the same one pass as fill() reads them, so "{{{name}}}" is no mistake.
    found: list[str] = []
    tokens = list(_TOKEN.finditer(text))
    for opening, closing in zip(tokens, tokens[1:]):
        if opening.group(0) == "{{" and closing.group(0) == "}}":
            name = intended(text[opening.end() : closing.start()])
            if name and name not in found:
                found.append(name)
    return found


def fill(text: str, values: dict[str, str]) -> str:
    """`text` with each known {name} replaced by its value, "{{"/"}}" turned into single braces
    and anything else left exactly as written. Values are plain strings: nothing is evaluated."""

    def substitute(match: re.Match) -> str:
        token, name = match.group(0), match.group(1)
        if name is None:
            return token[0]
        return values.get(name, token)

    return _TOKEN.sub(substitute, text)


def problems(content: Content) -> list[tuple[str, str]]:
    """What keeps `content` from being saved, as (field name, message in words), in the order
    of the form; [] when it may be saved. Every field is checked, so all are reported at once."""
    found = []
    for name, (label, limit, required) in FIELDS.items():
        text = getattr(content, name)
        unknown, doubled = check_placeholders(text), doubled_placeholders(text)
        if required and not text.strip():
            found.append((name, f"Enter the {label}."))
        elif len(text) > limit:
            found.append((name, f"Use at most {limit} characters (this has {len(text)})."))
        elif name in ONE_LINE and LINE_BREAK.search(text):
            found.append((name, "Keep this to one line."))
        elif INVISIBLE.search(text):
            found.append((name, "Remove the invisible control character (paste as plain text)."))
        elif name in ONE_LINE and (BIDI.search(text) or HIDDEN.search(text)):
            found.append((name, HIDDEN_WORDS))
        elif unknown:
            found.append((name, _unknown_words(unknown)))
        elif doubled:
            found.append((name, _doubled_words(doubled)))
        elif set("{}") & set(_TOKEN.sub("", text)):  # a brace left after every token
            found.append((name, LONE_BRACE_WORDS))
    return found


def _unknown_words(unknown: list[str]) -> str:
    names = ", ".join("{%s}" % name for name in unknown)
    known = ", ".join("{%s}" % name for name in PLACEHOLDERS)
    noun = "placeholder" if len(unknown) == 1 else "placeholders"
    meant = [intended(name) for name in unknown]
    if len(unknown) == 1 and meant[0]:
        return f"Unknown placeholder {names}: did you mean {{{meant[0]}}}?"
    return (
        f"Unknown {noun} {names}: use one of {known} (to show a brace itself, write {{{{ or }}}})."
    )


def _doubled_words(doubled: list[str]) -> str:
    names = ", ".join("{%s}" % name for name in doubled)
    return (
        f"Write {names} in single braces: in double braces the shopper would read the braces "
        "and the name as typed."
    )
