"""Typed SQLAlchemy models, grouped by aggregate. Importing this package registers them all."""

from portal.models.account import Invitation, InvitationStatus, Merchant, Role, User
from portal.models.checkout import CheckoutSession, SessionStatus
from portal.models.consent import ConsentChange, ConsentSource, ConsentStatus, Contact
from portal.models.email_design import EmailVersion, TestSend, TestSendStatus
from portal.models.events import EventSource, EventStatus, StripeEvent
from portal.models.recovery import CaseEvent, CaseStatus, DryRun, DryRunStatus, RecoveryCase
from portal.models.sending import (
    EmailSend,
    OutboxMessage,
    SendingSettings,
    SendStatus,
    TestModeSends,
)
from portal.models.sending_domain import DomainStatus, SendingDomain
from portal.models.stats import StatBucket, StatDelta
from portal.models.stripe_account import ConnectMethod, StripeAccount
from portal.models.subscriptions import (
    CsvImport,
    CsvImportChunk,
    CsvImportReject,
    ErasedAddress,
    ImportStatus,
)
from portal.models.terms import TermsAcceptance
from portal.models.throttle import ThrottleHit

__all__ = [
    "CaseEvent",
    "CaseStatus",
    "CheckoutSession",
    "ConnectMethod",
    "ConsentChange",
    "ConsentSource",
    "ConsentStatus",
    "Contact",
    "CsvImport",
    "CsvImportChunk",
    "CsvImportReject",
    "DomainStatus",
    "DryRun",
    "DryRunStatus",
    "EmailSend",
    "EmailVersion",
    "ErasedAddress",
    "EventSource",
    "EventStatus",
    "Invitation",
    "ImportStatus",
    "InvitationStatus",
    "Merchant",
    "OutboxMessage",
    "RecoveryCase",
    "Role",
    "SendStatus",
    "SendingDomain",
    "SendingSettings",
    "SessionStatus",
    "StatBucket",
    "StatDelta",
    "StripeAccount",
    "StripeEvent",
    "TermsAcceptance",
    "TestModeSends",
    "TestSend",
    "TestSendStatus",
    "ThrottleHit",
    "User",
]
