"""Review 5 (issue 12): reproductions of defects found in the organisations' features.
Each test fails on main as it is."""

from __future__ import annotations

from bot import texts
from db.database import Database
from db.models import AccessRequest
from tests.admin_support import admin, submitted
from tests.harness import Harness
from tests.org_support import RESP_A1, responsible


async def test_no_request_means_the_same_to_reminders_broadcast_and_report(
    h: Harness, db: Database
) -> None:
    """An organisation whose only request was rejected: the deadline reminder tells its
    responsible person «ещё нет ни одной заявки» (rejected = no live request), while
    /broadcast «организациям без заявок» skips them and /report does not list the organisation
    as «Без заявки» (rejected = a request)."""
    from services import broadcast, org_confirmation
    from services.broadcast import Audience

    await responsible(db, RESP_A1)
    await submitted(h)
    async with db.write() as session:
        row = await session.get(AccessRequest, 1)
        assert row is not None
        row.status = "rejected"
    async with db.read() as session:
        reminded = {p for p, _ in await org_confirmation.responsible_without_requests(session)}
        broadcast_to = set(await broadcast.recipients(session, Audience.NO_REQUEST))
    assert (RESP_A1 in reminded) == (RESP_A1 in broadcast_to), (reminded, broadcast_to)


async def test_an_invited_viewer_gets_the_figures_in_the_menu(h: Harness, db: Database) -> None:
    """A responsible person gets /org in their menu on joining; a viewer gets /stats /coverage
    /report only at the bot's next start (set_viewer_commands runs at start-up only)."""
    from tests.test_org import invite_token

    boss = admin(h)
    await boss.send("/staff")
    await boss.press(texts.BTN_INVITE_VIEWER)
    viewer = h.user(881888, "Виктор")
    assert (await viewer.send(f"/start inv_{invite_token(h)}"))[-1].plain == texts.WELCOME_VIEWER
    menus = [
        c
        for c in h.session.calls
        if type(c).__name__ == "SetMyCommands" and getattr(c.scope, "chat_id", None) == 881888
    ]
    assert menus and "report" in [c.command for c in menus[-1].commands]
