"""Mail fixtures: mailers closed after the test (the SMTP sink is tests/conftest.py's `sink`)."""

from __future__ import annotations

import dataclasses

import pytest

from portal.mail.smtp import Mailer, parse_smtp_url


@pytest.fixture
def mailers():
    """Build mailers with `make(url)`; every one is closed after the test."""
    made = []

    def make(url: str, **overrides) -> Mailer:
        settings = dataclasses.replace(parse_smtp_url(url), **{"timeout": 5.0, **overrides})
        made.append(Mailer(settings, local_hostname="worker.test"))
        return made[-1]

    yield make
    for mailer in made:
        mailer.close()
