"""The intake flow: consent, category, description, comune, urgency, contact, summary, ticket."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from conversations.command import Reads
from conversations.comuni import Comune, ComuneLookup
from conversations.effects import ConsentGiven, ConsentRefused, Effect, NeedCreated
from conversations.flow import Flow, Step
from conversations.messages import Location, Media, MediaKind, Msg, Option, Reply
from conversations.parsers import MAX_DESCRIPTION_CHARS, parse_comune, parse_description, parse_phone
from conversations.types import Answer, Answers, Context, Outcome, Retry
from conversations.understanding.meaning import by_meaning, names_any
from conversations.vocabulary import ContactMethod, Urgency

FLOW_ID = "intake"
VERSION = 2
DAY = timedelta(days=1)

DESCRIBED_WORDS: Final = 5
"""An answer of this many words or more at the category question (or as a first message) tells
the need itself: it is kept as the description, and that question is not asked again."""


YES = ("si", "sì", "yes", "ok", "certo", "va bene", "accetto", "acconsento", "invia")
SUGGESTION_OPTIONS = (
    Option("si", Msg("common.yes"), ("si", "sì", "yes", "ok", "certo", "esatto", "giusto", "proprio cosi"), means="yes"),
    Option("no", Msg("common.no"), ("no", "non e cosi", "sbagliato", "altro argomento"), means="no"),
)
NO = ("no", "non accetto", "rifiuto")

CONSENT_OPTIONS = (
    Option("si", Msg("intake.consent_yes"), YES, means="yes"),
    Option("no", Msg("intake.consent_no"), NO, means="no"),
)
URGENCY_OPTIONS = (
    Option(Urgency.HIGH, Msg("urgency.alta"), ("urgente", "urgentissimo", "subito", "urgent", "high", "emergenza")),
    Option(Urgency.MEDIUM, Msg("urgency.media"), ("giorni", "prossimi giorni", "qualche giorno", "medium", "presto", "settimana")),
    Option(
        Urgency.LOW,
        Msg("urgency.bassa"),
        ("non urgente", "non e urgente", "non e molto urgente", "non e proprio urgente", "nessuna fretta",
         "non c e fretta", "senza fretta", "con calma", "puo aspettare", "low", "calma", "not urgent"),
    ),
)
CONTACT_OPTIONS = (
    Option(ContactMethod.CHAT, Msg("contact.chat"), ("chat", "qui", "scrivere", "messaggio")),
    Option(ContactMethod.PHONE, Msg("contact.telefono"), ("telefono", "telefonata", "chiamata", "phone", "call")),
)
CONFIRM_OPTIONS = (
    Option("invia", Msg("intake.confirm_send"), YES, means="yes"),
    Option("correggi", Msg("intake.confirm_fix"), ("correggi", "correggere", "cambia", "cambiare", "modifica", "modificare", "no", "fix"), means="no"),
)
EDITABLE = ("category", "description", "comune", "urgency", "contact")
CORRECT_OPTIONS = (
    Option("category", Msg("field.category"), ("categoria", "tipo")),
    Option("description", Msg("field.description"), ("descrizione", "testo")),
    Option("comune", Msg("field.comune"), ("comune", "citta", "paese", "luogo")),
    Option("urgency", Msg("field.urgency"), ("urgenza",)),
    Option("contact", Msg("field.contact"), ("contatto", "telefono")),
)
NONE_OF_THESE = "nessuno"


def comune_as_answer(comune: Comune) -> dict[str, str]:
    return {"istat": comune.istat_code, "name": comune.name, "province": comune.province_code}


def comune_label(comune: Comune | dict[str, str]) -> str:
    if isinstance(comune, Comune):
        return f"{comune.name} ({comune.province_code})"
    return f"{comune['name']} ({comune['province']})"


def _category_options(answers: Answers, ctx: Context) -> tuple[Option, ...]:
    return tuple(Option(c.slug, c.label, c.aliases) for c in ctx.categories)


def is_told(text: str) -> bool:
    """Words enough to be a need told in one's own words, not a category's name."""
    return len(text.split()) >= DESCRIBED_WORDS and any(ch.isalpha() for ch in text)


def suggested_category(text: str, ctx: Context) -> str | None:
    """The category a description is about: the model's, when it is confident (it weighs the words
    shared by lemma too); without a model, the one option its lemmas point to. None: unsure."""
    options = _category_options({}, ctx)
    if ctx.suggest is None:
        meant = by_meaning(options, text)
        return meant.payload if meant is not None else None
    active = {o.payload for o in options}
    return next((slug for slug, _ in ctx.suggest(text) if slug in active), None)


def told(text: str, ctx: Context) -> dict[str, object]:
    """What a need told at once gives the intake: its description and, if any, the category to confirm."""
    return {"description": text[:MAX_DESCRIPTION_CHARS], "suggested": suggested_category(text, ctx), "category": None}


def about_a_need(text: str, ctx: Context) -> bool:
    """A message nobody asked for (a first message, words at the menu) tells a need only when it names
    something a category is about: "buongiorno a tutti voi della cooperativa" is a greeting, whatever
    the model makes of it."""
    return is_told(text) and names_any(_category_options({}, ctx), text)


def _category_prompt(answers: Answers, ctx: Context) -> Msg:
    return Msg("intake.ask_category_told" if answers.get("description") else "intake.ask_category")


def _chosen_category(answer: Answer, answers: Answers, ctx: Context) -> object:
    """A number, a button, a few words: that category. A whole sentence is a need told in one's own
    words, where one word of an option ("a casa") proves little: weighed whole, and confirmed."""
    if is_told(answer.text):
        return _category_told(answer, answers, ctx)
    return {"category": answer.choice, "suggested": None}


def _category_told(answer: Answer, answers: Answers, ctx: Context) -> object:
    """Words that name no option: a need told in one's own words is kept and, if we can tell, its category offered."""
    if not is_told(answer.text):
        return Retry("intake.retry_category")
    before = str(answers.get("description") or "")
    text = f"{before}\n{answer.text}" if before else answer.text
    return told(text, ctx)


def _after_category(value: object, answers: Answers) -> str:
    """A category chosen: on; a suggestion: confirm it; neither (told, but unsure): the list, once more."""
    if answers.get("category"):
        return "description"
    return "category_confirm" if answers.get("suggested") else "category"


def _suggestion_prompt(answers: Answers, ctx: Context) -> Msg:
    return Msg("intake.ask_category_suggested", {"category": _category_label(answers.get("suggested"), ctx)})


def _save_suggestion(value: object, answers: Answers) -> dict[str, object]:
    if value == "si":
        return {"category": answers.get("suggested"), "suggested": None}
    return {"suggested": None}


def _category_label(slug: object, ctx: Context) -> str:
    return next((c.label for c in ctx.categories if c.slug == slug), str(slug))


def _save_comune(value: object, answers: Answers) -> dict[str, object]:
    assert isinstance(value, ComuneLookup)
    if value.is_exact:
        return {"comune": comune_as_answer(value.candidates[0]), "comune_candidates": []}
    return {"comune": None, "comune_candidates": [comune_as_answer(c) for c in value.candidates]}


def _after_comune(value: object, answers: Answers) -> str:
    return "urgency" if answers.get("comune") else "comune_choice"


def _candidate_options(answers: Answers, ctx: Context) -> tuple[Option, ...]:
    candidates = answers.get("comune_candidates") or []
    assert isinstance(candidates, list)
    # One candidate is a yes/no question ("Intendi questo comune?"): "sì" is the comune, "no" none of these.
    means = ("yes", "no") if len(candidates) == 1 else (None, None)
    picked = tuple(Option(c["istat"], comune_label(c), (c["name"],), means=means[0]) for c in candidates)
    return (*picked, Option(NONE_OF_THESE, Msg("intake.comune_none"), ("nessuno", "altro", "none"), means=means[1]))


def _pick_candidate(answer: Answer, answers: Answers, ctx: Context) -> object:
    if answer.choice == NONE_OF_THESE:
        return NONE_OF_THESE
    comune = ctx.gazetteer.get(answer.choice or "")
    return comune_as_answer(comune) if comune else Retry("common.retry_choice")


def _save_candidate(value: object, answers: Answers) -> dict[str, object]:
    return {"comune": None if value == NONE_OF_THESE else value}


def _comune_choice_prompt(answers: Answers, ctx: Context) -> Msg:
    candidates = answers.get("comune_candidates") or []
    assert isinstance(candidates, list)
    return Msg("intake.ask_comune_choice" if len(candidates) > 1 else "intake.ask_comune_confirm")


def _save_contact(value: object, answers: Answers) -> dict[str, object]:
    return {"contact": value, "phone": None} if value == ContactMethod.CHAT else {"contact": value}


def _summary(answers: Answers, ctx: Context) -> Msg:
    comune = answers.get("comune")
    assert isinstance(comune, dict)
    contact = answers.get("contact")
    how = (
        Msg("contact.summary_phone", {"phone": str(answers.get("phone") or "")})
        if contact == ContactMethod.PHONE
        else Msg("contact.summary_chat")
    )
    return Msg(
        "intake.summary",
        {
            "category": _category_label(answers.get("category"), ctx),
            "description": str(answers.get("description", "")),
            "comune": comune_label(comune),
            "urgency": Msg(f"urgency.{answers.get('urgency')}"),
            "contact": how,
        },
    )


def _consent_effects(value: object, ctx: Context) -> tuple[Effect, ...]:
    return (ConsentGiven(notice_version=ctx.notice_version, at=ctx.now),) if value == "si" else ()


def _media(answers: Answers) -> tuple[Media, ...]:
    stored = answers.get("media") or []
    assert isinstance(stored, list)
    return tuple(
        Media(
            kind=MediaKind(m["kind"]), ref=m["ref"], content_type=m.get("content_type"), size=m.get("size"),
            transcript=m.get("transcript"),
        )
        for m in stored
    )


def _location(answers: Answers) -> Location | None:
    point = answers.get("location")
    if isinstance(point, list) and len(point) == 2:
        return Location(float(point[0]), float(point[1]))
    return None


def submit(answers: Answers, ctx: Context) -> Outcome:
    comune = answers["comune"]
    assert isinstance(comune, dict)
    need = NeedCreated(
        need_id=ctx.new_id,
        ticket=ctx.ticket,
        category=str(answers["category"]),
        description=str(answers["description"]),
        comune_istat=comune["istat"],
        urgency=str(answers["urgency"]),
        contact_method=str(answers["contact"]),
        contact_phone=str(answers["phone"]) if answers.get("phone") else None,
        location=_location(answers),
        media=_media(answers),
        at=ctx.now,
    )
    # Honest at once: with nobody covering the comune and category (a fresh install too) we
    # promise no call, and the citizen hears when an admin's choice or a new cooperative takes it.
    done = "intake.done_searching" if ctx.covered is False else "intake.done"
    return Outcome(replies=(Reply(Msg(done, {"ticket": ctx.ticket})),), effects=(need,))


def daily_limit(ctx: Context) -> Reply | None:
    """The day's new needs are used up: when the next one may be sent, and how to add to one sent already.

    A rolling 24 hours: the next one may go when the oldest of the last `needs_per_day` turns a day old.
    """
    cap = ctx.needs_per_day
    if cap is None:
        return None
    recent = sorted(n.created_at for n in ctx.needs if n.created_at > ctx.now - DAY)
    if len(recent) < cap:
        return None
    return Reply(Msg("intake.daily_limit", {"limit": cap, "when": recent[-cap] + DAY}))


def refuse(answers: Answers, ctx: Context) -> Outcome:
    """A no at the consent question; after a yes given earlier (reached with "indietro") it withdraws it."""
    told = Msg("intake.consent_withdrawn") if ctx.has_consent else Msg("intake.refused")
    return Outcome(replies=(Reply(told),), effects=(ConsentRefused(at=ctx.now),))


STEPS = (
    Step(
        "consent",
        prompt=Msg("intake.ask_consent"),
        options=CONSENT_OPTIONS,
        save_as="consent",
        next=lambda v, a: "category" if v == "si" else "end.refused",
        help="intake.help_consent",
        retry="intake.retry_consent",
        skip=lambda answers, ctx: ctx.has_consent,
        skip_to="category",
        emit=_consent_effects,
    ),
    Step(
        "category",
        prompt=_category_prompt,
        options=_category_options,
        parse=_chosen_category,
        otherwise=_category_told,
        save=lambda v, a: v if isinstance(v, dict) else {},
        next=_after_category,
        help="intake.help_category",
        retry="intake.retry_category",
        # A need told as the first message comes with its suggestion: confirm it first.
        skip=lambda a, ctx: bool(a.get("suggested")) and not a.get("category"),
        skip_to="category_confirm",
    ),
    Step(
        "category_confirm",
        prompt=_suggestion_prompt,
        options=SUGGESTION_OPTIONS,
        save=_save_suggestion,
        next=lambda v, a: "description" if v == "si" else "category",
        help="intake.help_category_suggested",
        retry="intake.retry_category_suggested",
    ),
    Step(
        "description",
        prompt=Msg("intake.ask_description"),
        parse=parse_description,
        save_as="description",
        next="comune",
        help="intake.help_description",
        # Told already, at the category question or as the first message (a correction asks it).
        skip=lambda a, ctx: bool(a.get("description")) and not a.get("_editing"),
    ),
    Step(
        "comune",
        prompt=Msg("intake.ask_comune"),
        parse=parse_comune,
        save=_save_comune,
        next=_after_comune,
        help="intake.help_comune",
    ),
    Step(
        "comune_choice",
        prompt=_comune_choice_prompt,
        options=_candidate_options,
        parse=_pick_candidate,
        save=_save_candidate,
        next=lambda v, a: "comune" if v == NONE_OF_THESE else "urgency",
        help="intake.help_comune_choice",
    ),
    Step(
        "urgency",
        prompt=Msg("intake.ask_urgency"),
        options=URGENCY_OPTIONS,
        save_as="urgency",
        next="contact",
        help="intake.help_urgency",
        retry="intake.retry_urgency",
    ),
    Step(
        "contact",
        prompt=Msg("intake.ask_contact"),
        options=CONTACT_OPTIONS,
        save=_save_contact,
        next=lambda v, a: "phone" if v == ContactMethod.PHONE else "confirm",
        help="intake.help_contact",
    ),
    Step(
        "phone",
        prompt=Msg("intake.ask_phone"),
        parse=parse_phone,
        save_as="phone",
        next="confirm",
        help="intake.help_phone",
    ),
    Step(
        "confirm",
        prompt=_summary,
        options=CONFIRM_OPTIONS,
        save_as="confirmed",
        next=lambda v, a: "end.submit" if v == "invia" else "correct",
        help="intake.help_confirm",
        reads=frozenset({Reads.COVERAGE}),
    ),
    Step(
        "correct",
        prompt=Msg("intake.ask_correct"),
        options=CORRECT_OPTIONS,
        save=lambda v, a: {"_editing": True},
        next=lambda v, a: str(v),
        help="intake.help_correct",
    ),
)

TARGETS = {
    "consent": ("category", "end.refused"),
    "category": ("category_confirm", "description", "category"),
    "category_confirm": ("description", "category"),
    "comune": ("urgency", "comune_choice"),
    "comune_choice": ("comune", "urgency"),
    "contact": ("phone", "confirm"),
    "confirm": ("end.submit", "correct"),
    "correct": EDITABLE,
}


def build(known_msgids: set[str] | None = None) -> Flow:
    return Flow.build(
        FLOW_ID,
        VERSION,
        STEPS,
        endings={"end.submit": submit, "end.refused": refuse},
        editable=EDITABLE,
        summary="confirm",
        targets=TARGETS,
        known_msgids=known_msgids,
        gate=daily_limit,
    )
