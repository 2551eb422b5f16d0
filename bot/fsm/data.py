"""Typed FSM data of the request dialog: one pydantic model read from and written to the
FSM context."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiogram.fsm.context import FSMContext
from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from db.models import AccessRequest


class FormData(BaseModel):
    # Consent to personal-data processing: the text's version and when it was given; the
    # consent row is written with the request, in the same transaction.
    consent_version: str | None = None
    consent_at: datetime | None = None
    snils: str | None = None
    full_name: str | None = None
    email: str | None = None
    region: str | None = None
    org_query: str | None = None
    org_page: int = 0
    org_id: int | None = None
    org_full: str | None = None
    org_short: str | None = None
    org_manual: bool = False
    position: str | None = None
    position_in_matrix: bool = True
    position_page: int = 0
    position_federal: bool = False  # the federal posts are shown (on request)
    position_query: str | None = None  # a typed post with matrix positions offered for it
    role: str | None = None
    role_level: str | None = None
    component: str | None = None
    # correcting a returned request: its number and the fields the admin asked to fix
    fix_request_id: int | None = None
    fix_fields: list[str] = Field(default_factory=list)
    # a request for another role: the request the person's data were copied from
    repeat_of: int | None = None
    # the person's own live request of the same SNILS, component and role, found at the summary
    duplicate_of: int | None = None
    # dialog mechanics
    history: list[str] = Field(default_factory=list)
    editing: bool = False
    prompt_message_id: int | None = None
    # The current step's prompt is not known to have arrived (its send failed, or has not
    # finished): the next message or press shows it again (bot.fsm.engine).
    prompt_pending: bool = False
    # the step whose side message (Info) is on screen: Back returns to the step itself
    info_step: str | None = None

    @classmethod
    def from_request(cls, request: AccessRequest, **rest: Any) -> FormData:
        """A dialog that starts from a request already sent: the person and their
        organisation as they were in it (a request for another role, a correction)."""
        return cls(
            snils=request.snils,
            full_name=request.full_name,
            email=request.email,
            region=request.region,
            org_id=request.organization_id,
            org_full=request.org_full_name,
            org_short=request.org_short_name,
            org_manual=request.org_manual,
            component=request.component,
            **rest,
        )

    @classmethod
    async def load(cls, state: FSMContext) -> FormData:
        return cls.model_validate(await state.get_data())

    async def save(self, state: FSMContext) -> None:
        await state.set_data(self.model_dump(mode="json"))
