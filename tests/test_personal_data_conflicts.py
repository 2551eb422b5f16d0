"""Someone else's SNILS or e-mail typed in the form: nothing of theirs is shown, nobody is locked
out, the admins' card flags the conflict, and the order's «one e-mail, one user» holds at
approval (security issue 10, point 2)."""

from __future__ import annotations

from sqlalchemy import select

from bot import texts
from db.database import Database
from db.models import AccessRequest
from tests.support.admin import admin, cards, request_row, submitted
from tests.support.dialog_steps import to_summary
from tests.support.harness import ChatUser, Harness, Sent

VICTIM, OTHER = 1001, 2002
VICTIM_EMAIL = "ivanova@example.ru"


def everything_shown_to(h: Harness, user: ChatUser) -> str:
    """Every text the bot showed the person: messages and their latest edits, and the texts
    of answered button presses."""
    return "\n".join([s.plain for s in h.session.in_chat(user.id)] + user.answers())


def card_of(h: Harness, number: int) -> Sent:
    return [c for c in cards(h) if f"Заявка № {number} " in c.plain][-1]


async def test_someone_elses_snils_and_email_reveal_nothing(h: Harness, db: Database) -> None:
    await submitted(h, VICTIM)  # № 1: the victim's request
    other = h.user(OTHER, "Чужой")
    await to_summary(other)  # the victim's SNILS and e-mail, the same role
    shown = everything_shown_to(h, other)
    for secret in ("№ 1", "на рассмотрении", "уже указан", "У вас уже есть заявка"):
        assert secret not in shown, secret
    assert texts.BTN_SUBMIT in other.last.buttons
    sent = await other.press(texts.BTN_SUBMIT)
    assert "Заявка № 2" in sent[-1].plain  # accepted: the admins decide who is who
    assert "№ 1" not in everything_shown_to(h, other)
    card = card_of(h, 2)
    assert (
        texts.warn_other_account(1, "submitted", "СНИЛС и e-mail", False, "Telegram") in card.html
    )


async def test_a_squatter_does_not_lock_the_owner_out(h: Harness, db: Database) -> None:
    await submitted(h, OTHER)  # someone submits first with the victim's SNILS and e-mail
    victim = h.user(VICTIM)
    await to_summary(victim)
    assert texts.BTN_SUBMIT in victim.last.buttons
    sent = await victim.press(texts.BTN_SUBMIT)
    assert "Заявка № 2" in sent[-1].plain
    async with db.read() as session:
        rows = (await session.scalars(select(AccessRequest).order_by(AccessRequest.id))).all()
    assert [(r.account_id, r.snils, r.status) for r in rows] == [
        (OTHER, "112-233-445 95", "submitted"),
        (VICTIM, "112-233-445 95", "submitted"),
    ]
    assert "другого аккаунта (Telegram)" in card_of(h, 2).plain
    # The earlier card, still waiting for a decision, warns of the later request too.
    assert (
        texts.warn_other_account(2, "submitted", "СНИЛС и e-mail", False, "Telegram")
        in card_of(h, 1).html
    )
    assert "№ 1" not in everything_shown_to(h, victim)


async def test_an_address_in_use_is_not_revealed_and_holds_at_approval(
    h: Harness, db: Database
) -> None:
    await submitted(h, VICTIM)  # № 1
    other = h.user(OTHER, "Чужой")
    await to_summary(other, snils="431-052-771 35")  # their own SNILS, the victim's address
    assert "уже" not in everything_shown_to(h, other)
    await other.press(texts.BTN_SUBMIT)  # № 2
    boss = admin(h)
    card_one, card_two = card_of(h, 1), card_of(h, 2)
    approve_first = card_one.button_data(texts.BTN_APPROVE)
    approve_second = card_two.button_data(texts.BTN_APPROVE)
    assert approve_first is not None and approve_second is not None
    await boss.press_data(card_one, approve_first)
    assert (await request_row(db, 1)).status == "approved"

    await boss.press_data(card_two, approve_second)
    assert boss.last_answer_text() == texts.email_held(1)
    assert len(texts.email_held(1)) <= 200  # a callback alert's limit
    assert (await request_row(db, 2)).status == "submitted"  # nothing changed
    card = card_of(h, 2)
    assert texts.warn_other_account(1, "approved", "e-mail", True, "Telegram") in card.html
    assert texts.BTN_APPROVE in card.buttons  # still open: return or reject it
    await boss.press_data(card, card.button_data(texts.BTN_RETURN) or "")
    await boss.press("▫️ Эл. почта")
    await boss.press(texts.BTN_NEXT)
    await boss.reply("Укажите свой личный адрес")
    assert (await request_row(db, 2)).status == "returned"
    assert "№ 1" not in everything_shown_to(h, other)
    assert h.unanswered_callbacks() == [] and h.session.refusals == []
