"""Issue 15 on Telegram (PTB against the fake Bot API): the cooperative answers by replying to the need's
alert, the citizen by replying to the cooperative's message; the ticket menu and /ritira with buttons."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Need, NeedMessage
from tests.bot.channels.test_telegram import CHAT, Running, fake, labels, last_keyboard, running_telegram  # noqa: F401 (fixture)
from tests.bot.test_pipeline import INTAKE
from tests.fakes.telegram_api import FakeTelegram, SentMessage
from tests.helpers.coops import RAVENNA, add_coop, add_operator

LUCIA = 5151
"""An operator of Il Cantiere, on Telegram."""
SARA = 6161
"""An operator of another cooperative the need was offered to."""


def last_with(fake: FakeTelegram, chat: int, words: str) -> SentMessage:
    return [m for m in fake.messages_to(chat) if words in (m.text or "")][-1]


async def reply(tg: Running, chat: int, to: SentMessage, text: str) -> None:
    """`chat` presses "Rispondi" on `to` and writes `text`."""
    await tg.deliver(tg.fake.push_message(chat, text, reply_to=to.message_id))


async def a_held_need(tg: Running) -> str:
    cantiere = await add_coop(tg.core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    altra = await add_coop(tg.core, "altra", province=("RA",), name="Altra Coop")
    await add_operator(tg.core, cantiere, str(LUCIA), channel="telegram")
    await add_operator(tg.core, altra, str(SARA), channel="telegram")
    for text in INTAKE:
        await tg.say(text)
    async with tg.core.sessions() as session:
        ticket = (await session.execute(select(Need.ticket))).scalar_one()
    await tg.say(f"/prendo {ticket}", chat=LUCIA)
    return ticket


async def test_replies_carry_the_thread_both_ways(db_url: str, fake: FakeTelegram) -> None:
    async with running_telegram(db_url, fake) as tg:
        t = await a_held_need(tg)
        alert = last_with(fake, LUCIA, f"Nuova richiesta {t}")  # the routed need's alert
        await reply(tg, LUCIA, alert, "Buongiorno, passiamo domani alle 10")
        told = last_with(fake, CHAT, "Il Cantiere ti scrive")
        assert t in (told.text or "") and "passiamo domani alle 10" in (told.text or "")

        await reply(tg, CHAT, told, "Perfetto, grazie")
        forwarded = last_with(fake, LUCIA, "Messaggio dalla persona")
        assert t in (forwarded.text or "") and "Perfetto, grazie" in (forwarded.text or "")

        await reply(tg, LUCIA, forwarded, "A domani allora")  # answering the citizen's message works too
        assert "A domani allora" in (fake.messages_to(CHAT)[-1].text or "")

        offered = last_with(fake, SARA, f"Nuova richiesta {t}")  # Sara got the alert too, but does not hold the need
        await reply(tg, SARA, offered, "Ci pensiamo noi")
        assert fake.messages_to(SARA)[-1].text == f"Non trovo la richiesta {t} tra quelle della tua cooperativa."
        assert "Ci pensiamo noi" not in "\n".join(m.text or "" for m in fake.messages_to(CHAT))
        async with tg.core.sessions() as session:
            bodies = (await session.execute(select(NeedMessage.body).order_by(NeedMessage.id))).scalars().all()
        assert bodies == ["Buongiorno, passiamo domani alle 10", "Perfetto, grazie", "A domani allora"]


async def test_a_reply_in_the_middle_of_a_new_request_goes_to_the_cooperative_and_the_question_is_asked_again(
    db_url: str, fake: FakeTelegram
) -> None:
    async with running_telegram(db_url, fake) as tg:
        t = await a_held_need(tg)
        await tg.say(f"/scrivi {t} Le serve anche il pane?", chat=LUCIA)
        told = last_with(fake, CHAT, "Il Cantiere ti scrive")
        await tg.say("/nuovo")  # starts another request
        question = fake.messages_to(CHAT)[-1].text
        await reply(tg, CHAT, told, "Sì, due pagnotte")
        assert "Sì, due pagnotte" in (fake.messages_to(LUCIA)[-1].text or "")
        assert fake.messages_to(CHAT)[-1].text == question  # the new request goes on where it was


async def test_the_ticket_menu_and_withdrawal_with_buttons(db_url: str, fake: FakeTelegram) -> None:
    async with running_telegram(db_url, fake) as tg:
        t = await a_held_need(tg)
        await tg.say(t)
        assert labels(last_keyboard(fake)) == [tg.t("thread.option_add"), tg.t("thread.option_write"), tg.t("thread.option_withdraw")]
        await tg.tap(tg.t("thread.option_withdraw"))
        assert t in (fake.messages_to(CHAT)[-1].text or "") and "ritirare" in (fake.messages_to(CHAT)[-1].text or "")
        await tg.tap(tg.t("common.yes"))
        assert f"La persona ha ritirato la richiesta {t}" in (fake.messages_to(LUCIA)[-1].text or "")
        async with tg.core.sessions() as session:
            assert (await session.execute(select(Need.status))).scalar_one() == "chiusa"


async def test_replying_to_the_claim_confirmation_writes_to_the_citizen(db_url: str, fake: FakeTelegram) -> None:
    async with running_telegram(db_url, fake) as tg:
        t = await a_held_need(tg)
        confirmation = last_with(fake, LUCIA, f"{t} è vostra")
        await reply(tg, LUCIA, confirmation, "Ci sentiamo oggi pomeriggio")
        assert "Ci sentiamo oggi pomeriggio" in (last_with(fake, CHAT, "Il Cantiere ti scrive").text or "")
