"""Admin flows as pure code: announcements, categories and cooperatives, question by question, then "Confermi?"."""

from __future__ import annotations

from dataclasses import replace

import pytest

from conversations import (
    BroadcastRequested,
    CategoryAdded,
    CategoryDisabled,
    CategoryMoved,
    CategoryRenamed,
    CategorySynonymsSet,
    Context,
    CooperativeDeactivated,
    CooperativeSaved,
    Engine,
    Msg,
    StaffCommandUsed,
    Translator,
)
from conversations.admin import MAX_BROADCAST_CHARS, MAX_CATEGORY_NAME, broadcast_filters
from conversations.schedule import describe_schedule
from tests.conversations.staff_chat import CANTIERE_DETAIL, CATEGORIES, COOPS, load, staff_chat, summary
from tests.helpers.clock import START
from tests.helpers.transcript import Chat

# --- announcements -----------------------------------------------------------------


def test_announcement_to_a_comune_with_preview_then_sent(engine: Engine, ctx: Context) -> None:
    chat = staff_chat(engine, ctx)
    chat.citizen("/annuncio comune Ravenna")
    where = Msg("admin.filter_comune", {"comune": "Ravenna"})
    chat.bot_asks("admin.broadcast_ask_text", step="text")
    chat.bot_says("admin.broadcast_ask_text", filter=where, max=MAX_BROADCAST_CHARS)
    assert broadcast_filters(chat.state.answers) == ("039014", None)
    chat.citizen("x" * (MAX_BROADCAST_CHARS + 1))
    chat.bot_says("admin.broadcast_retry_text", max=MAX_BROADCAST_CHARS)
    chat.bot_asks("admin.broadcast_ask_text")
    load(chat, recipients=12)  # the reader counts the audience for the preview
    chat.citizen("Domenica sportello aperto")
    chat.bot_asks("admin.broadcast_preview", options=["si", "no"])
    chat.bot_says("admin.broadcast_preview", text="Domenica sportello aperto", recipients=12, filter=where)
    assert chat.effects() == []
    chat.citizen("sì")
    assert chat.said() == ["admin.broadcast_queued"]
    chat.bot_says("admin.broadcast_queued", recipients=12)
    assert chat.effects() == [BroadcastRequested("Domenica sportello aperto", "039014", None, START)]


def test_announcement_to_a_category_answered_no(engine: Engine, ctx: Context) -> None:
    chat = staff_chat(engine, ctx)
    chat.citizen("/broadcast categoria Spesa")
    chat.bot_says("admin.broadcast_ask_text", filter=Msg("admin.filter_category", {"category": "Spesa e beni di prima necessità"}))
    assert broadcast_filters(chat.state.answers) == (None, "spesa")
    chat.citizen("Raccolta alimentare sabato")
    chat.citizen("no")
    assert chat.said() == ["admin.nothing_changed"]
    chat.citizen("/annuncio")
    chat.bot_says("admin.broadcast_ask_text", filter=Msg("admin.filter_all"))
    assert broadcast_filters(chat.state.answers) == (None, None)
    assert chat.effects() == []


@pytest.mark.parametrize(
    "args", ["comune Atlantide", "comune Ravena", "comune Castro", "comune", "categoria boh", "regione Emilia-Romagna"]
)
def test_announcement_audience_that_cannot_be_read(engine: Engine, ctx: Context, args: str) -> None:
    chat = staff_chat(engine, ctx)
    chat.citizen(f"/annuncio {args}")
    assert chat.said() == ["admin.usage_annuncio"]
    assert not chat.state.is_active


def test_on_whatsapp_an_announcement_starting_with_annuncio_is_its_text(engine: Engine, ctx: Context) -> None:
    chat = staff_chat(engine, ctx, channel="whatsapp")
    chat.citizen("annuncio comune Ravenna")
    chat.bot_asks("admin.broadcast_ask_text")
    chat.citizen("annuncio comune Ravenna: domenica festa")
    chat.bot_asks("admin.broadcast_preview")
    assert chat.state.answers["text"] == "annuncio comune Ravenna: domenica festa"
    assert broadcast_filters(chat.state.answers) == ("039014", None)


# --- categories --------------------------------------------------------------------


def test_categories_are_listed_disabled_ones_too(engine: Engine, ctx: Context) -> None:
    chat = staff_chat(engine, ctx, categories=CATEGORIES)
    chat.citizen("/categorie")
    items = chat.bot_says("admin.categories").params["items"]
    assert isinstance(items, tuple) and len(items) == 3
    assert items[2] == Msg(
        "admin.category_item", {"position": 0, "slug": "vecchia", "name_it": "Vecchia", "name_en": "Old", "state": Msg("admin.inactive")}
    )
    assert chat.effects() == [StaffCommandUsed("categorie", START)]


def test_add_a_category(engine: Engine, ctx: Context) -> None:
    chat = staff_chat(engine, ctx, categories=CATEGORIES)
    chat.citizen("/nuova_categoria")
    chat.bot_asks("admin.category_ask_slug", step="slug")
    chat.citizen("vecchia")  # a disabled category keeps its slug
    chat.bot_says("admin.category_retry_slug_taken", slug="vecchia")
    chat.citizen("Trasporti Pubblici")
    chat.bot_says("admin.category_retry_slug")
    chat.citizen("mobilita")
    chat.bot_says("admin.category_ask_name_it", slug="mobilita")
    chat.citizen("-")  # nothing to keep when adding
    chat.bot_says("admin.category_retry_name", max=MAX_CATEGORY_NAME)
    chat.citizen("Mobilità")
    chat.bot_asks("admin.category_ask_name_en", step="name_en")
    chat.citizen("Mobility")
    assert summary(chat) == Msg(
        "admin.confirm_category_add", {"slug": "mobilita", "name_it": "Mobilità", "name_en": "Mobility", "old_it": "", "old_en": ""}
    )
    chat.citizen("sì")
    assert chat.said() == ["admin.done"]
    assert chat.effects() == [CategoryAdded("mobilita", "Mobilità", "Mobility", START)]


def test_rename_a_category_keeping_a_name_with_a_dash(engine: Engine, ctx: Context) -> None:
    chat = staff_chat(engine, ctx, categories=CATEGORIES)
    chat.citizen("/rinomina_categoria Spesa")
    chat.bot_asks("admin.category_ask_name_it_keep", step="name_it")
    chat.bot_says("admin.category_ask_name_it_keep", current="Spesa")
    chat.citizen("-")
    chat.bot_says("admin.category_ask_name_en_keep", current="Groceries")
    chat.citizen("Groceries and more")
    assert summary(chat) == Msg(
        "admin.confirm_category_rename",
        {"slug": "spesa", "name_it": "Spesa", "name_en": "Groceries and more", "old_it": "Spesa", "old_en": "Groceries"},
    )
    chat.citizen("sì")
    assert chat.effects() == [CategoryRenamed("spesa", "Spesa", "Groceries and more", START)]
    chat.citizen("/rename_category boh")
    assert chat.said() == ["admin.usage_rinomina_categoria"]


def test_move_a_category(engine: Engine, ctx: Context) -> None:
    chat = staff_chat(engine, ctx, categories=CATEGORIES)
    chat.citizen("/sposta_categoria salute 1")
    assert summary(chat) == Msg("admin.confirm_category_move", {"name": "Salute", "position": 1})
    chat.citizen("sì")
    assert chat.effects() == [CategoryMoved("salute", 1, START)]
    for text in ("/sposta_categoria salute 3", "/move_category vecchia 1", "/sposta_categoria salute", "/sposta_categoria salute primo"):
        chat.citizen(text)  # past the last active one, disabled, no position, not a number
        assert chat.said() == ["admin.usage_sposta_categoria"], text
        chat.bot_says("admin.usage_sposta_categoria", count=2)
    assert len(chat.effects()) == 1


def test_disable_a_category_but_never_the_last_one(engine: Engine, ctx: Context) -> None:
    chat = staff_chat(engine, ctx, categories=CATEGORIES)
    chat.citizen("/disattiva_categoria spesa")
    assert summary(chat) == Msg("admin.confirm_category_disable", {"name": "Spesa"})
    chat.citizen("no")
    chat.citizen("/disable_category vecchia")
    assert chat.said() == ["admin.usage_disattiva_categoria"]
    load(chat, categories=CATEGORIES[1:])  # only "salute" is active now
    chat.citizen("/disattiva_categoria salute")
    assert chat.said() == ["admin.usage_disattiva_categoria"]
    load(chat, categories=CATEGORIES)
    chat.citizen("/disattiva_categoria salute")
    chat.citizen("sì")
    assert chat.effects() == [CategoryDisabled("salute", START)]


# --- cooperatives ------------------------------------------------------------------


def test_show_a_cooperative(engine: Engine, ctx: Context, translator: Translator) -> None:
    chat = staff_chat(engine, ctx, cooperative=CANTIERE_DETAIL)
    chat.citizen("/cooperativa cantiere")
    chat.bot_says(
        "admin.cooperative_detail",
        name="Il Cantiere",
        slug="cantiere",
        state=Msg("admin.active"),
        territory="Ravenna (039014), provincia FC",
        categories="spesa, salute",
        digest=describe_schedule("0 8 * * mon"),
        timezone="Europe/Rome",
        language="Italiano",
        operators=2,
    )
    assert "Riepilogo: ogni lunedì alle 8 (Europe/Rome), in Italiano" in translator.render(chat.last.replies[0], "it").text
    assert chat.effects() == [StaffCommandUsed("cooperativa", START)]
    load(chat, cooperative=None)  # no cooperative has that slug
    chat.citizen("/show_cooperative nessuna")
    assert chat.said() == ["admin.usage_cooperativa"]


def _new_cooperative(chat: Chat, *answers: str) -> None:
    chat.citizen("/nuova_cooperativa")
    chat.bot_asks("admin.coop_ask_name", step="name")
    for answer in answers:
        chat.citizen(answer)


def test_create_a_cooperative(engine: Engine, ctx: Context) -> None:
    chat = staff_chat(engine, ctx, cooperatives=COOPS)
    _new_cooperative(chat, "Il Faro")
    chat.bot_says("admin.coop_ask_slug", name="Il Faro")
    chat.citizen("cantiere")
    chat.bot_says("admin.coop_retry_slug_taken", slug="cantiere")
    chat.citizen("Il Faro!")
    chat.bot_says("admin.coop_retry_slug")
    chat.citizen("faro")
    chat.bot_asks("admin.coop_ask_territory", step="territory")
    chat.citizen("Ravenna, Atlantide")
    chat.bot_says("admin.coop_retry_territory", item="Atlantide")
    chat.citizen("Ravenna, provincia fc, 039014")
    chat.bot_asks("admin.coop_ask_categories", step="categories")
    chat.citizen("spesa, spessa")
    chat.bot_says("admin.coop_retry_categories", item="spessa")
    chat.citizen("spesa salute")
    chat.bot_says("admin.coop_ask_digest", default=describe_schedule("0 8 * * mon"))
    chat.citizen("ogni lunedì")
    chat.bot_says("schedule.retry_time")
    chat.citizen("0 25 * * mon")
    chat.bot_says("schedule.retry_cron", example="0 8 * * mon")
    chat.citizen("-")
    chat.bot_asks("admin.coop_ask_timezone", step="timezone")
    chat.citizen("Marte/Olympus")
    chat.bot_says("admin.coop_retry_timezone", item="Marte/Olympus", example="Europe/Rome")
    chat.citizen("europe/london")
    chat.bot_asks("admin.coop_ask_language", options=["it", "en"])
    chat.citizen("English")
    assert summary(chat) == Msg(
        "admin.confirm_coop_create",
        {
            "name": "Il Faro",
            "slug": "faro",
            "territory": "Ravenna (039014), provincia FC",
            "categories": "spesa, salute",
            "digest": describe_schedule("0 8 * * mon"),
            "timezone": "Europe/London",
            "language": "English",
        },
    )
    assert chat.effects() == []
    chat.citizen("sì")
    assert chat.said() == ["admin.done"]
    assert chat.effects() == [
        CooperativeSaved(
            slug="faro",
            is_new=True,
            at=START,
            name="Il Faro",
            territory=(("comune", "039014"), ("provincia", "FC")),
            categories=("spesa", "salute"),
            digest_cron="0 8 * * mon",
            timezone="Europe/London",
            language="en",
        )
    ]


def test_an_ambiguous_comune_lists_its_choices(engine: Engine, ctx: Context) -> None:
    chat = staff_chat(engine, ctx)
    _new_cooperative(chat, "Il Faro", "faro", "Castro")
    choices = chat.bot_says("admin.coop_retry_territory_ambiguous", item="Castro").params["choices"]
    assert isinstance(choices, tuple) and len(choices) >= 2
    assert all(isinstance(c, Msg) and c.id == "admin.coop_place_choice" for c in choices)
    chat.bot_asks("admin.coop_ask_territory", step="territory")


@pytest.mark.parametrize(
    ("field", "answer", "old", "new", "saved"),
    [
        pytest.param(
            "orario",
            "dal lunedì al venerdì alle 18:30",
            describe_schedule("0 8 * * mon"),
            describe_schedule("30 18 * * mon-fri"),
            {"digest_cron": "30 18 * * mon-fri"},
            id="orario-in-words",
        ),
        pytest.param(
            "orario", "30 18 * * 1-5", describe_schedule("0 8 * * mon"), describe_schedule("30 18 * * 1-5"), {"digest_cron": "30 18 * * 1-5"}, id="orario-as-cron"
        ),
        ("fuso", "europe/london", "Europe/Rome", "Europe/London", {"timezone": "Europe/London"}),
        ("lingua", "English", "Italiano", "English", {"language": "en"}),
        ("categorie", "salute", "spesa, salute", "salute", {"categories": ("salute",)}),
        ("territorio", "provincia RA", "Ravenna (039014), provincia FC", "provincia RA", {"territory": (("provincia", "RA"),)}),
    ],
)
def test_edit_one_field_of_a_cooperative(
    engine: Engine, ctx: Context, field: str, answer: str, old: object, new: object, saved: dict[str, object]
) -> None:
    chat = staff_chat(engine, ctx, cooperative=CANTIERE_DETAIL)
    chat.citizen(f"/modifica_cooperativa cantiere {field}")
    asked = chat.last.replies[-1].text.id
    assert asked.startswith("admin.coop_ask_") and asked.endswith("_edit"), asked
    chat.citizen(answer)
    kind = {"orario": "digest", "fuso": "timezone", "lingua": "language", "categorie": "categories", "territorio": "territory"}[field]
    assert summary(chat) == Msg(f"admin.confirm_coop_edit_{kind}", {"name": "Il Cantiere", "slug": "cantiere", "old": old, "new": new})
    chat.citizen("sì")
    assert chat.effects() == [CooperativeSaved(slug="cantiere", is_new=False, at=START, **saved)]  # type: ignore[arg-type]


def test_editing_asks_only_the_field_and_keeps_no_default(engine: Engine, ctx: Context) -> None:
    chat = staff_chat(engine, ctx, cooperative=CANTIERE_DETAIL)
    chat.citizen("/edit_cooperative cantiere schedule")
    chat.bot_asks("admin.coop_ask_digest_edit", step="digest")
    chat.bot_says("admin.coop_ask_digest_edit", name="Il Cantiere", digest=describe_schedule("0 8 * * mon"))
    chat.citizen("-")  # "-" is the default only when creating
    chat.bot_says("schedule.retry_unknown")
    chat.citizen("/annulla")
    for text in ("/modifica_cooperativa cantiere colore", "/modifica_cooperativa cantiere"):
        chat.citizen(text)
        assert chat.said() == ["admin.usage_modifica_cooperativa"], text
    load(chat, cooperative=None)
    chat.citizen("/modifica_cooperativa nessuna lingua")
    assert chat.said() == ["admin.usage_modifica_cooperativa"]


def test_deactivate_an_active_cooperative(engine: Engine, ctx: Context) -> None:
    chat = staff_chat(engine, ctx, cooperative=CANTIERE_DETAIL)
    chat.citizen("/disattiva_cooperativa cantiere")
    assert summary(chat) == Msg("admin.confirm_coop_disable", {"name": "Il Cantiere", "slug": "cantiere"})
    chat.citizen("sì")
    assert chat.effects() == [CooperativeDeactivated("cantiere", START)]
    load(chat, cooperative=replace(CANTIERE_DETAIL, is_active=False))
    chat.citizen("/deactivate_cooperative cantiere")
    assert chat.said() == ["admin.usage_disattiva_cooperativa"]
    load(chat, cooperative=None)
    chat.citizen("/disattiva_cooperativa")
    assert chat.said() == ["admin.usage_disattiva_cooperativa"]


# --- the word rule for flows and confirmations -----------------------------------------


@pytest.mark.parametrize(
    ("text", "asked"),
    [
        ("cooperativa cantiere", "admin.cooperative_detail"),
        ("modifica_cooperativa cantiere fuso", "admin.coop_ask_timezone_edit"),
        ("disattiva_cooperativa cantiere", "admin.confirm"),
        ("rinomina_categoria spesa", "admin.category_ask_name_it_keep"),
        ("sposta_categoria salute 1", "admin.confirm"),
        ("disattiva_categoria spesa", "admin.confirm"),
        ("annuncio categoria spesa", "admin.broadcast_ask_text"),
    ],
)
def test_on_whatsapp_flows_start_from_words_with_valid_arguments(engine: Engine, ctx: Context, text: str, asked: str) -> None:
    chat = staff_chat(engine, ctx, channel="whatsapp", cooperative=CANTIERE_DETAIL, categories=CATEGORIES)
    chat.citizen("ciao")
    chat.citizen(text)
    assert asked in chat.said()


@pytest.mark.parametrize(
    "text",
    [
        "cooperativa cantiere e altre",
        "modifica_cooperativa cantiere colore",
        "disattiva_cooperativa cantiere subito",
        "rinomina_categoria vecchissima",
        "sposta_categoria salute 9",
        "disattiva_categoria vecchia",
        "categorie spesa salute",
        "nuova_categoria trasporti",
        "annuncio comune Atlantide",
    ],
)
def test_on_whatsapp_words_that_do_not_check_out_leave_the_conversation_alone(engine: Engine, ctx: Context, text: str) -> None:
    chat = staff_chat(engine, ctx, channel="whatsapp", cooperative=CANTIERE_DETAIL, categories=CATEGORIES)
    chat.citizen("ciao")
    chat.citizen(text)
    assert not any(m.startswith("admin.") for m in chat.said()), chat.said()
    assert chat.effects() == []


# --- category synonyms (issue 14, rule 4) -------------------------------------------


def test_set_the_synonyms_of_a_category_then_confirm(engine: Engine, ctx: Context) -> None:
    chat = staff_chat(engine, ctx, categories=CATEGORIES)
    chat.citizen("/sinonimi_categoria salute")
    chat.bot_asks("admin.category_ask_synonyms", step="synonyms")
    chat.bot_says("admin.category_ask_synonyms", slug="salute", current=Msg("admin.synonyms_none"))
    chat.citizen("x" * 81)
    chat.bot_says("admin.category_retry_synonyms")
    chat.citizen("medico, farmaci ;  ricetta,, Medico")
    assert summary(chat) == Msg("admin.confirm_category_synonyms", {"slug": "salute", "synonyms": "medico, farmaci, ricetta"})
    chat.citizen("sì")
    assert chat.effects() == [CategorySynonymsSet("salute", ("medico", "farmaci", "ricetta"), START)]


def test_a_dash_clears_the_synonyms_and_no_changes_nothing(engine: Engine, ctx: Context) -> None:
    categories = (replace(CATEGORIES[0], synonyms=("pane", "cibo")), *CATEGORIES[1:])
    chat = staff_chat(engine, ctx, categories=categories)
    chat.citizen("/sinonimi_categoria spesa")
    chat.bot_says("admin.category_ask_synonyms", current="pane, cibo")
    chat.citizen("-")
    assert summary(chat) == Msg("admin.confirm_category_synonyms", {"slug": "spesa", "synonyms": Msg("admin.synonyms_none")})
    chat.citizen("no")
    assert chat.said() == ["admin.nothing_changed"]
    chat.citizen("/sinonimi_categoria spesa")
    chat.citizen("-")
    chat.citizen("sì")
    assert chat.effects() == [CategorySynonymsSet("spesa", (), START)]
    chat.citizen("/category_synonyms boh")
    assert chat.said() == ["admin.usage_sinonimi_categoria"]
