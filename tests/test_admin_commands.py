"""/queue, /find, /req, /history and staff management."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select

from bot import texts
from bot.callbacks import StaffCb
from bot.dispatcher import build_dispatcher
from db.database import Database
from db.models import RequestEvent, StaffEvent, StaffInvite, StaffMember
from services import staff
from services.role_matrix import RoleMatrix
from services.snils import check_number, format_snils
from services.staff import StaffRole
from tests.conftest import ADMIN_ID, make_settings
from tests.support.admin import ADMIN2_ID, ADMIN_CHAT, admin, cards, submitted
from tests.support.harness import Harness, Sent

NEWCOMER = 900123


async def test_queue_oldest_first_and_opening_a_card(h: Harness, db: Database) -> None:
    await submitted(h, 1001)
    await submitted(h, 1002, snils="431-052-771 35", email="petrov@example.ru")
    boss = admin(h)
    sent = await boss.send("/queue")
    assert "Заявки на рассмотрении:</b> 2" in sent[-1].html
    assert sent[-1].buttons[0].startswith("№ 1 · ")
    assert sent[-1].buttons[0].endswith("ОБРАЗЕЦ ОГБУЗ «Условная ЦРБ А»")
    # No names in the buttons: the list stays in the chat after a withdrawal of consent.
    assert not [b for b in sent[-1].buttons if "Иванова" in b]
    assert sent[-1].buttons[1].startswith("№ 2 ·")
    before = len(cards(h))
    await boss.press("№ 2 ·")
    assert len(cards(h)) == before + 1 and "Заявка № 2" in cards(h)[-1].plain
    async with db.read() as session:
        viewed = (
            await session.scalars(select(RequestEvent).where(RequestEvent.action == "viewed"))
        ).all()
    opened = [v for v in viewed if (v.details or {}).get("via") != "card"]
    assert [(v.request_id, v.actor_id, v.details) for v in opened] == [
        (2, ADMIN_ID, {"via": "list"})
    ]


async def test_queue_pages(h: Harness) -> None:
    for n in range(9):
        number = 100 + n
        digits = f"{200_000_000 + n:09d}"
        snils = format_snils(digits + f"{check_number(digits):02d}")
        await submitted(h, 2000 + n, snils=snils, email=f"u{number}@example.ru")
    boss = admin(h)
    sent = await boss.send("/queue")
    assert "Страница 1 из 2" in sent[-1].plain and "▶️" in sent[-1].buttons
    sent = await boss.press("▶️")
    assert "Страница 2 из 2" in sent[-1].plain
    assert sent[-1].buttons[0].startswith("№ 9 ·")


async def test_find_by_surname_snils_email_and_organization(h: Harness) -> None:
    await submitted(h, 1001)
    boss = admin(h)
    for query in ("иванов", "112 233 445 95", "ivanova@example", "условная црб"):
        sent = await boss.send(f"/find {query}")
        assert sent[-1].plain == texts.found(1), query
        assert sent[-1].buttons[0].startswith("№ 1 ·")
    sent = await boss.send("/find сидоров")
    assert sent[-1].plain == texts.found(0)
    sent = await boss.send("/find")
    assert sent[-1].plain.startswith("Напишите после команды")


async def test_req_and_history(h: Harness) -> None:
    await submitted(h, 1001)
    boss = admin(h)
    await boss.press(texts.BTN_REJECT)
    await boss.press(texts.DEFAULT_REJECT_REASONS[0])
    sent = await boss.send("/req 1")
    assert "Заявка № 1" in sent[-1].plain and "❌ Отклонена" in sent[-1].plain
    assert sent[-1].buttons == []
    sent = await boss.send("/history 1")
    text = sent[-1].plain
    assert "История заявки № 1" in text
    assert "заявитель: подана" in text
    assert "Ольга: отклонена" in text and texts.DEFAULT_REJECT_REASONS[0] in text
    assert "просмотрена" in text
    sent = await boss.send("/req 99")
    assert sent[-1].plain == texts.REQUEST_NOT_FOUND
    sent = await boss.send("/history")
    assert sent[-1].plain == texts.HISTORY_USAGE


async def test_staff_add_and_remove_by_id(h: Harness, db: Database) -> None:
    boss = admin(h)
    sent = await boss.send(f"/staff add operator {NEWCOMER}")
    assert sent[-1].plain == texts.staff_added(NEWCOMER, "operator").replace("<code>", "").replace(
        "</code>", ""
    )
    sent = await boss.send("/staff")
    assert f"{NEWCOMER} — {texts.NOT_SEEN_YET}, оператор" in sent[-1].plain
    sent = await boss.send(f"/staff remove {NEWCOMER}")
    assert "больше не сотрудник" in sent[-1].plain
    async with db.read() as session:
        assert await staff.role_of(session, NEWCOMER) is None
        log = (await session.scalars(select(StaffEvent).order_by(StaffEvent.id))).all()
    assert [(e.action, e.target_id) for e in log][-2:] == [
        ("added", NEWCOMER),
        ("removed", NEWCOMER),
    ]


async def test_the_last_admin_cannot_be_removed(
    db: Database, database_url: str, role_matrix: RoleMatrix
) -> None:
    # No owners (ADMIN_IDS empty): admins added in chat, and the last one stays.
    async with db.write() as session:
        await staff.add(session, None, NEWCOMER, StaffRole.ADMIN)
        await staff.add(session, None, NEWCOMER + 1, StaffRole.ADMIN)
    settings = make_settings(database_url, admin_chat_id=ADMIN_CHAT, admin_ids=[])
    h = Harness(build_dispatcher(settings, db, role_matrix))
    boss = h.member(NEWCOMER, ADMIN_CHAT, "Нина")
    sent = await boss.send(f"/staff remove {NEWCOMER + 1}")
    assert "больше не сотрудник" in sent[-1].plain
    sent = await boss.send(f"/staff remove {NEWCOMER}")
    assert sent[-1].plain == texts.STAFF_LAST_ADMIN
    sent = await boss.send(f"/staff add operator {NEWCOMER}")
    assert sent[-1].plain == texts.STAFF_LAST_ADMIN
    async with db.read() as session:
        assert await staff.role_of(session, NEWCOMER) is StaffRole.ADMIN
    await h.dp.storage.close()


def _link(sent: Sent) -> str:
    return next(w for w in sent.plain.split() if w.startswith("https://t.me/"))


async def test_invite_link_is_single_use(h: Harness, db: Database) -> None:
    boss = admin(h)
    await boss.send("/staff")
    await boss.press(texts.BTN_INVITE_OPERATOR)
    token = _link(h.session.in_chat(ADMIN_ID)[-1]).split("?start=")[1]
    newcomer = h.user(NEWCOMER, "Нина")
    sent = await newcomer.send(f"/start {token}")
    assert sent[-1].plain == texts.welcome_staff("operator")
    other = h.user(NEWCOMER + 1, "Чужой")
    sent = await other.send(f"/start {token}")
    assert sent[-1].plain == texts.INVITE_INVALID
    async with db.read() as session:
        assert await staff.role_of(session, NEWCOMER) is StaffRole.OPERATOR
        assert await staff.role_of(session, NEWCOMER + 1) is None


async def test_an_invite_pressed_in_the_group_goes_only_to_the_admins_private_chat(
    h: Harness, db: Database
) -> None:
    boss = admin(h)
    await boss.send("/staff")
    for button in (texts.BTN_INVITE_ADMIN, texts.BTN_INVITE_OPERATOR):
        in_group = await boss.press(button)
        assert all("t.me/" not in s.plain for s in in_group)
        assert boss.last_answer_text() == texts.INVITE_SENT_PRIVATELY
    assert all("t.me/" not in s.plain for s in h.session.in_chat(ADMIN_CHAT))
    private = [s for s in h.session.in_chat(ADMIN_ID) if "t.me/" in s.plain]
    assert len(private) == 2 and "администратор" in private[0].plain
    assert h.unanswered_callbacks() == []
    # Pressed in the admin's private chat, the link comes as the next message there.
    me = h.user(ADMIN_ID, "Ольга")
    await me.send("/staff")
    sent = await me.press(texts.BTN_INVITE_OPERATOR)
    assert "t.me/" in sent[-1].plain and me.last_answer_text() is None


async def test_an_admin_without_a_private_chat_is_told_how_to_get_the_link(
    h: Harness, db: Database
) -> None:
    h.session.blocked.add(ADMIN_ID)  # never started the bot: Telegram refuses with 403
    boss = admin(h)
    await boss.send("/staff")
    await boss.press(texts.BTN_INVITE_ADMIN)
    assert boss.last_answer_text() == texts.invite_undeliverable("vimis_test_bot")
    assert all("t.me/" not in s.plain for s in h.session.log)
    async with db.read() as session:
        invite = (await session.scalars(select(StaffInvite))).one()
        actions = [e.action for e in await session.scalars(select(StaffEvent))]
    assert invite.revoked_at is not None  # nobody saw it, and nobody can use it
    assert actions[-2:] == ["invite_created", "invite_revoked"]
    sent = await h.user(NEWCOMER).send(f"/start inv_{invite.token}")
    assert sent[-1].plain == texts.INVITE_INVALID


async def _chat_admin_with_invite(h: Harness, db: Database) -> str:
    """A second admin added in chat (not an owner), with an unused invite of theirs."""
    await admin(h).send(f"/staff add admin {NEWCOMER}")
    async with db.write() as session:
        invite = await staff.create_invite(session, NEWCOMER, StaffRole.ADMIN)
    return invite.token


async def test_removing_an_admin_revokes_their_unused_invites(h: Harness, db: Database) -> None:
    token = await _chat_admin_with_invite(h, db)
    sent = await admin(h).send(f"/staff remove {NEWCOMER}")
    assert "больше не сотрудник" in sent[-1].plain
    sent = await h.user(NEWCOMER + 5).send(f"/start inv_{token}")
    assert sent[-1].plain == texts.INVITE_INVALID
    async with db.read() as session:
        assert await staff.role_of(session, NEWCOMER + 5) is None
        log = [(e.action, e.target_id) for e in await session.scalars(select(StaffEvent))]
    assert log[-2:] == [("removed", NEWCOMER), ("invites_revoked", NEWCOMER)]


async def test_demoting_an_admin_revokes_their_unused_invites(h: Harness, db: Database) -> None:
    token = await _chat_admin_with_invite(h, db)
    await admin(h).send(f"/staff add operator {NEWCOMER}")
    sent = await h.user(NEWCOMER + 5).send(f"/start inv_{token}")
    assert sent[-1].plain == texts.INVITE_INVALID


async def test_an_invite_works_only_while_its_creator_is_an_admin(h: Harness, db: Database) -> None:
    # The creator lost the role some other way than /staff remove (here: by hand in the
    # database): the check at redemption still refuses the invite.
    token = await _chat_admin_with_invite(h, db)
    async with db.write() as session:
        await session.execute(delete(StaffMember).where(StaffMember.account_id == NEWCOMER))
    sent = await h.user(NEWCOMER + 5).send(f"/start inv_{token}")
    assert sent[-1].plain == texts.INVITE_INVALID
    async with db.read() as session:
        assert await staff.role_of(session, NEWCOMER + 5) is None


async def test_owners_from_admin_ids_cannot_be_removed_in_chat(h: Harness, db: Database) -> None:
    boss = admin(h)
    for command in (f"/staff remove {ADMIN2_ID}", f"/staff add operator {ADMIN2_ID}"):
        sent = await boss.send(command)
        assert sent[-1].plain == texts.plain(texts.staff_owner(ADMIN2_ID)), command
        assert "ADMIN_IDS" in sent[-1].plain and "перезапустите" in sent[-1].plain
    listing = (await boss.send("/staff"))[-1]
    assert listing.plain.count(texts.OWNER_MARK) == 2
    assert not [b for b in listing.buttons if b.startswith("🗑")]  # no remove button for owners
    # A replayed remove button of an owner is refused the same way.
    await boss.press_data(listing, StaffCb(action="remove", user_id=ADMIN2_ID).pack())
    assert boss.last_answer_text() == texts.plain(texts.staff_owner(ADMIN2_ID))
    async with db.read() as session:
        assert await staff.role_of(session, ADMIN2_ID) is StaffRole.ADMIN


async def test_an_owner_is_removed_by_editing_admin_ids_and_restarting(
    h: Harness, db: Database
) -> None:
    await admin(h).send(f"/staff add admin {NEWCOMER}")  # added in chat: stays
    async with db.write() as session:
        invite = await staff.create_invite(session, ADMIN2_ID, StaffRole.OPERATOR)
    async with db.write() as session:  # the restart with ADMIN_IDS=900001
        await staff.bootstrap_admins(session, [ADMIN_ID])
    async with db.read() as session:
        assert await staff.role_of(session, ADMIN2_ID) is None
        assert await staff.role_of(session, NEWCOMER) is StaffRole.ADMIN
        assert await staff.role_of(session, ADMIN_ID) is StaffRole.ADMIN
        log = [(e.action, e.target_id) for e in await session.scalars(select(StaffEvent))]
    assert ("owner_removed", ADMIN2_ID) in log and ("invites_revoked", ADMIN2_ID) in log
    sent = await h.user(NEWCOMER + 5).send(f"/start inv_{invite.token}")
    assert sent[-1].plain == texts.INVITE_INVALID
    # Listed again, they are an owner again.
    async with db.write() as session:
        await staff.bootstrap_admins(session, [ADMIN_ID, ADMIN2_ID])
    async with db.read() as session:
        assert await staff.is_owner(session, ADMIN2_ID)


async def test_an_expired_invite_does_nothing(h: Harness, db: Database) -> None:
    async with db.write() as session:
        invite = await staff.create_invite(
            session, ADMIN_ID, StaffRole.ADMIN, ttl=timedelta(seconds=-1)
        )
    sent = await h.user(NEWCOMER).send(f"/start inv_{invite.token}")
    assert sent[-1].plain == texts.INVITE_INVALID
    async with db.read() as session:
        assert await staff.role_of(session, NEWCOMER) is None


async def test_staff_commands_need_an_admin(h: Harness) -> None:
    stranger = h.member(NEWCOMER, ADMIN_CHAT, "Гость")
    for command in ("/staff", f"/staff add admin {NEWCOMER}", "/find иванова", "/history 1"):
        sent = await stranger.send(command)
        assert sent[-1].plain == texts.NO_ACCESS, command


async def test_an_owner_not_seen_yet_is_listed_once_by_id(h: Harness, db: Database) -> None:
    boss = admin(h)
    await boss.send("/start")  # seen: listed by name
    text = (await boss.send("/staff"))[-1].plain
    assert f"id {ADMIN2_ID} ({ADMIN2_ID})" not in text
    assert f"• {ADMIN2_ID} — {texts.NOT_SEEN_YET}, администратор" in text


async def test_help_shows_a_viewers_and_a_responsible_persons_own_commands(
    h: Harness, db: Database
) -> None:
    from tests.test_report import add_staff

    await add_staff(db, 7001, StaffRole.VIEWER)
    await add_staff(db, 7002, StaffRole.RESPONSIBLE, organization_id=1)
    viewer = (await h.user(7001).send("/help"))[0].plain
    assert "/stats" in viewer and "/report" in viewer and "/org" not in viewer
    responsible = await h.user(7002).send("/help")
    assert "/org" in responsible[0].plain and "/stats" not in responsible[0].plain
    assert responsible[-1].plain.startswith("Возможно, ответ уже есть")  # the question too
    applicant = await h.user(7003).send("/help")
    assert len(applicant) == 1 and "/org" not in applicant[0].plain
