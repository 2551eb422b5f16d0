"""Review 5 (issue 12): reproductions of defects found in the organisations' features.
Each test fails on main as it is."""

from __future__ import annotations

from db.database import Database
from db.models import AccessRequest
from tests.admin_support import submitted
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
