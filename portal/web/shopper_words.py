"""The words of the pages a shopper reaches from a recovery email (unsubscribe, an expired
cart), in the merchant's language: the email was in it (portal.mail.words), so the page it
leads to is too. English for a language without a table here, and for any phrase a table
lacks."""

from __future__ import annotations

from markupsafe import Markup, escape

from portal.mail.words import language_of

ENGLISH = {
    "ask": "Unsubscribe from {merchant}?",
    "no_more": "{email} will get no more news, offers or cart reminders from {merchant}.",
    "button": "Unsubscribe",
    "done": "You are unsubscribed",
    "already": "You are already unsubscribed",
    "unticked": "You are not subscribed",
    "unticked_why": (
        "At your last checkout with {merchant} you left the box for news and offers unticked, "
        "so {email} gets no emails about abandoned carts from them."
    ),
    "back": "Back to {merchant}",
    "expired": "This cart has expired",
    "expired_why": "The link to your cart at {merchant} is no longer valid.",
    "visit": "Visit {merchant}",
    "broken": "This link does not work",
    "broken_why": (
        "It may have been cut short when it was copied. Open it again from the email, or "
        "copy the whole link into your browser."
    ),
    "your_address": "your address",
}

PHRASES = {
    "en": ENGLISH,
    "de": {
        "ask": "Keine E-Mails mehr von {merchant}?",
        "no_more": "{email} erhält von {merchant} keine Werbung oder Warenkorb-Erinnerungen mehr.",
        "button": "Abmelden",
        "done": "Sie sind abgemeldet",
        "already": "Sie sind bereits abgemeldet",
        "unticked": "Sie haben keine E-Mails abonniert",
        "unticked_why": (
            "Bei Ihrem letzten Einkauf bei {merchant} haben Sie das Feld für Neuigkeiten und "
            "Angebote nicht angekreuzt. Daher erhält {email} von dort keine E-Mails zu "
            "abgebrochenen Warenkörben."
        ),
        "back": "Zurück zu {merchant}",
        "expired": "Dieser Warenkorb ist abgelaufen",
        "expired_why": "Der Link zu Ihrem Warenkorb bei {merchant} ist nicht mehr gültig.",
        "visit": "Zu {merchant}",
        "broken": "Dieser Link funktioniert nicht",
        "broken_why": (
            "Vielleicht wurde er beim Kopieren abgeschnitten. Öffnen Sie ihn noch einmal aus "
            "der E-Mail, oder kopieren Sie den ganzen Link in Ihren Browser."
        ),
        "your_address": "Ihre Adresse",
    },
    "fr": {
        "ask": "Se désabonner des e-mails de {merchant}\u00a0?",
        "no_more": "{email} ne recevra plus d’offres ni de rappels de panier de {merchant}.",
        "button": "Se désabonner",
        "done": "Votre désabonnement est confirmé",
        "already": "Votre adresse était déjà désabonnée",
        "unticked": "Votre adresse n’est pas abonnée",
        "unticked_why": (
            "Lors de votre dernier achat chez {merchant}, vous n’avez pas coché la case pour "
            "les actualités et offres\u00a0: {email} ne reçoit donc pas d’e-mails de leur part "
            "au sujet de paniers abandonnés."
        ),
        "back": "Retour à {merchant}",
        "expired": "Ce panier a expiré",
        "expired_why": "Le lien vers votre panier chez {merchant} n’est plus valide.",
        "visit": "Aller sur {merchant}",
        "broken": "Ce lien ne fonctionne pas",
        "broken_why": (
            "Il a peut-être été coupé lors de la copie. Ouvrez-le de nouveau depuis l’e-mail, "
            "ou copiez le lien entier dans votre navigateur."
        ),
        "your_address": "votre adresse",
    },
    "es": {
        "ask": "¿Darte de baja de los correos de {merchant}?",
        "no_more": "{email} no recibirá más novedades, ofertas ni recordatorios de carrito de {merchant}.",
        "button": "Darme de baja",
        "done": "Te has dado de baja",
        "already": "Ya te habías dado de baja",
        "unticked": "Tu dirección no está suscrita",
        "unticked_why": (
            "En tu última compra en {merchant} dejaste sin marcar la casilla de novedades y "
            "ofertas, así que {email} no recibe correos suyos sobre carritos abandonados."
        ),
        "back": "Volver a {merchant}",
        "expired": "Este carrito ha caducado",
        "expired_why": "El enlace a tu carrito en {merchant} ya no es válido.",
        "visit": "Ir a {merchant}",
        "broken": "Este enlace no funciona",
        "broken_why": (
            "Puede que se cortara al copiarlo. Ábrelo de nuevo desde el correo, o copia el "
            "enlace completo en tu navegador."
        ),
        "your_address": "tu dirección",
    },
    "it": {
        "ask": "Annullare l’iscrizione alle email di {merchant}?",
        "no_more": "{email} non riceverà più novità, offerte o promemoria del carrello da {merchant}.",
        "button": "Annulla l’iscrizione",
        "done": "Iscrizione annullata",
        "already": "L’iscrizione era già annullata",
        "unticked": "Il tuo indirizzo non è iscritto",
        "unticked_why": (
            "Al tuo ultimo acquisto da {merchant} non hai spuntato la casella per novità e "
            "offerte, quindi {email} non riceve le loro email sui carrelli abbandonati."
        ),
        "back": "Torna a {merchant}",
        "expired": "Questo carrello è scaduto",
        "expired_why": "Il link al tuo carrello su {merchant} non è più valido.",
        "visit": "Vai a {merchant}",
        "broken": "Questo link non funziona",
        "broken_why": (
            "Forse è stato troncato durante la copia. Aprilo di nuovo dall’email, oppure "
            "copia l’intero link nel browser."
        ),
        "your_address": "il tuo indirizzo",
    },
    "nl": {
        "ask": "Afmelden voor e-mails van {merchant}?",
        "no_more": "{email} krijgt geen aanbiedingen of winkelwagenherinneringen meer van {merchant}.",
        "button": "Afmelden",
        "done": "Je bent afgemeld",
        "already": "Je was al afgemeld",
        "unticked": "Je bent niet aangemeld",
        "unticked_why": (
            "Bij je laatste bestelling bij {merchant} heb je het vakje voor nieuws en "
            "aanbiedingen niet aangevinkt, dus {email} krijgt van hen geen e-mails over "
            "achtergelaten winkelwagens."
        ),
        "back": "Terug naar {merchant}",
        "expired": "Deze winkelwagen is verlopen",
        "expired_why": "De link naar je winkelwagen bij {merchant} is niet meer geldig.",
        "visit": "Naar {merchant}",
        "broken": "Deze link werkt niet",
        "broken_why": (
            "Misschien is hij bij het kopiëren afgekapt. Open hem opnieuw vanuit de e-mail, "
            "of kopieer de hele link naar je browser."
        ),
        "your_address": "je adres",
    },
    "pt": {
        "ask": "Cancelar a inscrição nos e-mails de {merchant}?",
        "no_more": "{email} não vai receber mais ofertas nem lembretes de carrinho de {merchant}.",
        "button": "Cancelar inscrição",
        "done": "A sua inscrição foi cancelada",
        "already": "A sua inscrição já estava cancelada",
        "unticked": "O seu endereço não está inscrito",
        "unticked_why": (
            "Na sua última compra em {merchant} deixou por marcar a caixa de novidades e "
            "ofertas, por isso {email} não recebe e-mails deles sobre carrinhos abandonados."
        ),
        "back": "Voltar a {merchant}",
        "expired": "Este carrinho expirou",
        "expired_why": "O link para o seu carrinho em {merchant} já não é válido.",
        "visit": "Ir para {merchant}",
        "broken": "Este link não funciona",
        "broken_why": (
            "Talvez tenha sido cortado ao ser copiado. Abra-o de novo a partir do e-mail, ou "
            "copie o link completo para o seu navegador."
        ),
        "your_address": "o seu endereço",
    },
    "sv": {
        "ask": "Inga fler mejl från {merchant}?",
        "no_more": "{email} får inga fler erbjudanden eller varukorgspåminnelser från {merchant}.",
        "button": "Avregistrera dig",
        "done": "Du är avregistrerad",
        "already": "Du var redan avregistrerad",
        "unticked": "Du prenumererar inte",
        "unticked_why": (
            "Vid ditt senaste köp hos {merchant} kryssade du inte i rutan för nyheter och "
            "erbjudanden, så {email} får inga mejl från dem om övergivna varukorgar."
        ),
        "back": "Tillbaka till {merchant}",
        "expired": "Den här varukorgen har gått ut",
        "expired_why": "Länken till din varukorg hos {merchant} gäller inte längre.",
        "visit": "Gå till {merchant}",
        "broken": "Den här länken fungerar inte",
        "broken_why": (
            "Den kan ha kapats när den kopierades. Öppna den igen från mejlet, eller kopiera "
            "hela länken till din webbläsare."
        ),
        "your_address": "din adress",
    },
    "da": {
        "ask": "Afmeld e-mails fra {merchant}?",
        "no_more": "{email} får ikke flere tilbud eller påmindelser om indkøbskurven fra {merchant}.",
        "button": "Afmeld",
        "done": "Du er afmeldt",
        "already": "Du var allerede afmeldt",
        "unticked": "Du er ikke tilmeldt",
        "unticked_why": (
            "Ved dit seneste køb hos {merchant} satte du ikke kryds i feltet for nyheder og "
            "tilbud, så {email} får ingen e-mails fra dem om forladte kurve."
        ),
        "back": "Tilbage til {merchant}",
        "expired": "Denne kurv er udløbet",
        "expired_why": "Linket til din kurv hos {merchant} er ikke længere gyldigt.",
        "visit": "Gå til {merchant}",
        "broken": "Dette link virker ikke",
        "broken_why": (
            "Det er måske blevet afkortet, da det blev kopieret. Åbn det igen fra e-mailen, "
            "eller kopiér hele linket ind i din browser."
        ),
        "your_address": "din adresse",
    },
    "nb": {
        "ask": "Meld deg av e-post fra {merchant}?",
        "no_more": "{email} får ikke flere tilbud eller påminnelser om handlekurven fra {merchant}.",
        "button": "Meld deg av",
        "done": "Du er meldt av",
        "already": "Du var allerede meldt av",
        "unticked": "Du er ikke påmeldt",
        "unticked_why": (
            "Ved ditt siste kjøp hos {merchant} krysset du ikke av i feltet for nyheter og "
            "tilbud, så {email} får ingen e-poster fra dem om forlatte handlekurver."
        ),
        "back": "Tilbake til {merchant}",
        "expired": "Denne handlekurven har utløpt",
        "expired_why": "Lenken til handlekurven din hos {merchant} er ikke lenger gyldig.",
        "visit": "Gå til {merchant}",
        "broken": "Denne lenken virker ikke",
        "broken_why": (
            "Den kan ha blitt kuttet da den ble kopiert. Åpne den på nytt fra e-posten, eller "
            "kopier hele lenken inn i nettleseren din."
        ),
        "your_address": "adressen din",
    },
    "pl": {
        "ask": "Wypisać się z e-maili od {merchant}?",
        "no_more": "{email} nie dostanie już od {merchant} ofert ani przypomnień o koszyku.",
        "button": "Wypisz się",
        "done": "Wypisano Cię",
        "already": "Już wcześniej Cię wypisano",
        "unticked": "Twój adres nie jest zapisany",
        "unticked_why": (
            "Przy ostatnich zakupach w {merchant} pole dotyczące nowości i ofert pozostało "
            "niezaznaczone, więc {email} nie otrzymuje od nich e-maili o porzuconych koszykach."
        ),
        "back": "Wróć do {merchant}",
        "expired": "Ten koszyk wygasł",
        "expired_why": "Link do Twojego koszyka w {merchant} jest już nieaktualny.",
        "visit": "Przejdź do {merchant}",
        "broken": "Ten link nie działa",
        "broken_why": (
            "Mógł zostać ucięty przy kopiowaniu. Otwórz go ponownie z e-maila albo skopiuj "
            "cały link do przeglądarki."
        ),
        "your_address": "Twój adres",
    },
}


class Phrases:
    """The shopper pages' phrases in one language, filled and escaped: `say("back",
    merchant="Acme")` gives Markup; the page's `lang` is `language`."""

    def __init__(self, locale: str | None) -> None:
        language = language_of(locale)
        self.language = language if language in PHRASES else "en"
        self.table = PHRASES[self.language]

    def __call__(self, key: str, email: Markup | str = "", merchant: str = "") -> Markup:
        """The phrase `key`, its text escaped, {email} and {merchant} replaced by the values
        (escaped unless Markup); a name ending in a full stop does not get a second one."""
        text = escape(self.table.get(key, ENGLISH[key]))
        if merchant.endswith((".", "!", "?", "…")):
            text = text.replace("{merchant}.", "{merchant}")
        return text.replace("{email}", email).replace("{merchant}", merchant)
