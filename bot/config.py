"""Settings from the environment or `.env` (names as in DESIGN.md)."""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from services import accounts

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/vimis_bot.db"
OrgConfirmation = Literal["off", "optional", "required"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: SecretStr | None = None  # required to run the bot, not to import data
    telegram_api_url: str | None = None
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    admin_chat_id: int | None = None
    support_chat_id: int | None = None
    # More Telegram support groups for a busy day: each of Telegram's groups takes 20 of the
    # bot's messages a minute, and a first question costs two of them in a group with topics.
    # New people's consultations are spread across SUPPORT_CHAT_ID and these; one stays where
    # it began while its group is configured.
    support_extra_chat_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    region_name: str = "Костромская область"
    esia_url: str = "https://ia.egisz.rosminzdrav.ru/"
    role_matrix_path: str = "role_matrix.yaml"
    deadline: date | None = None
    components: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["ВИМИС ОНКО"])
    # Preset rejection reasons, `;`-separated; empty means the defaults in bot/texts/admin.py.
    reject_reasons: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # How the greeting names the order (default: the Kostroma order No 922, ORDER_TITLE in
    # bot/texts/applicant.py).
    order_title: str | None = None
    operator_name: str = "ОГБУЗ «Медицинский информационно-аналитический центр Костромской области»"
    # Where people log in to ВИМИС ОНКО, told when access is granted (optional).
    vimis_url: str | None = None
    # Deadline reminders: days before DEADLINE, and how often to check.
    reminder_days: Annotated[list[int], NoDecode] = Field(default_factory=lambda: [7, 3, 1])
    reminder_check_seconds: int = 600
    # An unfinished request dialog (with the personal data typed so far) is forgotten after
    # this many idle days.
    draft_retention_days: int = Field(default=30, ge=1)
    # Consultations: the FAQ file, working hours (local time), and the answer time after which
    # the support chat is reminded.
    faq_path: str = "faq.yaml"
    support_hours: str = "09:00-18:00"
    support_days: str = "1-5"
    support_sla_hours: float = Field(default=4, gt=0)
    log_level: str = "INFO"
    # Delivery of what the bot sends on its own (the outbox): a row that keeps failing is
    # given up after OUTBOX_MAX_AGE_HOURS; pauses between tries grow up to the cap; the
    # bot-wide send rate stays under Telegram's ≈ 30 a second.
    outbox_max_age_hours: float = Field(default=48, gt=0)
    outbox_backoff_cap_seconds: float = Field(default=300, gt=0)
    outbox_rate: int = Field(default=25, ge=1, le=30)
    # Seconds a Bot API request may take before it counts as failed (and is tried again).
    telegram_timeout: float = Field(default=20, gt=0)
    # Webhook mode (WEBHOOK_URL set): the public HTTPS URL Telegram pushes updates to, the
    # secret it sends with each (derived from the token when unset), where to listen.
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "127.0.0.1:8080"
    webhook_max_connections: int = Field(default=40, ge=1, le=100)
    # Processes `python -m bot` starts in webhook mode (PostgreSQL and Redis needed for > 1).
    workers: int = Field(default=1, ge=1, le=64)
    # GET /healthz in polling mode (host:port; in webhook mode it is on WEBHOOK_LISTEN).
    health_listen: str | None = None
    # /healthz answers 503 when the oldest undelivered row is older than this.
    health_max_outbox_age_seconds: float = Field(default=900, gt=0)
    # How long a shutdown waits for updates in hand and sends in flight.
    shutdown_seconds: float = Field(default=20, gt=0)
    # --- organisations' responsible persons (order No 922, items 2.1, 2.3) ---
    # Confirmation of a new request by its organisation: off | optional | required
    # (services/org_confirmation.py); with `required`, the admins' card is posted without the
    # answer after ORG_CONFIRMATION_DAYS days (three: long enough for a weekday answer, short
    # enough for the DEADLINE's reminders a week before).
    org_confirmation: OrgConfirmation = "optional"
    org_confirmation_days: float = Field(default=3, gt=0)

    # --- oversight report, broadcasts, the order's link (order No 922, items 3.2, 4, 5) ---
    # The weekly report: where (a chat id; unset = no scheduled report), which day
    # (1 = Monday … 7 = Sunday) and what local time.
    report_chat_id: int | None = None
    report_weekday: int = Field(default=1, ge=1, le=7)
    report_time: time = time(9, 0)
    # The published order, linked from «📖 Инструкция» and /help (unset = no link).
    order_url: str | None = None

    @field_validator("report_chat_id", "order_url", mode="before")
    @classmethod
    def _unset_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("report_chat_id", mode="before")
    @classmethod
    def _report_chat_on_max(cls, value: object) -> object:
        # `max:<chat id>`: the weekly report goes to a MAX chat.
        if isinstance(value, str) and value.strip().lower().startswith("max:"):
            return accounts.parse_account(value)
        return value

    # --- personal data for its whole life (152-FZ art. 5 p. 7, art. 21 p. 4-5) ---
    # SNILS, ФИО and e-mail of a request that ended (access granted, rejected, cancelled) are
    # erased this many days later, unless the person has a request still in work.
    retention_days: int = Field(default=30, ge=1)
    # How often the retention job runs (across all workers, services/jobs.py).
    retention_check_seconds: int = Field(default=86400, ge=60)
    # Where each erasure is also written (one JSON line, ids only, no personal data), for
    # `python -m bot reapply-erasures` after a database is restored from a backup. Keep it
    # apart from the database and its backups. Empty: not written.
    erasure_journal: str = "data/erasures.jsonl"

    # --- MAX, the second messenger (its Bot API: dev.max.ru, docs-api) ---
    # With MAX_TOKEN set beside BOT_TOKEN the same bot also answers on MAX; МИАЦ's desks stay
    # in Telegram. MAX_API_URL: the API's address; MAX_WEBHOOK_URL: MAX pushes updates there
    # (HTTPS on 443) with MAX_WEBHOOK_SECRET (derived from the token when unset), served on
    # WEBHOOK_LISTEN beside Telegram's; unset = long polling. MAX_RATE: sends a second to MAX
    # (MAX allows about 30; measured refusals begin near 10 a second for one bot).
    max_token: SecretStr | None = None
    # МИАЦ's desks on MAX (MAX group chat ids, negative): the admins' cards and the
    # operators' questions there, beside or instead of the Telegram ones.
    max_admin_chat_id: int | None = None
    max_support_chat_id: int | None = None
    max_api_url: str = "https://platform-api2.max.ru"
    max_webhook_url: str | None = None
    max_webhook_secret: SecretStr | None = None
    max_timeout: float = Field(default=30, gt=0)
    max_rate: int = Field(default=8, ge=1, le=30)

    # --- the desks, on either messenger, as account keys (services/accounts.py) ---

    @property
    def admin_chats(self) -> list[int]:
        """Every admins' group: Telegram's, MAX's, or both during a move."""
        return _desks(self.admin_chat_id, self.max_admin_chat_id)

    @property
    def support_chats(self) -> list[int]:
        """Every operators' group: Telegram's (one or more), MAX's, or both during a move."""
        chats = _desks(self.support_chat_id, self.max_support_chat_id)
        if self.support_chat_id is not None:
            extra = dict.fromkeys(c for c in self.support_extra_chat_ids if c not in chats)
            chats[1:1] = list(extra)
        return chats

    def support_chat_for(self, account: int) -> int | None:
        """The operators' group a person's questions go to: one on their own messenger when
        there is one (nothing to carry across), else the other; with several groups on that
        messenger, the person's id picks one, so people are spread evenly and always the same
        person lands in the same group."""
        chats = self.support_chats
        mine = [c for c in chats if accounts.messenger_of(c) is accounts.messenger_of(account)]
        found = mine or chats
        return found[abs(account) % len(found)] if found else None

    def support_desk_of(self, account: int, current: int | None) -> int | None:
        """Where a person's consultation is answered: the group it is in (`current`) while
        that group is configured, else the one a new consultation would go to."""
        if current is not None and current in self.support_chats:
            return current
        return self.support_chat_for(account)

    @property
    def outbox_max_age(self) -> timedelta:
        return timedelta(hours=self.outbox_max_age_hours)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_accounts(cls, value: object) -> object:
        # `123` is a Telegram id, `max:123` a MAX one (services/accounts.py).
        if isinstance(value, str):
            parts = value.replace(";", ",").split(",")
            return [accounts.parse_account(part) for part in parts if part.strip()]
        if isinstance(value, int):
            return [value]
        return value

    @field_validator("reminder_days", "support_extra_chat_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(part) for part in value.replace(";", ",").split(",") if part.strip()]
        if isinstance(value, int):
            return [value]
        return value

    @field_validator("components", "reject_reasons", mode="before")
    @classmethod
    def _split_components(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(";") if part.strip()]
        return value

    @field_validator(
        "bot_token",
        "telegram_api_url",
        "redis_url",
        "deadline",
        "admin_chat_id",
        "support_chat_id",
        "webhook_url",
        "webhook_secret",
        "health_listen",
        "max_token",
        "max_admin_chat_id",
        "max_support_chat_id",
        "max_webhook_url",
        "max_webhook_secret",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("components")
    @classmethod
    def _at_least_one(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one ВИМИС component is required")
        return value


def _desks(telegram: int | None, max_chat: int | None) -> list[int]:
    chats = [] if telegram is None else [telegram]
    if max_chat is not None:
        chats.append(accounts.account_key(accounts.Messenger.MAX, max_chat))
    return chats
