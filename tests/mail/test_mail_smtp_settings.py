"""SMTP settings: parsing the URL, STARTTLS, SMTPS, certificates and AUTH against aiosmtpd."""

from __future__ import annotations


import pytest

from portal.mail.smtp import DeliveryStatus, parse_smtp_url
from portal.mail.mime import compose
from smtp_sink import SmtpSink
from mail_kit import OUT


@pytest.mark.parametrize(
    "url, expected",
    [
        ("smtp://mail.example", ("smtp", "mail.example", 25, None, None, "auto", True)),
        (
            "smtp://ann%40shop:p%3Aw%2Fd@mail.example:587",
            ("smtp", "mail.example", 587, "ann@shop", "p:w/d", "auto", True),
        ),
        ("smtps://mail.example", ("smtps", "mail.example", 465, None, None, "auto", True)),
        (
            "smtp://127.0.0.1:2525?starttls=required&verify=false",
            ("smtp", "127.0.0.1", 2525, None, None, "required", False),
        ),
        (
            "smtp://localhost:1025/?starttls=off",
            ("smtp", "localhost", 1025, None, None, "off", True),
        ),
    ],
)
def test_parse_smtp_url(url, expected):
    s = parse_smtp_url(url)
    assert (s.scheme, s.host, s.port, s.username, s.password, s.starttls, s.verify_tls) == expected


@pytest.mark.parametrize(
    "url, problem",
    [
        ("http://mail.example", "scheme"),
        ("mail.example:25", "scheme"),
        ("smtp://", "host"),
        ("smtp://mail.example:99999", "port"),
        ("smtp://mail.example:abc", "port"),
        ("smtp://mail.example:0", "port"),
        ("smtp://mail.example/inbox", "path"),
        ("smtp://mail.example?starttls=maybe", "unknown starttls=maybe"),
        ("smtp://mail.example?tls=1", "unknown tls=1"),
        ("smtp://ann:p%C3%A4ss@mail.example", "ASCII"),
        ("smtp://:s3cret@mail.example", "password without a user"),
        ("smtp://ann:s3cret@mail.example?starttls=off", "credentials need TLS"),
        ("smtps://mail.example?starttls=required", "starttls applies to smtp"),
    ],
)
def test_parse_smtp_url_names_the_problem_without_the_password(url, problem):
    with pytest.raises(ValueError, match="^SMTP_URL: .*" + problem) as raised:
        parse_smtp_url(url)
    assert "s3cret" not in str(raised.value)


def test_starttls_required_with_self_signed_certificate(mailers):
    with SmtpSink(require_starttls=True) as tls_sink:
        mailer = mailers(tls_sink.url() + "&starttls=required")
        assert mailer.send(compose(OUT)).status is DeliveryStatus.SENT
        assert tls_sink.messages[0].tls


def test_certificates_are_verified_unless_told_otherwise(mailers):
    with SmtpSink(starttls=True) as tls_sink:
        result = mailers(tls_sink.url().replace("?verify=false", "")).send(compose(OUT))
        assert result.status is DeliveryStatus.FAILED and "certificate" in result.detail.lower()
        assert tls_sink.messages == []


def test_required_starttls_that_the_server_lacks_fails_before_sending(sink, mailers):
    result = mailers(sink.url() + "?starttls=required").send(compose(OUT))
    assert result.status is DeliveryStatus.FAILED and "STARTTLS" in result.detail
    assert sink.messages == []


@pytest.mark.parametrize("users", [None, {"ann": "pw"}])
def test_smtps(mailers, users):
    with SmtpSink(implicit_tls=True, users=users) as tls_sink:
        url = tls_sink.url("ann", "pw") if users else tls_sink.url()
        assert mailers(url).send(compose(OUT)).status is DeliveryStatus.SENT
        assert tls_sink.messages[0].tls
        assert tls_sink.messages[0].login == ("ann" if users else None)


def test_auth_over_starttls(mailers):
    with SmtpSink(starttls=True, users={"ann@shop": "p:ss w%rd"}) as auth_sink:
        ok = mailers(auth_sink.url("ann@shop", "p:ss w%rd")).send(compose(OUT))
        wrong = mailers(auth_sink.url("ann@shop", "guess")).send(compose(OUT))
        assert ok.status is DeliveryStatus.SENT
        assert auth_sink.messages[0].login == "ann@shop" and auth_sink.messages[0].tls
        assert (wrong.status, wrong.code, len(auth_sink.messages)) == ("failed", 535, 1)
