"""The built-in texts of the three recovery emails in the languages that have fixed lines
(portal.mail.words): a merchant who writes in German and has not edited an email sends it in
German from the first day, not half in English. English is in portal.mail.content."""

from __future__ import annotations

from portal.mail.content import Content
from portal.mail.content import default_content as english
from portal.mail.words import words_for

# Per language: the first email's six texts, then (subject, preheader, headline, body) of the
# second and the last; the follow-ups keep the first's button and footer.
TEXTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "de": (
        (
            "Sie haben etwas in Ihrem Warenkorb bei {merchant_name} vergessen",
            "Wir haben Ihren Warenkorb gespeichert: Sie machen genau dort weiter, wo Sie "
            "aufgehört haben.",
            "Noch unentschlossen?",
            "Hallo {customer_name},\n\nwir haben Ihren Warenkorb bei {merchant_name} "
            "gespeichert. Mit einem Klick schließen Sie Ihre Bestellung ab.",
            "Zurück zum Warenkorb",
            "Sie erhalten diese E-Mail, weil Sie an der Kasse von {merchant_name} zugestimmt "
            "haben, auf dem Laufenden gehalten zu werden.",
        ),
        (
            "Ihr Warenkorb bei {merchant_name} wartet noch",
            "Alles, was Sie ausgewählt haben, ist noch da: nur einen Klick entfernt.",
            "Ihr Warenkorb ist noch da",
            "Hallo {customer_name},\n\ndie Artikel, die Sie bei {merchant_name} ausgewählt "
            "haben, liegen noch in Ihrem Warenkorb. Kommen Sie zurück, wann immer Sie möchten.",
        ),
        (
            "Letzte Erinnerung: Ihr Warenkorb bei {merchant_name}",
            "Danach erinnern wir Sie nicht mehr.",
            "Eine letzte Erinnerung",
            "Hallo {customer_name},\n\ndies ist unsere letzte Nachricht zu Ihrem Warenkorb bei "
            "{merchant_name}. Wenn Sie ihn noch möchten, ist er nur einen Klick entfernt.",
        ),
    ),
    "fr": (
        (
            "Vous avez oublié quelque chose dans votre panier chez {merchant_name}",
            "Nous avons gardé votre panier\u00a0: vous pouvez reprendre votre commande en un "
            "clic.",
            "Vous hésitez encore\u00a0?",
            "Bonjour {customer_name},\n\nNous avons gardé votre panier chez {merchant_name}\u00a0: "
            "il ne vous reste qu’un clic pour finaliser votre commande.",
            "Retour au panier",
            "Vous recevez cet e-mail car, sur la page de paiement de {merchant_name}, vous avez "
            "accepté d’être tenu(e) informé(e).",
        ),
        (
            "Votre panier chez {merchant_name} vous attend toujours",
            "Tout ce que vous avez choisi est toujours là, à un clic.",
            "Votre panier est toujours là",
            "Bonjour {customer_name},\n\nLes articles que vous avez choisis chez {merchant_name} "
            "sont toujours dans votre panier. Revenez quand vous le souhaitez.",
        ),
        (
            "Dernier rappel\u00a0: votre panier chez {merchant_name}",
            "Après ce message, nous ne vous relancerons plus.",
            "Un dernier rappel",
            "Bonjour {customer_name},\n\nCeci est notre dernier message au sujet de votre panier "
            "chez {merchant_name}. Si vous le souhaitez toujours, il est à un clic.",
        ),
    ),
    "es": (
        (
            "Dejaste algo en tu carrito de {merchant_name}",
            "Guardamos tu carrito para que sigas justo donde lo dejaste.",
            "¿Todavía lo estás pensando?",
            "Hola {customer_name},\n\nGuardamos tu carrito en {merchant_name}: terminar tu "
            "pedido solo te llevará un clic.",
            "Volver a tu carrito",
            "Recibes este correo porque, en la página de pago de {merchant_name}, aceptaste que "
            "te mantuvieran al tanto.",
        ),
        (
            "Tu carrito en {merchant_name} te sigue esperando",
            "Todo lo que elegiste sigue ahí, a un clic.",
            "Tu carrito sigue aquí",
            "Hola {customer_name},\n\nLo que elegiste en {merchant_name} sigue en tu carrito. "
            "Vuelve cuando quieras.",
        ),
        (
            "Último recordatorio: tu carrito en {merchant_name}",
            "Después de este, no te lo volveremos a recordar.",
            "Un último recordatorio",
            "Hola {customer_name},\n\nEste es nuestro último mensaje sobre tu carrito en "
            "{merchant_name}. Si todavía lo quieres, está a un clic.",
        ),
    ),
    "it": (
        (
            "Hai dimenticato qualcosa nel carrello di {merchant_name}",
            "Abbiamo salvato il tuo carrello: riprendi da dove avevi lasciato.",
            "Ci stai ancora pensando?",
            "Ciao {customer_name},\n\nabbiamo salvato il tuo carrello su {merchant_name}: per "
            "completare l’ordine basta un clic.",
            "Torna al carrello",
            "Ricevi questa email perché, nella pagina di pagamento di {merchant_name}, hai "
            "chiesto di essere tenuto aggiornato.",
        ),
        (
            "Il tuo carrello su {merchant_name} ti aspetta ancora",
            "Tutto ciò che hai scelto è ancora lì, a un clic di distanza.",
            "Il tuo carrello è ancora qui",
            "Ciao {customer_name},\n\ngli articoli che hai scelto su {merchant_name} sono ancora "
            "nel carrello. Torna quando vuoi.",
        ),
        (
            "Ultimo promemoria: il tuo carrello su {merchant_name}",
            "Dopo questo, non ti scriveremo più.",
            "Un ultimo promemoria",
            "Ciao {customer_name},\n\nquesto è il nostro ultimo messaggio sul tuo carrello su "
            "{merchant_name}. Se lo vuoi ancora, è a un clic di distanza.",
        ),
    ),
    "nl": (
        (
            "Je hebt iets achtergelaten in je winkelwagen bij {merchant_name}",
            "We hebben je winkelwagen bewaard, zodat je verder kunt waar je gebleven was.",
            "Twijfel je nog?",
            "Hoi {customer_name},\n\nWe hebben je winkelwagen bij {merchant_name} bewaard. Je "
            "bestelling afronden kost maar één klik.",
            "Terug naar je winkelwagen",
            "Je ontvangt deze e-mail omdat je {merchant_name} bij het afrekenen hebt gevraagd "
            "je op de hoogte te houden.",
        ),
        (
            "Je winkelwagen bij {merchant_name} wacht nog op je",
            "Alles wat je hebt uitgekozen ligt nog klaar, één klik verderop.",
            "Je winkelwagen staat nog klaar",
            "Hoi {customer_name},\n\nWat je bij {merchant_name} hebt uitgekozen, ligt nog in je "
            "winkelwagen. Kom terug wanneer het je uitkomt.",
        ),
        (
            "Laatste herinnering: je winkelwagen bij {merchant_name}",
            "Hierna sturen we geen herinneringen meer.",
            "Een laatste herinnering",
            "Hoi {customer_name},\n\nDit is ons laatste bericht over je winkelwagen bij "
            "{merchant_name}. Wil je hem nog? Hij is maar één klik verwijderd.",
        ),
    ),
    "pt": (
        (
            "Deixou algo no seu carrinho em {merchant_name}",
            "Guardamos o seu carrinho para que possa continuar onde parou.",
            "Ainda com dúvidas?",
            "Olá {customer_name},\n\nGuardamos o seu carrinho em {merchant_name}: concluir a sua "
            "compra está a um clique.",
            "Voltar ao carrinho",
            "Recebe este e-mail porque, ao finalizar a compra, pediu a {merchant_name} para o "
            "manter informado.",
        ),
        (
            "O seu carrinho em {merchant_name} continua à sua espera",
            "Tudo o que escolheu continua lá, a um clique.",
            "O seu carrinho continua aqui",
            "Olá {customer_name},\n\nOs artigos que escolheu em {merchant_name} continuam no seu "
            "carrinho. Volte quando quiser.",
        ),
        (
            "Último lembrete: o seu carrinho em {merchant_name}",
            "Depois deste, não voltaremos a lembrá-lo.",
            "Um último lembrete",
            "Olá {customer_name},\n\nEsta é a nossa última mensagem sobre o seu carrinho em "
            "{merchant_name}. Se ainda o quiser, está a um clique.",
        ),
    ),
    "sv": (
        (
            "Du har glömt något i din varukorg hos {merchant_name}",
            "Vi har sparat din varukorg så att du kan fortsätta där du slutade.",
            "Funderar du fortfarande?",
            "Hej {customer_name},\n\nVi har sparat din varukorg hos {merchant_name}, så det tar "
            "bara ett klick att slutföra beställningen.",
            "Tillbaka till varukorgen",
            "Du får det här mejlet eftersom du bad {merchant_name} att hålla dig uppdaterad när "
            "du handlade.",
        ),
        (
            "Din varukorg hos {merchant_name} väntar fortfarande",
            "Allt du valde finns kvar, ett klick bort.",
            "Din varukorg finns kvar",
            "Hej {customer_name},\n\nDet du valde hos {merchant_name} ligger kvar i din "
            "varukorg. Kom tillbaka när det passar dig.",
        ),
        (
            "Sista påminnelsen: din varukorg hos {merchant_name}",
            "Efter det här påminner vi dig inte igen.",
            "En sista påminnelse",
            "Hej {customer_name},\n\nDet här är vårt sista meddelande om din varukorg hos "
            "{merchant_name}. Om du fortfarande vill ha den är den bara ett klick bort.",
        ),
    ),
    "da": (
        (
            "Du har glemt noget i din kurv hos {merchant_name}",
            "Vi har gemt din kurv, så du kan fortsætte, hvor du slap.",
            "Tænker du stadig over det?",
            "Hej {customer_name},\n\nVi har gemt din kurv hos {merchant_name}, så det kun tager "
            "ét klik at gennemføre din ordre.",
            "Tilbage til kurven",
            "Du modtager denne e-mail, fordi du bad {merchant_name} om at holde dig opdateret, "
            "da du handlede.",
        ),
        (
            "Din kurv hos {merchant_name} venter stadig",
            "Alt, hvad du valgte, ligger der stadig, ét klik væk.",
            "Din kurv er her stadig",
            "Hej {customer_name},\n\nDe varer, du valgte hos {merchant_name}, ligger stadig i "
            "din kurv. Kom tilbage, når det passer dig.",
        ),
        (
            "Sidste påmindelse: din kurv hos {merchant_name}",
            "Herefter minder vi dig ikke om det igen.",
            "En sidste påmindelse",
            "Hej {customer_name},\n\nDette er vores sidste besked om din kurv hos "
            "{merchant_name}. Hvis du stadig vil have den, er den kun ét klik væk.",
        ),
    ),
    "nb": (
        (
            "Du har glemt noe i handlekurven hos {merchant_name}",
            "Vi har lagret handlekurven din, så du kan fortsette der du slapp.",
            "Tenker du fortsatt på det?",
            "Hei {customer_name},\n\nVi har lagret handlekurven din hos {merchant_name}, så det "
            "tar bare ett klikk å fullføre bestillingen.",
            "Tilbake til handlekurven",
            "Du får denne e-posten fordi du ba {merchant_name} om å holde deg oppdatert da du "
            "handlet.",
        ),
        (
            "Handlekurven din hos {merchant_name} venter fortsatt",
            "Alt du valgte ligger der fortsatt, ett klikk unna.",
            "Handlekurven din er her fortsatt",
            "Hei {customer_name},\n\nVarene du valgte hos {merchant_name} ligger fortsatt i "
            "handlekurven. Kom tilbake når det passer deg.",
        ),
        (
            "Siste påminnelse: handlekurven din hos {merchant_name}",
            "Etter dette minner vi deg ikke på det igjen.",
            "En siste påminnelse",
            "Hei {customer_name},\n\nDette er vår siste melding om handlekurven din hos "
            "{merchant_name}. Vil du fortsatt ha den, er den bare ett klikk unna.",
        ),
    ),
    "pl": (
        (
            "Coś zostało w Twoim koszyku w {merchant_name}",
            "Zapisaliśmy Twój koszyk, więc możesz dokończyć zakupy w dowolnej chwili.",
            "Jeszcze się zastanawiasz?",
            "Cześć {customer_name},\n\nZapisaliśmy Twój koszyk w {merchant_name}. Dokończenie "
            "zamówienia zajmie tylko jedno kliknięcie.",
            "Wróć do koszyka",
            "Ta wiadomość trafia do Ciebie, ponieważ przy zakupach w {merchant_name} zaznaczono "
            "zgodę na otrzymywanie informacji.",
        ),
        (
            "Twój koszyk w {merchant_name} wciąż czeka",
            "Wybrane produkty wciąż tam są, jedno kliknięcie dalej.",
            "Twój koszyk wciąż tu jest",
            "Cześć {customer_name},\n\nProdukty wybrane w {merchant_name} wciąż są w Twoim "
            "koszyku. Wróć, kiedy zechcesz.",
        ),
        (
            "Ostatnie przypomnienie: Twój koszyk w {merchant_name}",
            "Po tej wiadomości nie będziemy już przypominać.",
            "Ostatnie przypomnienie",
            "Cześć {customer_name},\n\nTo nasza ostatnia wiadomość o Twoim koszyku w "
            "{merchant_name}. Jeśli nadal go chcesz, wystarczy jedno kliknięcie.",
        ),
    ),
}


def default_content(step: int, locale: str | None = None) -> Content:
    """The built-in texts of `step` (0: the first email; 1 and 2: the follow-ups) in the
    language of `locale` (the merchant's), English when there are none in it."""
    steps = TEXTS.get(words_for(locale).language)
    if steps is None:
        return english(step)
    first = steps[0]
    texts = first if step <= 0 else steps[min(step, 2)] + first[4:]
    return Content(*texts)
