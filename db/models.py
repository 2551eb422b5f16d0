"""Database schema. Changes go through Alembic migrations in `db/migrations`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from db.id_lists import IdArray

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Statuses after which the same person may ask for the same role again.
CLOSED_STATUSES = ("rejected", "cancelled")
LIVE_AND_NOT_ERASED = (
    f"status NOT IN ({', '.join(repr(s) for s in CLOSED_STATUSES)}) AND erased_at IS NULL"
)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Organization(Base):
    """An entry of the federal register of medical organisations (ФРМО)."""

    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    oid: Mapped[str] = mapped_column(String(128), unique=True)
    name_full: Mapped[str] = mapped_column(Text)
    name_short: Mapped[str] = mapped_column(Text)
    region: Mapped[str] = mapped_column(String(200))
    search_key: Mapped[str] = mapped_column(Text)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # The region's health department itself, where chief specialists work (order item 3.1):
    # not in ФРМО, one row made by the bot (services/organizations.ensure_department).
    is_department: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )


class Consent(Base):
    """A person's answer on the personal-data consent screen (152-FZ)."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger, index=True)
    version: Mapped[str] = mapped_column(String(32))
    accepted: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class AccessRequest(Base):
    __tablename__ = "access_requests"
    __table_args__ = (
        # One live request per account (messenger and id), SNILS, component and role: a double
        # «Отправить» or two devices at once cannot make two. Another account typing the same
        # SNILS is not blocked (that would let anyone lock a person out): the admins' card
        # flags it. An erased request has no SNILS left.
        Index(
            "uq_access_requests_live",
            "account_id",
            "snils",
            "component",
            "role",
            unique=True,
            sqlite_where=text(LIVE_AND_NOT_ERASED),
            postgresql_where=text(LIVE_AND_NOT_ERASED),
        ),
        # Card warnings and e-mail uniqueness look requests up by address, any case.
        Index("ix_access_requests_email_lower", func.lower(text("email"))),
        # /queue counts and reads waiting requests not held for their organisation, oldest
        # first, straight from this index.
        Index("ix_access_requests_queue", "status", "org_card_held", "submitted_at", "id"),
        # /coverage asks per organisation whether a covered request exists.
        Index("ix_access_requests_org_status", "organization_id", "status"),
        # /stats counts by role, and times decisions, from these indexes alone.
        Index("ix_access_requests_role", "role"),
        Index("ix_access_requests_decided", "status", "decided_at", "submitted_at"),
        # The ORG_CONFIRMATION_DAYS job finds held cards whose time is up.
        Index("ix_access_requests_org_held", "org_card_held", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger, index=True)
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consents.id"), nullable=True)
    snils: Mapped[str] = mapped_column(String(14), index=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), index=True)
    region: Mapped[str] = mapped_column(String(200))
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id"), nullable=True
    )
    org_full_name: Mapped[str] = mapped_column(Text)
    org_short_name: Mapped[str] = mapped_column(Text)
    org_manual: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[str] = mapped_column(Text)
    position_in_matrix: Mapped[bool] = mapped_column(Boolean, default=True)
    role: Mapped[str | None] = mapped_column(String(200), nullable=True)
    role_level: Mapped[str | None] = mapped_column(String(200), nullable=True)
    component: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Fields an admin returned for changes (form field names); cleared on resubmission.
    return_fields: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    # export_batches.id; no foreign key, since adding one would make SQLite rebuild the table.
    export_batch_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    # Lower-cased words of the name, e-mail, SNILS digits and organisation, for /find.
    search_key: Mapped[str] = mapped_column(Text, default="", server_default="")
    # When the person withdrew consent and SNILS, name and e-mail were destroyed (152-FZ).
    erased_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Confirmation by the organisation's responsible person (order No 922, items 2.1, 2.3;
    # services/org_confirmation.py): awaiting | overdue | confirmed | declined | not_required |
    # no_responsible | only_applicant | responsible_gone; NULL for requests made before it
    # existed.
    org_confirmation: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # ORG_CONFIRMATION=required: the admins' card waits for the organisation's answer.
    org_card_held: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    org_answered_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    org_answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    org_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class RequestEvent(Base):
    """The event log: who created, viewed, exported, changed or deleted each request."""

    __tablename__ = "request_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("access_requests.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class EmailClaim(Base):
    """The order wants each user's e-mail to be unique: an address belongs to one SNILS,
    from the approval of a request with it (services.requests.decide) until that person's
    data is erased. Typing an address in the form claims nothing."""

    __tablename__ = "email_claims"

    email: Mapped[str] = mapped_column(String(254), primary_key=True)
    snils: Mapped[str] = mapped_column(String(14), index=True)
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class FsmRecord(Base):
    """aiogram FSM state and data of one chat/user, so dialogs survive restarts."""

    __tablename__ = "fsm_records"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    state: Mapped[str | None] = mapped_column(String(255), nullable=True)
    data: Mapped[str] = mapped_column(Text, default="{}")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class StaffMember(Base):
    """МИАЦ staff: admins decide on requests, operators answer questions."""

    __tablename__ = "staff"

    account_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    role: Mapped[str] = mapped_column(String(16))  # admin | operator | responsible | viewer
    # Only for a responsible person (order No 922, item 2.1): the organisation they answer for.
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id"), nullable=True, index=True
    )
    display_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    added_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    added_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Listed in ADMIN_IDS: removed only by editing ADMIN_IDS and restarting, never in chat.
    owner: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class StaffInvite(Base):
    """A one-time deep link (`/start <token>`) that makes whoever opens it staff."""

    __tablename__ = "staff_invites"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    # An invite of a responsible person is bound to one organisation.
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id"), nullable=True
    )
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Its creator stopped being an admin, or it could not be delivered to them privately.
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class StaffEvent(Base):
    __tablename__ = "staff_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    action: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    role: Mapped[str | None] = mapped_column(String(16), nullable=True)
    organization_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class RequestCard(Base):
    """Where a request's card was posted, so every copy can be updated after a decision."""

    __tablename__ = "request_cards"
    __table_args__ = (Index("uq_request_cards_message", "chat_id", "message_id", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("access_requests.id"), index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
    # What the copy shows now, so an update that changes nothing is not sent to Telegram.
    content_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ExportBatch(Base):
    """One export of approved requests for the federal operator."""

    __tablename__ = "export_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    size: Mapped[int] = mapped_column(Integer, default=0)


class ExportAudit(Base):
    """One export's audit (152-FZ art. 19: who received the people's full data, and when):
    who made it (an admin's id; none and `cli` for `python -m bot export` on the server), what
    was asked for (`selection`: "new" for a new batch, else the arguments typed: "all", a batch
    number, two dates), the batch a new one marked, how many rows, the SHA-256 of each file,
    and the ids of the requests the files carried, in one column (db/id_lists.py). One row per
    export, instead of an event row per request: a re-export of 100,000 requests wrote
    200,000 event rows, each checking its foreign key."""

    __tablename__ = "export_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    cli: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    selection: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    count: Mapped[int] = mapped_column(Integer)
    # {"xlsx": hex digest, "csv": hex digest}; none for exports recorded before these rows
    # existed (their files were never hashed).
    files: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    # The smallest and largest id: a request's exports are looked for only among the rows
    # whose span holds it, before the ids themselves are read.
    first_id: Mapped[int] = mapped_column(Integer)
    last_id: Mapped[int] = mapped_column(Integer)
    request_ids: Mapped[list[int]] = mapped_column(IdArray())


class ReminderSent(Base):
    """A deadline reminder that went out (or was attempted): each is sent once."""

    __tablename__ = "reminders_sent"
    __table_args__ = (
        Index(
            "uq_reminders_sent_once",
            "deadline",
            "days_before",
            "chat_id",
            "audience",
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deadline: Mapped[str] = mapped_column(String(10))  # ISO date the reminder was about
    days_before: Mapped[int] = mapped_column(Integer)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    audience: Mapped[str] = mapped_column(String(16))  # applicant | admin
    outcome: Mapped[str] = mapped_column(String(16), default="sent")  # sent | blocked
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SupportThread(Base):
    """One applicant's consultation thread in the support chat (a forum topic, or the plain
    group when it has no topics)."""

    __tablename__ = "support_threads"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    topic_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    header_message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # What the header shows now: an update that would change nothing is not sent.
    header_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The thread's first text (HTML: the note naming the step and the question) when it went
    # inside the header's message: each edit of the header keeps it. Dropped with the thread.
    header_tail: Mapped[str | None] = mapped_column(Text, nullable=True)
    title: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Set while a question waits for an operator's answer.
    waiting_since: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    sla_reminded_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Closed and asked for a rating that has not come yet: one rating per closing.
    awaiting_rating: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )


class RelayedMessage(Base):
    """A message copied between an applicant's chat and the support chat: operators' replies
    in a plain group and applicants' edits find their counterpart through it."""

    __tablename__ = "relayed_messages"
    __table_args__ = (
        Index("ix_relayed_messages_support", "support_chat_id", "support_message_id"),
        Index("ix_relayed_messages_user", "user_id", "user_message_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    user_message_id: Mapped[int] = mapped_column(BigInteger)
    support_chat_id: Mapped[int] = mapped_column(BigInteger)
    support_message_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SupportRating(Base):
    __tablename__ = "support_ratings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    rating: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Erasure(Base):
    """Proof of a withdrawal's erasure beyond the requests (their own proof is their events):
    who, when, and how much of the consultation was destroyed. Counts only, no content."""

    __tablename__ = "erasures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger, index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)


PENDING_OUTBOX = "state = 'pending'"


class OutboxMessage(Base):
    """Something the bot sends on its own (an admin card, a decision notice, a relay into the
    support chat, a reminder), written in the same transaction as the change that causes it
    and sent by the delivery loop (bot/outbound/delivery.py).

    A row says what to do ("post the card of request 17"), not what the message says: the
    text is rendered when it is sent, from the rows as they are then, so no personal data
    waits here. `chat_id` is the lane: a chat's rows go out in id order, one at a time.
    Delivered rows are deleted; `failed` and `undeliverable` ones stay for /health.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        # The claim's "is this the head of its lane" probe, and the lane's next row, in the
        # lane's order (turn, id): db/outbox.py.
        Index(
            "ix_outbox_pending_lane",
            "chat_id",
            "turn",
            "id",
            sqlite_where=text(PENDING_OUTBOX),
            postgresql_where=text(PENDING_OUTBOX),
        ),
        # "Is a row of this lane being sent?" (one at a time per lane, whatever its order).
        Index(
            "ix_outbox_pending_leased",
            "chat_id",
            "lease_until",
            sqlite_where=text(PENDING_OUTBOX),
            postgresql_where=text(PENDING_OUTBOX),
        ),
        # The oldest undelivered row for /healthz and /health, read from the index's end.
        Index(
            "ix_outbox_pending_age",
            "created_at",
            sqlite_where=text(PENDING_OUTBOX),
            postgresql_where=text(PENDING_OUTBOX),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The person the row is about (their rows go when they withdraw consent) and the request.
    user_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    request_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # | failed | undeliverable
    # The row's place in its lane, before its id: 0 for most rows (the lane in id order); in
    # a group, a person's support-desk rows take turns with other people's (services/outbox.py).
    turn: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    not_before: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # A worker holds the row while it sends it; a dead worker's lease runs out.
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The exception's type, never its text (which may quote the message).
    last_error: Mapped[str | None] = mapped_column(String(64), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class JobRun(Base):
    """When a periodic job last ran: with several workers, each period runs once."""

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_run_at: Mapped[datetime] = mapped_column(UtcDateTime)
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)


PENDING_APPLICATION = "status = 'pending'"


class ResponsibleApplication(Base):
    """A person asks in the bot to become the responsible person of an organisation (order
    No 922, item 2.1); an admin approves or declines it in chat."""

    __tablename__ = "responsible_applications"
    __table_args__ = (
        # One open application per person: a second one while the first waits is refused.
        Index(
            "uq_responsible_applications_pending",
            "account_id",
            unique=True,
            sqlite_where=text(PENDING_APPLICATION),
            postgresql_where=text(PENDING_APPLICATION),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger)
    display_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # | approved | declined
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # The head's appointment (item 2.1: the heads appoint the responsible persons): the
    # number and date of the order or letter as typed, and its scan if sent (a Telegram
    # file id, never the bytes; `appointment_file_kind`: document | photo).
    appointment: Mapped[str | None] = mapped_column(Text, nullable=True)
    appointment_file_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    appointment_file_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)


class Broadcast(Base):
    """An admin's message to many (/broadcast): drafted (audience, then text), previewed,
    then sent once: its recipients are fixed and enqueued in the transaction that sends it."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_by: Mapped[int] = mapped_column(BigInteger)
    chat_id: Mapped[int] = mapped_column(BigInteger)  # where it was drafted
    # responsible | drafts | no_request | submitted | approved | granted | organization
    audience: Mapped[str] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    state: Mapped[str] = mapped_column(String(16))  # text | preview | sent | cancelled
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # The audience «организация» (order items 4.2-4.3): which one.
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id"), nullable=True
    )
    # A document sent with the text (the instruction, the training schedule): the messenger
    # it was sent on, its file id there, name and size (bot/outbound/crossing.py's shape).
    file: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class BroadcastRecipient(Base):
    """One person of a sent broadcast: the key makes it once per person, whatever happens."""

    __tablename__ = "broadcast_recipients"

    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id"), primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # | delivered | blocked


class GuideDocument(Base):
    """A document «📖 Инструкция» hands out (order item 4.3: instructions for the
    organisations), kept by admins with /docs: replaced in place, so everyone who opens the
    guide afterwards gets the new version."""

    __tablename__ = "guide_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    # As for a broadcast's file: messenger, file id, name, size (bot/outbound/crossing.py).
    file: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_by: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


# --- personal data for its whole life (152-FZ art. 5 p. 7: kept no longer than needed) ---
# Requests that ended (access granted, rejected, cancelled) and still hold personal data, by
# when they ended: the retention job and /retention read only these, and an erased request
# leaves the index.
RETENTION_PENDING = "erased_at IS NULL AND status IN ('access_granted', 'rejected', 'cancelled')"
Index(
    "ix_access_requests_retention",
    AccessRequest.updated_at,
    sqlite_where=text(RETENTION_PENDING),
    postgresql_where=text(RETENTION_PENDING),
)


# --- where responsible persons were asked (order No 922, item 2.3) ---


class OrgAsk(Base):
    """Where a responsible person was asked about a request (the «Новая заявка» message with
    the applicant's name, position and masked SNILS), so that an erasure rewrites it too."""

    __tablename__ = "org_asks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("access_requests.id"), index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class OrgForm(Base):
    """The organisation's form signed by its head (order No 922, item 2.3), sent back by a
    responsible person as a PDF or photos: the file ids (never the bytes), who sent
    it and when. Shown to admins only; erased with the requests it covers."""

    __tablename__ = "org_forms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    account_id: Mapped[int] = mapped_column(BigInteger)  # the responsible person who sent it
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # [{"kind": "document" | "photo", "file_id": "…", "url": MAX's download address (MAX only)},
    #  …] in the order they were sent.
    files: Mapped[list[dict[str, str]]] = mapped_column(JSON)


class OrgFormRequest(Base):
    """A request the signed form covers (the organisation's form listed it when it was sent)."""

    __tablename__ = "org_form_requests"

    form_id: Mapped[int] = mapped_column(ForeignKey("org_forms.id"), primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("access_requests.id"), primary_key=True, index=True
    )


# --- MAX, the second messenger ---


class MaxMessage(Base):
    """MAX names a message by a string `mid` (edit and delete take it), the bot's code by the
    number it got back. The pair is kept here, not in memory, so an edit after a restart (a
    card's summary, a notice turned into its decision) still reaches its message."""

    __tablename__ = "max_messages"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    mid: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class MaxMarker(Base):
    """Where MAX's long polling stopped: everything before the marker was handled, so a
    restart neither loses nor repeats an update."""

    __tablename__ = "max_markers"

    bot_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    marker: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
