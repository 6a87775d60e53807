"""The recovery email's fixed lines (the cart's heading, "Total", the code, until when the cart
is saved, the unsubscribe line) in the merchant's language: the email's own texts are theirs,
written in that language, and one email should not mix two. English for a language without a
table here. Pure data and lookups."""

from __future__ import annotations

from typing import NamedTuple


class Words(NamedTuple):
    """One language's fixed lines. `{count}`, `{code}`, `{date}` and `{merchant}` are filled
    in by the renderer; `unsubscribe` is (before, linked words, after)."""

    language: str  # the <html lang> of the email
    one_item: str
    many_items: str
    quantity: str  # beside an item in the HTML part
    quantity_text: str  # the same, in the plain-text part's brackets
    total: str
    code: str  # a sentence without its full stop: the HTML part shows it on its own
    saved_until: str
    questions: str
    unsubscribe: tuple[str, str, str]
    # Who "Hi {customer_name}," greets when Stripe gave no name; "" drops the placeholder and
    # the spaces before it ("Hallo,"), where the language has no word that reads right there.
    anonymous: str = ""
    colon: str = ":"  # before a list or a link in the plain-text part ("Total : " in French)


ENGLISH = Words(
    "en",
    one_item="You left this in your cart",
    many_items="You left these {count} items in your cart",
    quantity="Qty {count}",
    quantity_text="qty {count}",
    total="Total",
    code="Use code {code} at checkout",
    saved_until="Your saved cart is available until {date}.",
    questions="Questions?",
    unsubscribe=("", "Unsubscribe", " from {merchant} emails"),
    anonymous="there",
)

# Dates arrive in the language's long form ("21. Dezember 2026", "21 de diciembre de 2026"),
# which each sentence below was written around.
WORDS = {
    "en": ENGLISH,
    "de": Words(
        "de",
        one_item="Das liegt noch in Ihrem Warenkorb",
        many_items="Diese {count} Artikel liegen noch in Ihrem Warenkorb",
        quantity="Menge: {count}",
        quantity_text="Menge: {count}",
        total="Gesamt",
        code="Verwenden Sie beim Bezahlen den Code {code}",
        saved_until="Ihr Warenkorb ist bis zum {date} gespeichert.",
        questions="Fragen?",
        unsubscribe=("", "Abmelden", ": keine E-Mails mehr von {merchant}"),
    ),
    "fr": Words(
        "fr",
        one_item="Vous avez laissé cet article dans votre panier",
        many_items="Vous avez laissé ces {count} articles dans votre panier",
        quantity="Qté {count}",
        quantity_text="qté {count}",
        total="Total",
        code="Utilisez le code {code} lors du paiement",
        saved_until="Votre panier est conservé jusqu’au {date}.",
        questions="Des questions\u00a0?",
        unsubscribe=("", "Se désabonner", " des e-mails de {merchant}"),
        colon="\u00a0:",
    ),
    "es": Words(
        "es",
        one_item="Dejaste esto en tu carrito",
        many_items="Dejaste estos {count} artículos en tu carrito",
        quantity="Cant.: {count}",
        quantity_text="cant.: {count}",
        total="Total",
        code="Usa el código {code} al pagar",
        saved_until="Tu carrito está guardado hasta el {date}.",
        questions="¿Preguntas?",
        unsubscribe=("", "Darse de baja", " de los correos de {merchant}"),
    ),
    "it": Words(
        "it",
        one_item="Hai lasciato questo articolo nel carrello",
        many_items="Hai lasciato questi {count} articoli nel carrello",
        quantity="Qtà {count}",
        quantity_text="qtà {count}",
        total="Totale",
        code="Usa il codice {code} al momento del pagamento",
        saved_until="Il tuo carrello è salvato fino al {date}.",
        questions="Domande?",
        unsubscribe=("", "Annulla l’iscrizione", " alle email di {merchant}"),
    ),
    "nl": Words(
        "nl",
        one_item="Dit ligt nog in je winkelwagen",
        many_items="Deze {count} artikelen liggen nog in je winkelwagen",
        quantity="Aantal: {count}",
        quantity_text="aantal: {count}",
        total="Totaal",
        code="Gebruik code {code} bij het afrekenen",
        saved_until="Je winkelwagen wordt bewaard tot {date}.",
        questions="Vragen?",
        unsubscribe=("", "Afmelden", " voor e-mails van {merchant}"),
    ),
    "pt": Words(
        "pt",
        one_item="Deixou isto no seu carrinho",
        many_items="Deixou estes {count} itens no seu carrinho",
        quantity="Qtd.: {count}",
        quantity_text="qtd.: {count}",
        total="Total",
        code="Use o código {code} ao finalizar a compra",
        saved_until="O seu carrinho fica guardado até {date}.",
        questions="Dúvidas?",
        unsubscribe=("", "Cancelar inscrição", " nos e-mails de {merchant}"),
    ),
    "sv": Words(
        "sv",
        one_item="Du lämnade detta i din varukorg",
        many_items="Du lämnade dessa {count} artiklar i din varukorg",
        quantity="Antal: {count}",
        quantity_text="antal: {count}",
        total="Totalt",
        code="Använd koden {code} i kassan",
        saved_until="Din varukorg sparas till och med {date}.",
        questions="Frågor?",
        unsubscribe=("", "Avregistrera dig", ": inga fler mejl från {merchant}"),
    ),
    "da": Words(
        "da",
        one_item="Du efterlod dette i din kurv",
        many_items="Du efterlod disse {count} varer i din kurv",
        quantity="Antal: {count}",
        quantity_text="antal: {count}",
        total="I alt",
        code="Brug koden {code} ved betaling",
        saved_until="Din kurv er gemt til og med {date}.",
        questions="Spørgsmål?",
        unsubscribe=("", "Afmeld", " e-mails fra {merchant}"),
    ),
    "nb": Words(
        "nb",
        one_item="Du la igjen dette i handlekurven",
        many_items="Du la igjen disse {count} varene i handlekurven",
        quantity="Antall: {count}",
        quantity_text="antall: {count}",
        total="Totalt",
        code="Bruk koden {code} i kassen",
        saved_until="Handlekurven din er lagret til og med {date}.",
        questions="Spørsmål?",
        unsubscribe=("", "Meld deg av", " e-post fra {merchant}"),
    ),
    "pl": Words(
        "pl",
        one_item="Ten produkt czeka w Twoim koszyku",
        # "(3)" rather than "3 produkty": Polish nouns take three plural forms.
        many_items="W Twoim koszyku czekają produkty ({count})",
        quantity="Ilość: {count}",
        quantity_text="ilość: {count}",
        total="Razem",
        code="Użyj kodu {code} przy płatności",
        saved_until="Twój koszyk jest zapisany do {date}.",
        questions="Pytania?",
        unsubscribe=("", "Wypisz się", " z e-maili od {merchant}"),
    ),
}
ALIASES = {"no": "nb", "nn": "nb"}  # Norwegian: Bokmål's words read right to a Nynorsk reader


def language_of(locale: str | None) -> str:
    """The language a locale names ("de_AT", "de-AT" or "de" -> "de"; Norwegian's -> "nb")."""
    language = (locale or "").replace("-", "_").partition("_")[0].lower()
    return ALIASES.get(language, language)


def words_for(locale: str | None) -> Words:
    """The fixed lines for the language of `locale`; English for none, or for a language
    without a table here."""
    return WORDS.get(language_of(locale), ENGLISH)


def languages() -> list[str]:
    """The languages with their own fixed lines, as codes ("de", "fr", ...), English first."""
    return list(WORDS)
