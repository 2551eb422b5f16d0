"""A clinician's answers, step by step, shared by the dialog tests."""

from __future__ import annotations

from tests.support.harness import ChatUser

VALID_SNILS = "112-233-445 95"
POSITION = "Главный врач / заместитель глав.врача ЦРБ (МО) муниципального образования"


async def through_consent(user: ChatUser) -> None:
    await user.send("/start")
    await user.press("📝 Подать заявку")
    await user.press("✅ Согласен(на)")
    await user.press("Да")
    await user.press("✅ Готово")


async def to_organization(
    user: ChatUser, *, email: str = "ivanova@example.ru", snils: str = "11223344595"
) -> None:
    await through_consent(user)
    await user.send(snils)
    await user.send("иванова мария петровна")
    await user.send(email)
    await user.press("✅ Да, верно")


async def to_summary(
    user: ChatUser, *, email: str = "ivanova@example.ru", snils: str = "11223344595"
) -> None:
    await to_organization(user, email=email, snils=snils)
    await user.send("ЦРБ")
    await user.press("1. ОБРАЗЕЦ ОГБУЗ «Условная ЦРБ А»")
    await user.press("3. Главный врач")
    await user.press("Куратор 2 уровня")


async def type_organization(user: ChatUser, full: str, short: str) -> None:
    """At the organisation step: nothing found, «Нет в списке», both names typed by hand."""
    await user.send("нет такой")
    await user.press("Нет в списке")
    await user.send(full)
    await user.send(short)
