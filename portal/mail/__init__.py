"""Composing and transporting email, free of the recovery domain: `rendering` turns content and
a cart into a subject, HTML and text; `mime` writes the wire bytes; `smtp` keeps a connection to
the server; `delivery` is the one path out (SMTP, or the development outbox)."""
