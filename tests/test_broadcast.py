"""/broadcast: audiences, preview with the count, confirmation, once per person across a
restart, delivered / blocked / pending counts; the scheduled report once per slot."""

from __future__ import annotations

import asyncio
from datetime import datetime, time

from aiogram.methods import SendMessage
from sqlalchemy import delete, select

from bot import texts
from bot.dispatcher import build_dispatcher
from bot.outbound.outreach import enqueue_due, slot_of
from db.database import Database
from db.models import BroadcastRecipient, OutboxMessage, StaffMember
from services import broadcast, outbox
from services.role_matrix import RoleMatrix
from services.staff import StaffRole
from tests.conftest import ADMIN2_ID, ADMIN_ID, make_settings
from tests.support.admin import ADMIN_CHAT, admin, submitted
from tests.support.dialog_steps import through_consent
from tests.support.harness import Harness
from tests.test_report import VIEWER_ID, add_staff

# Responsible persons of orgs 1, 2 (the sample applicant's «Условная ЦРБ А») and 3.
RESPONSIBLE = {5101: 1, 5102: 2, 5103: 3}
HOSTILE = 'Обучение 10.12 в 10:00 <b>не жирный</b> & "кавычки" <script>'


async def responsible(db: Database) -> None:
    for user_id, org in RESPONSIBLE.items():
        await add_staff(db, user_id, StaffRole.RESPONSIBLE, organization_id=org)


def received(h: Harness, chat_id: int) -> list[str]:
    return [
        c.text
        for c in h.session.calls
        if isinstance(c, SendMessage) and c.chat_id == chat_id and "Обучение" in c.text
    ]


async def draft(h: Harness, audience_label: str, text: str = HOSTILE) -> str:
    boss = admin(h)
    sent = await boss.send("/broadcast")
    assert sent[-1].plain.startswith("Рассылка.")
    await boss.press(audience_label)
    assert boss.last.plain == f"👤 Ольга\n{texts.BROADCAST_ASK_TEXT}"  # to this admin
    preview = (await boss.reply(text))[-1]
    return preview.plain


async def test_preview_confirm_and_counted_once_across_a_restart(
    h: Harness, db: Database, role_matrix: RoleMatrix, admin_settings: object
) -> None:
    await responsible(db)
    h.session.blocked.add(5103)
    preview = await draft(h, texts.BROADCAST_AUDIENCES["responsible"])
    assert "Кому: 👥 Всем ответственным лицам организаций — 3 чел." in preview
    assert HOSTILE in preview  # shown as typed: escaped, not taken as markup
    boss = admin(h)
    h.auto_deliver = False  # the restart comes before delivery
    sent = await boss.press(texts.BTN_BROADCAST_SEND)
    assert texts.broadcast_queued(1, 3) in [s.plain for s in sent]
    # The keyboard is gone from the preview; a replayed press of it sends nothing more.
    preview_message = next(
        h.session.messages[(s.chat_id, s.message_id)]
        for s in h.session.in_chat(ADMIN_CHAT)
        if s.plain.startswith("Предпросмотр")
    )
    assert preview_message.buttons == []
    again = await boss.press_data(boss.last, "bc:send:1")
    assert again == [] and boss.last_answer_text() == texts.BROADCAST_STALE
    await h.dp.storage.close()

    # A restart: a new process with the same database delivers what is queued, once.
    restarted = Harness(build_dispatcher(h.dp["settings"], db, role_matrix))
    restarted.session.blocked.add(5103)
    await restarted.deliver()
    assert await restarted.deliver() == 0
    for user_id in (5101, 5102):
        assert received(restarted, user_id) == [
            HOSTILE.replace("&", "&amp;")
            .replace("<", "&lt;")
            .replace(">", "&gt;")
            .replace('"', "&quot;")
        ]
        plain = [s.plain for s in restarted.session.in_chat(user_id)]
        assert plain == [HOSTILE]
    async with db.read() as session:
        rows = await session.execute(
            select(BroadcastRecipient.chat_id, BroadcastRecipient.state).order_by(
                BroadcastRecipient.chat_id
            )
        )
        assert list(rows) == [(5101, "delivered"), (5102, "delivered"), (5103, "blocked")]
        assert not list(
            await session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.kind == "broadcast", OutboxMessage.state == "pending"
                )
            )
        )
    status = (await admin(restarted).send("/broadcast status"))[-1].plain
    assert "всего 3, доставлено 2, заблокировали бота 1, в очереди 0" in status
    await restarted.dp.storage.close()


async def test_two_presses_at_once_send_it_once(h: Harness, db: Database) -> None:
    await responsible(db)
    await draft(h, texts.BROADCAST_AUDIENCES["responsible"])
    card = admin(h).last
    data = card.button_data(texts.BTN_BROADCAST_SEND)
    assert data is not None
    first, second = admin(h), h.member(ADMIN2_ID, ADMIN_CHAT, "Пётр")
    await asyncio.gather(first.press_data(card, data), second.press_data(card, data))
    for user_id in RESPONSIBLE:
        assert len(received(h, user_id)) == 1
    async with db.read() as session:
        assert len(list(await session.scalars(select(BroadcastRecipient)))) == 3


async def test_organisations_without_requests_and_unfinished_dialogs(
    h: Harness, db: Database
) -> None:
    await responsible(db)
    await submitted(h, 1001)  # the sample applicant's organisation: «Условная ЦРБ А», org 2
    preview = await draft(h, texts.BROADCAST_AUDIENCES["no_request"])
    assert "— 2 чел." in preview
    await admin(h).press(texts.BTN_BROADCAST_SEND)
    assert received(h, 5102) == [] and len(received(h, 5101)) == len(received(h, 5103)) == 1

    await through_consent(h.user(4001))  # an unfinished request dialog
    preview = await draft(h, texts.BROADCAST_AUDIENCES["drafts"], "Обучение: продолжите заявку")
    assert "— 1 чел." in preview
    await admin(h).press(texts.BTN_BROADCAST_SEND)
    assert received(h, 4001) == ["Обучение: продолжите заявку"]
    assert received(h, 1001) == []  # submitted, no dialog open


async def test_cancel_too_long_and_nobody(h: Harness, db: Database) -> None:
    boss = admin(h)
    await boss.send("/broadcast")
    await boss.press(texts.BROADCAST_AUDIENCES["responsible"])
    sent = await boss.reply("x" * (broadcast.MAX_TEXT + 1))
    assert sent[-1].plain == texts.BROADCAST_TOO_LONG  # the same step again
    preview = (await boss.reply("Обучение"))[-1].plain
    assert preview == texts.BROADCAST_NOBODY_NOW
    await responsible(db)
    await draft(h, texts.BROADCAST_AUDIENCES["responsible"])
    await boss.press(texts.BTN_BROADCAST_CANCEL)
    assert boss.last_answer_text() == texts.BROADCAST_CANCELLED
    # The audience empties between the preview and «Отправить»: nothing is sent or listed.
    await draft(h, texts.BROADCAST_AUDIENCES["responsible"])
    async with db.write() as session:
        await session.execute(
            delete(StaffMember).where(StaffMember.role == StaffRole.RESPONSIBLE.value)
        )
    sent = await boss.press(texts.BTN_BROADCAST_SEND)
    assert sent[-1].plain == texts.BROADCAST_NOBODY
    assert (await boss.send("/broadcast status"))[-1].plain == "Рассылок ещё не было."


async def test_a_viewer_cannot_broadcast_or_press_its_buttons(h: Harness, db: Database) -> None:
    await responsible(db)
    await add_staff(db, VIEWER_ID, StaffRole.VIEWER)
    await draft(h, texts.BROADCAST_AUDIENCES["responsible"])
    card = admin(h).last
    viewer = h.member(VIEWER_ID, ADMIN_CHAT, "Главный онколог")
    assert [s.plain for s in await viewer.send("/broadcast")] == [texts.NO_ACCESS]
    data = card.button_data(texts.BTN_BROADCAST_SEND)
    assert data is not None
    assert await viewer.press_data(card, data) == []
    assert viewer.last_answer_text() == texts.NO_ACCESS
    for user_id in RESPONSIBLE:
        assert received(h, user_id) == []


# --- the scheduled report -------------------------------------------------------------------


def test_the_slot_is_the_latest_weekday_and_time() -> None:
    at = time(9, 0)
    monday_8 = datetime(2026, 11, 30, 8, 0, tzinfo=texts.LOCAL_TZ)  # a Monday
    assert slot_of(monday_8, 1, at) == datetime(2026, 11, 23, 9, 0, tzinfo=texts.LOCAL_TZ)
    monday_10 = datetime(2026, 11, 30, 10, 0, tzinfo=texts.LOCAL_TZ)
    assert slot_of(monday_10, 1, at) == datetime(2026, 11, 30, 9, 0, tzinfo=texts.LOCAL_TZ)
    assert slot_of(monday_10, 3, at) == datetime(2026, 11, 25, 9, 0, tzinfo=texts.LOCAL_TZ)


async def test_the_scheduled_report_goes_once_per_slot_with_two_workers_and_a_restart(
    db: Database, role_matrix: RoleMatrix, database_url: str, organizations: None
) -> None:
    settings = make_settings(
        database_url, admin_ids=[ADMIN_ID], report_chat_id=ADMIN_CHAT, report_weekday=1
    )
    h = Harness(build_dispatcher(settings, db, role_matrix))
    early = datetime(2026, 11, 30, 8, 59, tzinfo=texts.LOCAL_TZ)
    # Before the slot, a week after the last one: too late for last week's, too early for this.
    assert await enqueue_due(db, settings, "w1", early) is False
    now = datetime(2026, 11, 30, 9, 1, tzinfo=texts.LOCAL_TZ)
    ran = await asyncio.gather(*(enqueue_due(db, settings, f"w{i}", now) for i in range(2)))
    assert sorted(ran) == [False, True]
    await h.deliver()
    await h.dp.storage.close()
    # A restart within the slot: nothing again.
    restarted = Harness(build_dispatcher(settings, db, role_matrix))
    later = datetime(2026, 11, 30, 12, 0, tzinfo=texts.LOCAL_TZ)
    assert await enqueue_due(db, settings, "w3", later) is False
    assert await restarted.deliver() == 0
    in_chat = [s.plain for s in h.session.in_chat(ADMIN_CHAT)]
    assert len([t for t in in_chat if t.startswith(texts.REPORT_SCHEDULED)]) == 1
    kinds = [(f.kind, f.filename) for f in h.session.files if f.chat_id == ADMIN_CHAT]
    assert kinds == [("photo", "report_2026-11-30.png"), ("document", "report_2026-11-30.xlsx")]
    # Next week's slot is a new one.
    next_week = datetime(2026, 12, 7, 9, 0, tzinfo=texts.LOCAL_TZ)
    assert await enqueue_due(db, settings, "w1", next_week) is True
    await restarted.dp.storage.close()


async def test_only_the_admins_own_reply_to_the_prompt_is_the_text(
    h: Harness, db: Database
) -> None:
    await responsible(db)
    boss = admin(h)
    await boss.send("/broadcast")
    await boss.press(texts.BROADCAST_AUDIENCES["responsible"])
    prompt = boss.last
    other = h.member(ADMIN2_ID, ADMIN_CHAT, "Пётр")
    assert await other.reply("Не моя рассылка") == []  # another admin's reply: not taken
    # Written past the prompt: not taken silently — told how, with the way out.
    hint = (await boss.send("Просто сообщение в группе"))[-1]
    assert "текст рассылки я жду" in hint.plain and hint.buttons == [texts.BTN_USE_AS_INPUT]
    preview = (await boss.send("Обучение", reply_to=prompt))[-1].plain
    assert preview.startswith("Предпросмотр") and "— 3 чел." in preview


async def test_a_recipient_whose_row_failed_or_was_forgotten_is_not_counted_as_queued(
    h: Harness, db: Database
) -> None:
    await responsible(db)
    h.auto_deliver = False
    await draft(h, texts.BROADCAST_AUDIENCES["responsible"])
    await admin(h).press(texts.BTN_BROADCAST_SEND)
    async with db.write() as session:
        await outbox.forget_person(session, 5101)  # withdrew consent before delivery
    await h.deliver()
    status = (await admin(h).send("/broadcast status"))[-1].plain
    assert "всего 3, доставлено 2, заблокировали бота 0, в очереди 0" in status
    assert "не доставлено (сбой или отзыв согласия) 1" in status


async def test_two_sends_of_one_preview_after_both_checked_it_send_once(db: Database) -> None:
    """Two presses that both read «preview» (two workers at once): the conditional UPDATE
    lets one through; the recipients' key would refuse a second row anyway."""
    async with db.write() as session:
        number = await broadcast.start(session, ADMIN_ID, ADMIN_CHAT, broadcast.Audience.DRAFTS)
        assert await broadcast.set_text(session, number, "Обучение")
    async with db.write() as session:
        assert await broadcast.send(session, number, [1, 2, 2]) == 2
    async with db.write() as session:
        assert await broadcast.send(session, number, [1, 2, 3]) is None
    async with db.read() as session:
        rows = list(await session.scalars(select(OutboxMessage.chat_id)))
    assert sorted(rows) == [1, 2]


async def test_a_lost_recipient_is_not_kept_pending_by_another_broadcasts_row(
    db: Database,
) -> None:
    """Broadcast 1's row to a person is gone undelivered (failed, or forgotten); broadcast 2
    to the same person is still queued: broadcast 1 counts that person lost, not «в очереди»
    (the still-queued check matches the broadcast, not just the person)."""
    from sqlalchemy import delete

    numbers = []
    for text in ("Первая", "Вторая"):
        async with db.write() as session:
            number = await broadcast.start(session, ADMIN_ID, ADMIN_CHAT, broadcast.Audience.DRAFTS)
            assert await broadcast.set_text(session, number, text)
        async with db.write() as session:
            assert await broadcast.send(session, number, [7001]) == 1
            await session.flush()
            if not numbers:  # the first one's row failed for good and was cleaned up
                await session.execute(delete(OutboxMessage))
        numbers.append(number)
    async with db.read() as session:
        counts = {c.broadcast_id: c for c in await broadcast.status(session)}
    assert (counts[numbers[0]].pending, counts[numbers[0]].lost) == (0, 1)
    assert (counts[numbers[1]].pending, counts[numbers[1]].lost) == (1, 0)


async def test_in_a_private_chat_the_text_typed_as_an_ordinary_message_is_taken(
    h: Harness, db: Database
) -> None:
    """Nobody else is in an admin's private chat: the next message is the text, reply or
    not (bot/prompts.py)."""
    await responsible(db)
    boss = h.user(ADMIN_ID, "Ольга")
    await boss.send("/broadcast")
    await boss.press(texts.BROADCAST_AUDIENCES["responsible"])
    assert boss.last.plain == texts.BROADCAST_ASK_TEXT  # no name: it is their own chat
    preview = (await boss.send("Обучение 10.12 в 10:00"))[-1]
    assert preview.plain.startswith("Предпросмотр") and "Обучение 10.12" in preview.plain
    await boss.press(texts.BTN_BROADCAST_SEND)
    for user_id in RESPONSIBLE:
        assert received(h, user_id) == ["Обучение 10.12 в 10:00"]
    assert h.unanswered_callbacks() == []


async def test_nobody_to_send_to_is_said_at_the_preview_and_nothing_is_listed(
    h: Harness, db: Database
) -> None:
    boss = admin(h)
    await boss.send("/broadcast")
    await boss.press(texts.BROADCAST_AUDIENCES["responsible"])
    preview = (await boss.reply("Обучение"))[-1]
    assert preview.plain == texts.BROADCAST_NOBODY_NOW
    assert texts.BTN_BROADCAST_SEND not in preview.buttons  # nothing to confirm
    status = (await boss.send("/broadcast status"))[-1].plain
    assert status == "Рассылок ещё не было."


async def test_one_recipient_in_words_and_the_time_in_moscow(h: Harness, db: Database) -> None:
    from datetime import UTC, timedelta

    from sqlalchemy import update

    from db.models import Broadcast

    await add_staff(db, 5101, StaffRole.RESPONSIBLE, organization_id=1)
    await draft(h, texts.BROADCAST_AUDIENCES["responsible"])
    sent = await admin(h).press(texts.BTN_BROADCAST_SEND)
    assert "1 получатель." in sent[-1].plain and "получателей" not in sent[-1].plain
    sent_at = datetime(2026, 11, 30, 7, 5, tzinfo=UTC)
    async with db.write() as session:
        await session.execute(update(Broadcast).values(sent_at=sent_at))
    status = (await admin(h).send("/broadcast status"))[-1].plain
    moscow = sent_at + timedelta(hours=3)
    assert f"№ 1 от {moscow:%d.%m.%Y %H:%M} —" in status and "UTC" not in status


# --- audiences by request status and by organisation (order items 4.2-4.3) ------------------


async def requests_in_every_status(db: Database) -> dict[str, int]:
    """One applicant per status (accounts 7001…), all of org 1 but the granted one (org 3);
    an erased approved request too (7006). Returns status → account."""
    from sqlalchemy import update

    from db.models import AccessRequest
    from services.requests import Status, decide, submit
    from tests.test_oversight import new

    people: dict[str, int] = {}
    async with db.write() as session:
        for n, target in enumerate(
            (
                Status.SUBMITTED,
                Status.APPROVED,
                Status.EXPORTED,
                Status.ACCESS_GRANTED,
                Status.REJECTED,
                Status.APPROVED,
            ),
            start=1,
        ):
            org = 3 if target == Status.ACCESS_GRANTED else 1
            made = await submit(session, new(n, org))
            assert made.request is not None
            number = made.request.id
            if target != Status.SUBMITTED:
                first = Status.REJECTED if target == Status.REJECTED else Status.APPROVED
                await decide(session, number, first, actor_id=1)
            for step in (Status.EXPORTED, Status.ACCESS_GRANTED):
                if target in (Status.EXPORTED, Status.ACCESS_GRANTED):
                    await session.execute(
                        update(AccessRequest)
                        .where(AccessRequest.id == number)
                        .values(status=step.value)
                    )
                    if target == step:
                        break
            if n == 6:
                await session.execute(
                    update(AccessRequest).where(AccessRequest.id == number).values(erased_at=now())
                )
                continue
            people[target.value] = 7000 + n
    return people


def now() -> datetime:
    from db.models import utcnow

    return utcnow()


async def test_audiences_by_the_status_of_the_request(h: Harness, db: Database) -> None:
    people = await requests_in_every_status(db)
    for audience, expected in (
        ("submitted", [people["submitted"]]),
        ("approved", [people["approved"], people["exported"]]),  # exported: still «одобрена»
        ("granted", [people["access_granted"]]),
    ):
        preview = await draft(h, texts.BROADCAST_AUDIENCES[audience], f"Обучение {audience}")
        assert f"Кому: {texts.BROADCAST_AUDIENCES[audience]} — {len(expected)} чел." in preview
        await admin(h).press(texts.BTN_BROADCAST_SEND)
        for account in range(7001, 7007):
            got = received(h, account)
            assert (got == [f"Обучение {audience}"]) == (account in expected), (audience, account)
        h.session.calls.clear()
    assert h.unanswered_callbacks() == []


async def test_an_organisation_found_by_words_is_the_audience(h: Harness, db: Database) -> None:
    await responsible(db)  # 5101 answers for org 1
    people = await requests_in_every_status(db)
    boss = admin(h)
    await boss.send("/broadcast")
    await boss.press(texts.BROADCAST_AUDIENCES["organization"])
    assert texts.BROADCAST_ORG_PROMPT in boss.last.plain
    nothing = (await boss.reply("несуществующая"))[-1]
    assert texts.BROADCAST_ORG_NONE in nothing.plain  # the same question again
    found = (await boss.reply("онкодиспансер"))[-1]
    assert found.plain.startswith("Найдено организаций: 1")
    await boss.press(found.buttons[0])
    assert texts.BROADCAST_ASK_TEXT in boss.last.plain
    preview = (await boss.reply("Обучение для онкодиспансера"))[-1].plain
    # Org 1's applicants with live or granted requests (submitted, approved, exported; not the
    # rejected one nor the erased one) and its responsible person.
    assert "Сотрудникам организации «ОБРАЗЕЦ ОГБУЗ «Условный онкодиспансер №1»» — 4 чел." in (
        preview
    )
    await boss.press(texts.BTN_BROADCAST_SEND)
    expected = {5101, people["submitted"], people["approved"], people["exported"]}
    for account in (5101, 5102, 5103, *range(7001, 7007)):
        assert bool(received(h, account)) == (account in expected), account
    assert h.unanswered_callbacks() == []


async def test_a_forged_organisation_button_is_stale(h: Harness, db: Database) -> None:
    boss = admin(h)
    await boss.send("/broadcast")
    assert await boss.press_data(boss.last, "bc:org:99999") == []
    assert boss.last_answer_text() == texts.STALE_BUTTON
    assert await boss.press_data(boss.last, "bc:org:x") == []
    assert boss.last_answer_text() == texts.BROADCAST_STALE
