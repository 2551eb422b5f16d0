"""E-mail syntax check and normalisation (no network look-ups).

Addresses are ASCII only. A Cyrillic «а» typed into `exаmple.ru` makes an address that looks
like another person's, and an internationalised domain (`почта.рф`, or its `xn--` spelling)
has two spellings of one address: either would defeat the order's rule of one address per
person. The prompt asks for Latin letters, so such addresses are refused with the letters
that are not Latin pointed out, not rewritten behind the person's back."""

from __future__ import annotations

from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

MAX_LENGTH = 254


NOT_LATIN = "not_latin"  # the error of an address with non-ASCII characters or an IDN domain


@dataclass(frozen=True)
class EmailResult:
    value: str | None
    # NOT_LATIN, or email-validator's own reason (English, for logs only)
    error: str | None = None
    # Positions of the characters that are not Latin, so the message can point at them.
    not_latin: tuple[int, ...] = ()


def normalise_email(raw: str) -> EmailResult:
    text = (raw or "").strip()
    if not text or len(text) > MAX_LENGTH or any(ch.isspace() for ch in text):
        return EmailResult(None, "syntax")
    if not text.isascii():
        positions = tuple(i for i, ch in enumerate(text) if not ch.isascii())
        return EmailResult(None, NOT_LATIN, positions)
    domain_labels = text.rpartition("@")[2].lower().split(".")
    if any(label.startswith("xn--") for label in domain_labels):
        return EmailResult(None, NOT_LATIN)
    try:
        # strict: also enforce RFC 5321's 64-character limit of the part before the @.
        info = validate_email(text, check_deliverability=False, allow_smtputf8=False, strict=True)
    except EmailNotValidError as exc:
        return EmailResult(None, str(exc))
    local, _, domain = info.normalized.rpartition("@")
    return EmailResult(f"{local}@{domain.lower()}")
