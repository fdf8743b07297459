"""The comuni gazetteer on the real ISTAT list: what elderly citizens type on a phone must find their comune."""

from __future__ import annotations

import socket
from typing import Any, NoReturn

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversations.comuni import Comune, Gazetteer
from storage.comuni import load_gazetteer

RAVENNA = "039014"
FORLI = "040012"
SAN_DONA = "027033"
REGGIO_EMILIA = "035033"
BOLOGNA = "037006"
TORINO = "001272"
CASTRO_BG = "016065"
CASTRO_LE = "075096"
PATERNO_CT = "087033"
PATERNO_PZ = "076100"


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return load_gazetteer()


def _codes(comuni: tuple[Comune, ...]) -> list[str]:
    return [comune.istat_code for comune in comuni]


def _where(comuni: tuple[Comune, ...]) -> set[tuple[str, str]]:
    return {(comune.name, comune.province_code) for comune in comuni}


# --- loading ------------------------------------------------------------------------------------


def test_loader_drops_no_comune(gazetteer: Gazetteer) -> None:
    comuni = list(gazetteer)
    assert len(gazetteer) == len(comuni) > 7_800
    assert len({comune.istat_code for comune in comuni}) == len(comuni)
    assert all(len(comune.istat_code) == 6 and comune.istat_code.isalnum() for comune in comuni)
    assert all(len(comune.province_code) == 2 and comune.region for comune in comuni)
    assert all(len(cap) == 5 and cap.isdigit() for comune in comuni for cap in comune.caps)


@pytest.mark.parametrize(
    ("istat_code", "name", "province_code", "province_name", "region"),
    [
        pytest.param("001001", "Agliè", "TO", "Torino", "Piemonte", id="Agliè"),
        pytest.param(FORLI, "Forlì", "FC", "Forlì-Cesena", "Emilia-Romagna", id="Forlì"),
        pytest.param(SAN_DONA, "San Donà di Piave", "VE", "Venezia", "Veneto", id="San Donà di Piave"),
        pytest.param(PATERNO_CT, "Paternò", "CT", "Catania", "Sicilia", id="Paternò"),
        pytest.param(REGGIO_EMILIA, "Reggio nell'Emilia", "RE", "Reggio nell'Emilia", "Emilia-Romagna", id="apostrophe"),
    ],
)
def test_latin1_csv_does_not_mangle_accented_names(
    gazetteer: Gazetteer, istat_code: str, name: str, province_code: str, province_name: str, region: str
) -> None:
    comune = gazetteer.get(istat_code)
    assert comune is not None
    assert (comune.name, comune.province_code, comune.province_name, comune.region) == (
        name,
        province_code,
        province_name,
        region,
    )


def test_caps_are_attached_to_their_comune(gazetteer: Gazetteer) -> None:
    ravenna = gazetteer.get(RAVENNA)
    assert ravenna is not None
    assert ravenna.caps == ("48121", "48122", "48123", "48124", "48125")


@pytest.mark.parametrize("code", ["", "999999", "39014", "ravenna", "💥"], ids=["empty", "unknown", "five digits", "name", "emoji"])
def test_unknown_istat_code_is_none_not_an_error(gazetteer: Gazetteer, code: str) -> None:
    assert gazetteer.get(code) is None


def test_loading_never_touches_the_network(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def refuse(*args: Any, **kwargs: Any) -> NoReturn:
        raise AssertionError(f"network access while loading the gazetteer: {args!r}")

    monkeypatch.setattr(requests.Session, "request", refuse)
    monkeypatch.setattr(requests, "get", refuse)
    monkeypatch.setattr(requests, "head", refuse)
    monkeypatch.setattr(requests, "request", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)

    fresh = load_gazetteer.__wrapped__()  # bypass the cache: really read the files again

    assert len(fresh) > 7_800
    assert capsys.readouterr().out == ""  # the library prints when it falls back from a failed download


# --- exact names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "istat_code"),
    [
        pytest.param("Ravenna", RAVENNA, id="name"),
        pytest.param("RAVENNA", RAVENNA, id="upper case"),
        pytest.param("  ravenna.  ", RAVENNA, id="spaces and dot"),
        pytest.param("forli", FORLI, id="accent left out"),
        pytest.param("Forlì", FORLI, id="accent"),
        pytest.param("FORLI'", FORLI, id="apostrophe for accent"),
        pytest.param("Forli\u0300", FORLI, id="decomposed accent"),
        pytest.param("san dona di piave", SAN_DONA, id="several words"),
        pytest.param("San Donà-di-Piave", SAN_DONA, id="hyphens"),
        pytest.param("sandonadipiave", SAN_DONA, id="no spaces"),
        pytest.param("reggio nell'emilia", REGGIO_EMILIA, id="apostrophe inside"),
        pytest.param("Comune di Ravenna", RAVENNA, id="comune di"),
        pytest.param("abito a Ravenna", RAVENNA, id="abito a"),
        pytest.param("vivo a ravenna", RAVENNA, id="vivo a"),
        pytest.param("sono di Ravenna", RAVENNA, id="sono di"),
        pytest.param("a Ravenna", RAVENNA, id="a"),
        pytest.param("📍 Ravenna 🙏", RAVENNA, id="emoji around"),
        pytest.param("\u200fRavenna\u200b", RAVENNA, id="invisible marks"),
        pytest.param("Alghero", "090003", id="sardinian comune without caps"),
    ],
)
def test_exact_name_is_found_exactly(gazetteer: Gazetteer, text: str, istat_code: str) -> None:
    found = gazetteer.lookup(text)
    assert _codes(found.candidates) == [istat_code]
    assert found.is_exact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Castro", {("Castro", "BG"), ("Castro", "LE")}, id="Castro"),
        pytest.param("samone", {("Samone", "TO"), ("Samone", "TN")}, id="Samone"),
        pytest.param("Livo", {("Livo", "CO"), ("Livo", "TN")}, id="Livo"),
        pytest.param("peglio", {("Peglio", "CO"), ("Peglio", "PU")}, id="Peglio"),
        pytest.param("San Teodoro", {("San Teodoro", "ME"), ("San Teodoro", "SS")}, id="San Teodoro"),
        pytest.param("paterno", {("Paternò", "CT"), ("Paterno", "PZ")}, id="Paterno without accent"),
    ],
)
def test_name_in_several_provinces_is_not_guessed(gazetteer: Gazetteer, text: str, expected: set[tuple[str, str]]) -> None:
    found = gazetteer.lookup(text)
    assert _where(found.candidates) == expected
    assert not found.is_exact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Castro LE", ("Castro", "LE"), id="code"),
        pytest.param("Castro (LE)", ("Castro", "LE"), id="code in brackets"),
        pytest.param("castro lecce", ("Castro", "LE"), id="province name"),
        pytest.param("Castro, provincia di Lecce", ("Castro", "LE"), id="provincia di"),
        pytest.param("castro bergamo", ("Castro", "BG"), id="other province"),
        pytest.param("Samone (TN)", ("Samone", "TN"), id="Samone TN"),
        pytest.param("livo como", ("Livo", "CO"), id="Livo Como"),
        pytest.param("Peglio PU", ("Peglio", "PU"), id="Peglio PU"),
        pytest.param("San Teodoro SS", ("San Teodoro", "SS"), id="San Teodoro SS"),
        pytest.param("Paternò", ("Paternò", "CT"), id="typed accent"),
        pytest.param("Paterno (PZ)", ("Paterno", "PZ"), id="Paterno PZ"),
        pytest.param("Monza Brianza", ("Monza", "MB"), id="everyday province name"),
    ],
)
def test_province_or_accent_settles_a_name_in_several_provinces(
    gazetteer: Gazetteer, text: str, expected: tuple[str, str]
) -> None:
    found = gazetteer.lookup(text)
    assert _where(found.candidates) == {expected}
    assert found.is_exact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Castro (MI)", {("Castro", "BG"), ("Castro", "LE")}, id="homonyms"),
        pytest.param("Ravenna MI", {("Ravenna", "RA")}, id="single comune"),
    ],
)
def test_province_contradicting_the_name_is_not_exact(
    gazetteer: Gazetteer, text: str, expected: set[tuple[str, str]]
) -> None:
    found = gazetteer.lookup(text)
    assert _where(found.candidates) == expected
    assert not found.is_exact


# --- typos ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "istat_code"),
    [
        pytest.param("Ravena", RAVENNA, id="missing letter"),
        pytest.param("ravennna", RAVENNA, id="extra letter"),
        pytest.param("rvaenna", RAVENNA, id="swapped letters"),
        pytest.param("bolgona", BOLOGNA, id="swap in Bologna"),
        pytest.param("torimo", TORINO, id="wrong letter"),
        pytest.param("reggio emilia", REGGIO_EMILIA, id="everyday name"),
        pytest.param("Regio Emilia", REGGIO_EMILIA, id="everyday name misspelt"),
        pytest.param("san dona", SAN_DONA, id="first words only"),
        pytest.param("s. dona di piave", SAN_DONA, id="abbreviated san"),
        pytest.param("forlimpopli", "040013", id="long name"),
        pytest.param("bologna centro", BOLOGNA, id="name and more words"),
        pytest.param("buongiorno, abito a Bologna", BOLOGNA, id="inside a sentence"),
        pytest.param("Ravena (RA)", RAVENNA, id="typo with province"),
    ],
)
def test_misspelt_name_is_offered_first_but_not_exact(gazetteer: Gazetteer, text: str, istat_code: str) -> None:
    found = gazetteer.lookup(text)
    assert found.candidates, text
    assert found.candidates[0].istat_code == istat_code
    assert not found.is_exact


def test_fuzzy_candidates_are_ordered_by_score_then_name(gazetteer: Gazetteer) -> None:
    found = gazetteer.lookup("castel san pietro")
    assert [comune.name for comune in found.candidates] == ["Castel San Pietro Romano", "Castel San Pietro Terme"]


# --- CAPs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "istat_code"),
    [
        pytest.param("48121", RAVENNA, id="cap alone"),
        pytest.param("48121 Ravenna", RAVENNA, id="cap and name"),
        pytest.param("Ravenna 48123", RAVENNA, id="name and cap"),
        pytest.param("48121 ravena", RAVENNA, id="cap and misspelt name"),
        pytest.param("via Roma 12, 47121 Forlì", FORLI, id="inside an address"),
        pytest.param("10010 Samone", "001235", id="shared cap narrowed by name"),
        pytest.param("Peglio 22010", "013178", id="name picks one homonym"),
    ],
)
def test_cap_of_one_comune_is_exact(gazetteer: Gazetteer, text: str, istat_code: str) -> None:
    found = gazetteer.lookup(text)
    assert _codes(found.candidates) == [istat_code]
    assert found.is_exact


@pytest.mark.parametrize("cap", ["10010", "24060", "22010"])
def test_cap_shared_by_several_comuni_lists_them_without_choosing(gazetteer: Gazetteer, cap: str) -> None:
    found = gazetteer.lookup(cap)
    assert len(found.candidates) == 6
    assert all(cap in comune.caps for comune in found.candidates)
    names = [comune.name for comune in found.candidates]
    assert names == sorted(names)
    assert not found.is_exact

    everything = gazetteer.lookup(cap, limit=100)
    assert len(everything.candidates) == sum(1 for comune in gazetteer if cap in comune.caps) > 6


@pytest.mark.parametrize(
    ("text", "istat_code"),
    [pytest.param("48100", RAVENNA, id="Ravenna"), pytest.param("00100 Roma", "058091", id="Roma")],
)
def test_old_city_cap_is_offered_but_not_exact(gazetteer: Gazetteer, text: str, istat_code: str) -> None:
    found = gazetteer.lookup(text)
    assert _codes(found.candidates) == [istat_code]
    assert not found.is_exact


def test_cap_contradicting_the_name_offers_both(gazetteer: Gazetteer) -> None:
    found = gazetteer.lookup("48121 Cervia")
    assert [comune.name for comune in found.candidates] == ["Cervia", "Ravenna"]
    assert not found.is_exact


# --- garbage --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("   \n\t ", id="whitespace"),
        pytest.param("xyzzy", id="xyzzy"),
        pytest.param("ciao", id="ciao"),
        pytest.param("grazie", id="grazie"),
        pytest.param("si", id="si"),
        pytest.param("ok", id="ok"),
        pytest.param("non lo so", id="non lo so"),
        pytest.param("12345", id="unknown cap"),
        pytest.param("🙂🙂🙂", id="emoji"),
        pytest.param("\x00\x07\x1b[31m", id="control chars"),
        pytest.param("שלום עולם", id="hebrew"),
        pytest.param("مرحبا", id="arabic"),
        pytest.param("\u202e\u200f\u200e", id="direction marks"),
        pytest.param("a" * 10_000, id="10,000 chars"),
        pytest.param("Ravenna" + " " * 100, id="name in over-long text"),
    ],
)
def test_garbage_gets_no_candidates_and_no_exception(gazetteer: Gazetteer, text: str) -> None:
    found = gazetteer.lookup(text)
    assert found.candidates == ()
    assert not found.is_exact


@pytest.mark.parametrize(("limit", "expected"), [(0, 0), (-1, 0), (1, 1), (3, 3)])
def test_limit_caps_the_candidates(gazetteer: Gazetteer, limit: int, expected: int) -> None:
    found = gazetteer.lookup("10010", limit=limit)
    assert len(found.candidates) == expected


def test_single_candidate_after_limit_is_not_mistaken_for_exact(gazetteer: Gazetteer) -> None:
    assert not gazetteer.lookup("Castro", limit=1).is_exact


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=120))
def test_lookup_never_raises_on_any_string(gazetteer: Gazetteer, text: str) -> None:
    found = gazetteer.lookup(text)
    assert len(found.candidates) <= 6
    assert not found.is_exact or len(found.candidates) == 1
