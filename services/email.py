"""E-mail syntax check and normalisation (no network look-ups)."""

from __future__ import annotations

from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

MAX_LENGTH = 254


@dataclass(frozen=True)
class EmailResult:
    value: str | None
    error: str | None = None  # email-validator's own reason, English, for logs only


def normalise_email(raw: str) -> EmailResult:
    text = (raw or "").strip()
    if not text or len(text) > MAX_LENGTH or any(ch.isspace() for ch in text):
        return EmailResult(None, "syntax")
    try:
        # strict: also enforce RFC 5321's 64-character limit of the part before the @.
        info = validate_email(text, check_deliverability=False, allow_smtputf8=False, strict=True)
    except EmailNotValidError as exc:
        return EmailResult(None, str(exc))
    local, _, domain = info.normalized.rpartition("@")
    return EmailResult(f"{local}@{domain.lower()}")
