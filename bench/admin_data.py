"""A data set for the admin benchmark: N requests of 500 organisations, in realistic statuses,
with their consents, e-mail claims, export batches and events, inserted in bulk but shaped
exactly as the services write them (the same columns, search keys, event actions and details).

Organisation names are made up for benchmarking, at the length of real ones (ФРМО's full names
run to 100–180 characters); they are not shipped as data.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from db.database import Database
from db.models import (
    AccessRequest,
    Consent,
    EmailClaim,
    ExportBatch,
    Organization,
    RequestEvent,
)
from services.requests import Status, request_search_key
from services.snils import check_number, format_snils
from services.text_search import search_key

REGION = "Костромская область"
CONSENT_VERSION = "2026-11-26.2"
TOWNS = (
    "Буйская",
    "Галичская",
    "Мантуровская",
    "Нерехтская",
    "Шарьинская",
    "Макарьевская",
    "Солигаличская",
    "Чухломская",
    "Кологривская",
    "Вохомская",
    "Судиславская",
    "Островская",
    "Красносельская",
    "Парфеньевская",
    "Пыщугская",
    "Поназыревская",
    "Межевская",
    "Антроповская",
    "Кадыйская",
    "Нейская",
    "Октябрьская",
    "Павинская",
    "Сусанинская",
    "Костромская",
    "Волгореченская",
)
KINDS = (
    ("центральная районная больница", "ЦРБ"),
    ("районная поликлиника", "РП"),
    ("участковая больница", "УБ"),
    ("врачебная амбулатория", "ВА"),
    ("стоматологическая поликлиника", "СП"),
)
SURNAMES = (
    "Иванова",
    "Смирнов",
    "Кузнецова",
    "Попов",
    "Васильева",
    "Петров",
    "Соколова",
    "Михайлов",
    "Новикова",
    "Фёдоров",
    "Морозова",
    "Волков",
    "Алексеева",
    "Лебедев",
    "Семёнова",
    "Егоров",
    "Павлова",
    "Козлов",
    "Степанова",
    "Николаев",
    "Константинопольская",
    "Салтыков-Щедрин",
    "Оглы-Мамедов",
)
NAMES = (
    "Мария",
    "Александр",
    "Екатерина",
    "Дмитрий",
    "Анна",
    "Сергей",
    "Ольга",
    "Андрей",
    "Татьяна",
    "Алексей",
    "Наталья",
    "Михаил",
    "Елена",
    "Владимир",
    "Ирина",
)
PATRONYMICS = (
    "Петровна",
    "Иванович",
    "Сергеевна",
    "Александрович",
    "Владимировна",
    "Николаевич",
    "Андреевна",
    "Михайлович",
    "Алексеевна",
    "Дмитриевич",
    "",
)
ROLES = (
    ("Куратор 1 уровня", "Медицинская организация РФ", "Врач-онколог"),
    (
        "Куратор 2 уровня",
        "Муниципальное образование РФ",
        "Главный врач / заместитель главного врача",
    ),
    ("Куратор 3 уровня", "Субъект РФ", "Главный внештатный специалист-онколог"),
)
# Status shares at the height of a campaign: most requests granted, a queue of one in twelve.
STATUS_SHARES = (
    (Status.ACCESS_GRANTED, 0.55),
    (Status.EXPORTED, 0.17),
    (Status.APPROVED, 0.03),
    (Status.SUBMITTED, 0.08),
    (Status.RETURNED, 0.02),
    (Status.REJECTED, 0.12),
    (Status.CANCELLED, 0.03),
)
DECIDED = {Status.ACCESS_GRANTED, Status.EXPORTED, Status.APPROVED, Status.REJECTED}
BATCH_SIZE = 400  # requests per export batch, about a day's approvals
ADMIN = 1


def organizations(count: int = 500) -> list[dict[str, Any]]:
    """`count` organisations: the ЦРБ and the like of 25 districts, then numbered polyclinics."""
    rows = []
    for index in range(count):
        if index < len(TOWNS) * len(KINDS):
            town, (kind, short_kind) = TOWNS[index % len(TOWNS)], KINDS[index // len(TOWNS)]
            full = f"Областное государственное бюджетное учреждение здравоохранения «{town} {kind}»"
            short = f"ОГБУЗ «{town} {short_kind}»"
        else:
            number = index - len(TOWNS) * len(KINDS) + 1
            full = (
                "Областное государственное бюджетное учреждение здравоохранения «Городская "
                f"поликлиника № {number} города Костромы имени заслуженного врача РФ»"
            )
            short = f"ОГБУЗ «Городская поликлиника № {number} г. Костромы»"
        rows.append(
            {
                "id": index + 1,
                "oid": f"1.2.643.5.1.13.13.12.0.44.{1000 + index}",
                "name_full": full,
                "name_short": short,
                "region": REGION,
                "search_key": search_key(f"{full} {short}"),
                "deleted": False,
                "updated_at": datetime(2026, 9, 1, tzinfo=UTC),
            }
        )
    return rows


def snils_of(n: int) -> str:
    first_nine = f"{200_000_000 + n:09d}"
    return format_snils(first_nine + f"{check_number(first_nine):02d}")


def email_of(n: int) -> str:
    return f"user{n}.oncology@kostroma-med.ru"


def person(rng: random.Random) -> str:
    return " ".join(
        p for p in (rng.choice(SURNAMES), rng.choice(NAMES), rng.choice(PATRONYMICS)) if p
    )


@dataclass
class DataSet:
    requests: list[dict[str, Any]]
    consents: list[dict[str, Any]]
    claims: list[dict[str, Any]]
    events: list[dict[str, Any]]
    batches: list[dict[str, Any]]


def build(
    n: int, orgs: list[dict[str, Any]], *, days: int = 120, seed: int = 11, covered: int = 0
) -> DataSet:
    """N requests over `days` days of a campaign (more of them later on), to the first
    `covered` organisations (all when 0)."""
    orgs = orgs[:covered] if covered else orgs
    rng = random.Random(seed)
    start = datetime(2026, 8, 1, 6, 0, tzinfo=UTC)
    statuses = [s for s, _ in STATUS_SHARES]
    weights = [w for _, w in STATUS_SHARES]
    requests, consents, claims, events = [], [], [], []
    exported: list[int] = []
    submitted_times = sorted(
        start + timedelta(days=days * rng.random() ** 0.7, minutes=rng.randrange(600))
        for _ in range(n)
    )
    for index in range(n):
        request_id = index + 1
        org = orgs[rng.randrange(len(orgs))]
        role, level, position = ROLES[rng.randrange(len(ROLES))]
        status = rng.choices(statuses, weights)[0]
        submitted = submitted_times[index]
        decided = (
            submitted + timedelta(hours=rng.expovariate(1 / 20)) if status in DECIDED else None
        )
        values: dict[str, Any] = {
            "account_id": 10**9 + request_id,
            "snils": snils_of(request_id),
            "full_name": person(rng),
            "email": email_of(request_id),
            "region": REGION,
            "organization_id": org["id"],
            "org_full_name": org["name_full"],
            "org_short_name": org["name_short"],
            "org_manual": False,
            "position": position,
            "position_in_matrix": True,
            "role": role,
            "role_level": level,
            "component": "ВИМИС ОНКО",
        }
        requests.append(
            {
                **values,
                "id": request_id,
                "consent_id": request_id,
                "status": status.value,
                "created_at": submitted,
                "submitted_at": submitted,
                "updated_at": decided or submitted,
                "decided_by": ADMIN if decided else None,
                "decided_at": decided,
                "decision_reason": "Неверно указана должность"
                if status is Status.REJECTED
                else None,
                "return_fields": ["position"] if status is Status.RETURNED else None,
                "export_batch_id": None,
                "search_key": request_search_key(values),
                "erased_at": None,
            }
        )
        consents.append(
            {
                "id": request_id,
                "account_id": values["account_id"],
                "version": CONSENT_VERSION,
                "accepted": True,
                "at": submitted,
                "withdrawn_at": None,
            }
        )
        claims.append({"email": values["email"], "snils": values["snils"], "claimed_at": submitted})
        events.append(
            _event(request_id, "created", values["account_id"], None, "submitted", None, submitted)
        )
        if status in (Status.RETURNED,):
            events.append(
                _event(
                    request_id,
                    "returned",
                    ADMIN,
                    "submitted",
                    "returned",
                    {"reason": "Уточните должность", "fields": ["position"]},
                    submitted + timedelta(hours=3),
                )
            )
        if status is Status.CANCELLED:
            events.append(
                _event(
                    request_id,
                    "cancelled",
                    values["account_id"],
                    "submitted",
                    "cancelled",
                    {"reason": None},
                    submitted + timedelta(hours=1),
                )
            )
        if decided is not None:
            final = Status.REJECTED if status is Status.REJECTED else Status.APPROVED
            events.append(
                _event(
                    request_id,
                    final.value,
                    ADMIN,
                    "submitted",
                    final.value,
                    {"reason": requests[-1]["decision_reason"]},
                    decided,
                )
            )
        if status in (Status.EXPORTED, Status.ACCESS_GRANTED):
            exported.append(index)
    batches = []
    for number, first in enumerate(range(0, len(exported), BATCH_SIZE), start=1):
        members = exported[first : first + BATCH_SIZE]
        at = max(requests[i]["decided_at"] for i in members) + timedelta(hours=2)
        batches.append({"id": number, "created_by": ADMIN, "created_at": at, "size": len(members)})
        for i in members:
            row = requests[i]
            row["export_batch_id"] = number
            events.append(
                _event(
                    row["id"],
                    "exported",
                    ADMIN,
                    "approved",
                    "exported",
                    {"reason": None, "batch": number},
                    at,
                )
            )
            if row["status"] == Status.ACCESS_GRANTED.value:
                events.append(
                    _event(
                        row["id"],
                        "access_granted",
                        ADMIN,
                        "exported",
                        "access_granted",
                        {"reason": None},
                        at + timedelta(days=2),
                    )
                )
            row["updated_at"] = at
    return DataSet(requests, consents, claims, events, batches)


def _event(
    request_id: int,
    action: str,
    actor: int | None,
    old: str | None,
    new: str | None,
    details: dict[str, Any] | None,
    at: datetime,
) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "action": action,
        "actor_id": actor,
        "from_status": old,
        "to_status": new,
        "details": details,
        "at": at,
    }


def _chunks(rows: list[dict[str, Any]], size: int = 5000) -> Iterator[list[dict[str, Any]]]:
    for first in range(0, len(rows), size):
        yield rows[first : first + size]


async def load(db: Database, n: int, *, covered_orgs: int = 0) -> None:
    """Insert the organisations and N requests with everything that comes with them."""
    orgs = organizations()
    data = build(n, orgs, covered=covered_orgs)
    async with db.write_engine.connect() as conn:
        await _insert(conn, Organization, orgs)
        await _insert(conn, ExportBatch, data.batches)
        await _insert(conn, Consent, data.consents)
        await _insert(conn, AccessRequest, data.requests)
        await _insert(conn, EmailClaim, data.claims)
        await _insert(conn, RequestEvent, data.events)
        if not db.is_sqlite:
            for table in (
                "organizations",
                "export_batches",
                "consents",
                "access_requests",
                "request_events",
            ):
                await conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                )
            await conn.commit()
        else:
            await conn.exec_driver_sql("ANALYZE")
            await conn.commit()
    if db.is_sqlite:
        # As a live database's WAL would be: checkpointed a little at every commit, not
        # hundreds of megabytes left for the first measured write to copy (outside any
        # transaction: the read engine runs in autocommit).
        async with db.read_engine.connect() as conn:
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    else:
        # What autovacuum does on a live database after a load: statistics for the planner
        # and the visibility map for index-only scans. VACUUM runs outside a transaction.
        async with db.write_engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.exec_driver_sql("VACUUM ANALYZE")


async def _insert(conn: AsyncConnection, model: Any, rows: list[dict[str, Any]]) -> None:
    for chunk in _chunks(rows):
        async with conn.begin():
            await conn.execute(insert(model), chunk)
