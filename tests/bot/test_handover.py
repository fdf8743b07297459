"""Every need reaches someone, through the real pipeline: the honest word at submission, /assegna, the
needs a new or widened cooperative inherits, /trasferisci (and the old holder's lost access),
/riapri, and what the holding cooperative hears from the citizen's follow-up."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bot.cli.coops import import_file
from bot.core import Core
from bot.jobs.followups import ask_satisfaction, send_follow_ups
from storage import exports
from storage.models import AuditLog, Need, NeedStatusChange
from tests.bot.test_admin import send
from tests.bot.test_admin_coops import core  # noqa: F401  (the core with an admin, "boss" on the console)
from tests.bot.test_operators import outbox_to, the_need
from tests.bot.test_pipeline import run_intake
from tests.helpers.clock import FakeClock
from tests.helpers.coops import CERVIA, RAVENNA, add_coop, add_need, add_operator, say

SEARCHING = "Stiamo cercando chi può aiutarti: ti scriviamo appena qualcuno la prende in carico"
PROMISE = "Una cooperativa del tuo territorio ti contatterà"


async def op_says(core: Core, who: str, text: str) -> str:
    """What an operator (on the test channel) is answered."""
    await core.pipeline.handle(say(core, who, text))
    return (await outbox_to(core, who))[-1]


def notices(texts: list[str], ticket: str) -> int:
    """How many times a text offered or handed this need to its reader."""
    return sum(1 for t in texts if t.startswith(f"Nuova richiesta {ticket}") or f"vi passa la richiesta {ticket}" in t)


async def actions(core: Core) -> list[str]:
    async with core.sessions() as session:
        return list((await session.execute(select(AuditLog.action).order_by(AuditLog.id))).scalars())


# --- honest at submission, and /assegna ------------------------------------------------------------


async def test_on_a_fresh_install_the_citizen_is_told_we_are_looking_then_an_admin_assigns(core: Core, clock: FakeClock) -> None:
    await run_intake(core, clock)  # no cooperative at all
    done = (await outbox_to(core, "anna"))[-1]
    assert SEARCHING in done and PROMISE not in done
    t = (await the_need(core)).ticket
    [alert] = [m for m in await outbox_to(core, "boss") if t in m]
    assert f"/assegna {t} SLUG" in alert

    rete = await add_coop(core, "rete", comuni=(RAVENNA,), name="Rete Romagna")
    await add_operator(core, rete, "pietro")
    [said] = await send(core, "boss", f"/assegna {t} rete")
    assert f"Fatto: {t} è andata agli operatori di Rete Romagna" in said
    notice = (await outbox_to(core, "pietro"))[-1]
    assert notice.startswith(f"Nuova richiesta {t}") and "/prendo" in notice

    [again] = await send(core, "boss", f"/assegna {t} rete")
    assert "ha già" in again
    assert f"Fatto: {t} è vostra" in await op_says(core, "pietro", f"/prendo {t}")
    assert f"la tua richiesta {t} è stata presa in carico da Rete Romagna" in (await outbox_to(core, "anna"))[-1]
    [held] = await send(core, "boss", f"/assegna {t} rete")
    assert f"{t} la segue già Rete Romagna." == held
    assert notices(await outbox_to(core, "pietro"), t) == 1
    assert "need_assigned" in await actions(core)


async def test_a_citizen_covered_by_a_cooperative_is_promised_a_call(core: Core, clock: FakeClock) -> None:
    await add_coop(core, "cantiere", comuni=(RAVENNA,))
    await run_intake(core, clock)
    done = (await outbox_to(core, "anna"))[-1]
    assert PROMISE in done and SEARCHING not in done


async def test_assegna_is_refused_to_operators_and_citizens_like_an_unknown_command(core: Core, clock: FakeClock) -> None:
    await run_intake(core, clock)
    t = (await the_need(core)).ticket
    rete = await add_coop(core, "rete", comuni=(RAVENNA,))
    await add_operator(core, rete, "pietro")
    await op_says(core, "pietro", f"/assegna {t} rete")
    await core.pipeline.handle(say(core, "anna", f"/assegna {t} rete"))
    assert notices(await outbox_to(core, "pietro"), t) == 0
    assert "need_assigned" not in await actions(core)


# --- a cooperative created or widened inherits the needs nobody covered ----------------------------


def _coops_file(tmp_path: Path, comuni: str, categories: str = '"spesa"') -> Path:
    path = tmp_path / "coops.toml"
    path.write_text(
        f'[[cooperative]]\nslug = "rete"\nname = "Rete Romagna"\ncategories = [{categories}]\ncomuni = [{comuni}]\n',
        encoding="utf-8",
    )
    return path


async def test_a_widened_cooperative_receives_the_needs_nobody_covered_once(core: Core, clock: FakeClock, tmp_path: Path) -> None:
    rete = await add_coop(core, "rete", comuni=(CERVIA,), name="Rete Romagna")
    near = await add_coop(core, "vicina", categories=("casa",), comuni=(RAVENNA,))
    await add_operator(core, rete, "pietro")
    at = clock.now - timedelta(days=1)
    nobody = await add_need(core, at=at, citizen="anna")  # Ravenna, spesa: no one covers it
    declined = await add_need(core, at=at, comune=CERVIA, cooperative_ids=(rete,))  # offered to rete, which said no
    await op_says(core, "pietro", f"/declino {declined.ticket}")
    held = await add_need(core, at=at, category="casa", cooperative_ids=(near,))  # routed: someone has it
    elsewhere = await add_need(core, at=at, comune="037006")  # Bologna: still outside
    assert await import_file(core, _coops_file(tmp_path, f'"{CERVIA}", "{RAVENNA}"', '"spesa", "casa"')) == 0

    texts = await outbox_to(core, "pietro")
    assert notices(texts, nobody.ticket) == 1
    assert notices(texts, declined.ticket) == 0 and notices(texts, held.ticket) == 0 and notices(texts, elsewhere.ticket) == 0
    assert f"{nobody.ticket} –" in await op_says(core, "pietro", "/richieste")

    # Imported again, and widened once more: nothing arrives twice.
    assert await import_file(core, _coops_file(tmp_path, f'"{CERVIA}", "{RAVENNA}"', '"spesa", "casa"')) == 0
    assert await import_file(core, _coops_file(tmp_path, f'"{CERVIA}", "{RAVENNA}", "039016"', '"spesa", "casa"')) == 0
    assert notices(await outbox_to(core, "pietro"), nobody.ticket) == 1
    assert (await actions(core)).count("need_routed_later") == 1


async def test_a_cooperative_widened_from_the_chat_receives_the_need(core: Core, clock: FakeClock) -> None:
    rete = await add_coop(core, "rete", comuni=(CERVIA,), name="Rete Romagna")
    await add_operator(core, rete, "pietro")
    await run_intake(core, clock)  # Ravenna: nobody
    t = (await the_need(core)).ticket
    await send(core, "boss", "/modifica_cooperativa rete territorio")
    await send(core, "boss", "Cervia, Ravenna")
    await send(core, "boss", "sì")
    assert notices(await outbox_to(core, "pietro"), t) == 1
    assert f"Fatto: {t} è vostra" in await op_says(core, "pietro", f"/prendo {t}")
    assert f"presa in carico da Rete Romagna" in (await outbox_to(core, "anna"))[-1]


# --- /trasferisci, and the old holder loses access ---------------------------------------------------


async def _claimed(core: Core, clock: FakeClock) -> tuple[str, int, int]:
    """A need of anna's claimed by Il Cantiere (lucia); Rete Romagna (pietro) exists elsewhere."""
    cantiere = await add_coop(core, "cantiere", comuni=(RAVENNA,), name="Il Cantiere")
    rete = await add_coop(core, "rete", comuni=(CERVIA,), name="Rete Romagna")
    await add_operator(core, cantiere, "lucia")
    await add_operator(core, cantiere, "marta")
    await add_operator(core, rete, "pietro")
    await run_intake(core, clock)
    t = (await the_need(core)).ticket
    assert "è vostra" in await op_says(core, "lucia", f"/prendo {t}")
    return t, cantiere, rete


OLD_HOLDER_TRIES = ("/richiesta {t}", "/stato {t} risolta", "/nota {t} ciao", "/riapri {t}", "/trasferisci {t} rete torna", "/prendo {t}", "/declino {t}")


async def test_after_a_transfer_the_old_cooperative_sees_the_need_as_unknown(core: Core, clock: FakeClock) -> None:
    t, cantiere, rete = await _claimed(core, clock)
    assert await op_says(core, "lucia", f"/trasferisci {t} rete") == f"Scrivi anche il motivo, per esempio: /trasferisci {t} rete serve un educatore"
    said = await op_says(core, "lucia", f"/trasferisci {t} rete serve chi lavora a Cervia")
    assert f"Fatto: {t} ora la segue Rete Romagna" in said

    handed = (await outbox_to(core, "pietro"))[-1]
    assert f"Il Cantiere vi passa la richiesta {t}" in handed and "Motivo: serve chi lavora a Cervia" in handed
    assert f"La tua richiesta {t} ora la segue Rete Romagna" in (await outbox_to(core, "anna"))[-1]

    for text in OLD_HOLDER_TRIES:  # the matrix: every desk command of the old holder, both its operators
        for who in ("lucia", "marta"):
            assert await op_says(core, who, text.format(t=t)) == f"Non trovo la richiesta {t} tra quelle della tua cooperativa."
    assert t not in await op_says(core, "lucia", "/richieste")
    async with core.sessions() as session:
        old_rows = await exports.rows(session, since=clock.now - timedelta(days=1), until=clock.now + timedelta(days=1), include_personal=False, cooperative_id=cantiere)
        new_rows = await exports.rows(session, since=clock.now - timedelta(days=1), until=clock.now + timedelta(days=1), include_personal=False, cooperative_id=rete)
    assert [r[0] for r in old_rows] == [] and [r[0] for r in new_rows] == [t]

    detail = await op_says(core, "pietro", f"/richiesta {t}")
    assert "passata a Rete Romagna (operatore #" in detail and "serve chi lavora a Cervia" in detail
    assert "Contatto: in chat" in detail
    assert "è «in corso»" in await op_says(core, "pietro", f"/stato {t} in corso")
    # Back to the cooperative that had it: refused, so no operator gets the same need twice.
    assert "Il Cantiere ha già avuto" in await op_says(core, "pietro", f"/trasferisci {t} cantiere ci ripensate?")
    for who in ("lucia", "marta", "pietro"):
        assert notices(await outbox_to(core, who), t) == 1
    assert "need_transferred" in await actions(core)


# --- /riapri, the history names the operator ----------------------------------------------------


async def test_the_holder_reopens_a_resolved_need_and_the_history_names_who_did_what(core: Core, clock: FakeClock) -> None:
    t, _, _ = await _claimed(core, clock)
    await op_says(core, "lucia", f"/stato {t} risolta")
    assert "è di nuovo aperta" in await op_says(core, "marta", f"/riapri {t} ha richiamato la figlia")
    assert f"La tua richiesta {t} è di nuovo aperta" in (await outbox_to(core, "anna"))[-1]
    async with core.sessions() as session:
        need = (await session.execute(select(Need))).scalar_one()
        rows = (await session.execute(select(NeedStatusChange).order_by(NeedStatusChange.id))).scalars().all()
    assert (need.status, need.resolved_at, need.closed_at) == ("in_corso", None, None)
    assert [(r.to_status, r.operator_id is not None) for r in rows] == [
        ("nuova", False),
        ("presa_in_carico", True),
        ("risolta", True),
        ("in_corso", True),
    ]
    assert rows[1].operator_id == rows[2].operator_id != rows[3].operator_id
    detail = await op_says(core, "lucia", f"/richiesta {t}")
    assert f"in corso (operatore #{rows[3].operator_id}): ha richiamato la figlia" in detail
    assert f"risolta (operatore #{rows[2].operator_id})" in detail


# --- the follow-up tells the holding cooperative -------------------------------------------------


async def test_the_citizen_says_it_did_not_get_resolved_and_the_cooperative_hears(core: Core, clock: FakeClock) -> None:
    t, _, _ = await _claimed(core, clock)
    await op_says(core, "lucia", f"/stato {t} risolta")
    clock.advance(hours=30)
    assert await ask_satisfaction(core, clock.now) == 1
    assert "Se non si è risolta, scrivi 6" in (await outbox_to(core, "anna"))[-1]
    await core.pipeline.handle(say(core, "anna", "non si è risolta"))
    assert "Abbiamo riaperto la richiesta" in (await outbox_to(core, "anna"))[-1]
    for who in ("lucia", "marta"):
        assert f"{t}: la persona dice che non si è risolta" in (await outbox_to(core, who))[-1]
    assert (await the_need(core)).status == "in_corso"


async def test_the_cooperative_sees_the_rating_and_its_comment(core: Core, clock: FakeClock) -> None:
    t, _, _ = await _claimed(core, clock)
    await op_says(core, "lucia", f"/stato {t} risolta")
    clock.advance(hours=30)
    await ask_satisfaction(core, clock.now)
    await core.pipeline.handle(say(core, "anna", "4"))
    await core.pipeline.handle(say(core, "anna", "Gentili, ma sono arrivati tardi"))
    assert (await outbox_to(core, "marta"))[-1] == f"{t}: la persona ha dato 4 su 5.\nCommento: Gentili, ma sono arrivati tardi"
    assert "Voto della persona: 4 su 5: Gentili, ma sono arrivati tardi" in await op_says(core, "lucia", f"/richiesta {t}")
    assert "Voto della persona" not in await op_says(core, "pietro", f"/richiesta {t}")


async def test_the_cooperative_hears_when_the_citizen_closes_at_the_follow_up(core: Core, clock: FakeClock) -> None:
    t, _, _ = await _claimed(core, clock)
    clock.advance(days=8)
    assert await send_follow_ups(core, clock.now) == 1
    await core.pipeline.handle(say(core, "anna", "si è risolta da sola"))
    assert (await outbox_to(core, "lucia"))[-1] == f"{t}: la persona ha risposto che si è risolta da sola. L'abbiamo chiusa."
    assert "non serve riaprirla" not in await op_says(core, "lucia", f"/riapri {t}")


async def test_no_operator_gets_a_need_twice_across_backfill_assign_and_transfer(core: Core, clock: FakeClock, tmp_path: Path) -> None:
    rete = await add_coop(core, "rete", comuni=(CERVIA,), name="Rete Romagna")
    cantiere = await add_coop(core, "cantiere", comuni=("039016",), name="Il Cantiere")
    await add_operator(core, rete, "pietro")
    await add_operator(core, cantiere, "lucia")
    await run_intake(core, clock)  # Ravenna, spesa: nobody yet
    t = (await the_need(core)).ticket
    assert await import_file(core, _coops_file(tmp_path, f'"{CERVIA}", "{RAVENNA}"')) == 0  # backfill: pietro
    [refused] = await send(core, "boss", f"/assegna {t} rete")
    assert "ha già" in refused
    [given] = await send(core, "boss", f"/assegna {t} cantiere")  # still nobody's: a second cooperative
    assert "Fatto" in given
    await send(core, "boss", "/modifica_cooperativa cantiere territorio")
    await send(core, "boss", "Russi, Ravenna")
    await send(core, "boss", "sì")  # widened where it already has the need: nothing new
    assert "è vostra" in await op_says(core, "pietro", f"/prendo {t}")
    assert "ha già avuto" in await op_says(core, "pietro", f"/trasferisci {t} cantiere vicini a lei")
    for who in ("pietro", "lucia"):
        assert notices(await outbox_to(core, who), t) == 1, who
