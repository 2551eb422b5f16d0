from tests.support.harness import Harness


async def test_start_shows_menu(harness: Harness) -> None:
    user = harness.user()
    sent = await user.send("/start")
    assert "ВИМИС ОНКО" in sent[-1].plain
    assert "📝 Подать заявку" in sent[-1].buttons
