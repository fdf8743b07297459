"""The cooperative flow: create one (every field in turn) or change one field (`/modifica_cooperativa`), then confirm."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from conversations._text import clean
from conversations.admin.common import confirmed_flow, done
from conversations.command import Reads
from conversations.coop_rules import (
    COOP_SLUG,
    DEFAULT_DIGEST,
    DEFAULT_TIMEZONE,
    MAX_COOP_NAME,
    Territory,
    check_categories,
    timezone_named,
)
from conversations.effects import CooperativeSaved
from conversations.flow import Flow, Parser, Step, take_choice
from conversations.messages import Msg, Option
from conversations.rights import LANGUAGES
from conversations.schedule import describe_schedule, read_schedule
from conversations.types import Answer, Answers, Context, Outcome, Retry

COOP_FLOW: Final = "cooperativa"


def _pairs(value: object) -> tuple[tuple[str, str], ...]:
    """Territory pairs back from the flow's JSON answers (lists) or a `CooperativeDetail` (tuples)."""
    if not isinstance(value, list | tuple):
        return ()
    return tuple((str(p[0]), str(p[1])) for p in value if isinstance(p, list | tuple) and len(p) == 2)


def _strings(value: object) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list | tuple) else ()


def places(ctx: Context, value: object) -> str:
    """A territory as a summary reads it: ``Ravenna (039014), provincia FC``."""
    rules = Territory(ctx.gazetteer)
    return ", ".join(rules.label(k, c) for k, c in _pairs(value)) or "–"



def _skip_unless(field: str) -> Callable[[Answers, Context], bool]:
    """In edit mode only the chosen field is asked; creating asks everything."""
    return lambda a, ctx: a.get("mode") == "edit" and a.get("field") != field


def _creating_only(a: Answers, ctx: Context) -> bool:
    return a.get("mode") == "edit"


def _parse_coop_name(answer: Answer, answers: Answers, ctx: Context) -> object:
    text = clean(answer.text)
    if not text or len(text) > MAX_COOP_NAME:
        return Retry("admin.coop_retry_name", {"max": MAX_COOP_NAME})
    return text


def _parse_coop_slug(answer: Answer, answers: Answers, ctx: Context) -> object:
    slug = clean(answer.text).lower()
    if not COOP_SLUG.match(slug):
        return Retry("admin.coop_retry_slug")
    if any(c.slug == slug for c in ctx.staff.cooperatives):
        return Retry("admin.coop_retry_slug_taken", {"slug": slug})
    return slug


def _items(text: str) -> list[str]:
    return [i.strip() for i in re.split(r"[,;\n]", clean(text)) if i.strip()]


def _parse_territory(answer: Answer, answers: Answers, ctx: Context) -> object:
    items = _items(answer.text)
    if not items:
        return Retry("admin.coop_retry_territory", {"item": clean(answer.text)})
    rules = Territory(ctx.gazetteer)
    found: list[list[str]] = []
    for item in items:
        got = rules.resolve(item)
        if got.choices:
            choices = tuple(
                Msg("admin.coop_place_choice", {"name": c.name, "province": c.province_code, "code": c.istat_code})
                for c in got.choices
            )
            return Retry("admin.coop_retry_territory_ambiguous", {"item": item, "choices": choices})
        if got.place is None:
            return Retry("admin.coop_retry_territory", {"item": item})
        if list(got.place) not in found:
            found.append(list(got.place))
    return found


def _parse_categories(answer: Answer, answers: Answers, ctx: Context) -> object:
    wanted = list(dict.fromkeys(i.strip().lower() for i in re.split(r"[,;\s]+", clean(answer.text)) if i.strip()))
    known = [c.slug for c in ctx.categories]
    problems = check_categories(wanted, known)
    if not wanted or problems:
        item = problems[0].value if problems else ""
        return Retry("admin.coop_retry_categories", {"item": item, "known": ", ".join(known)})
    return wanted


def _parse_digest(answer: Answer, answers: Answers, ctx: Context) -> object:
    """In words ("ogni lunedì alle 8") or as a cron; stored as a cron either way (`conversations.schedule`)."""
    text = " ".join(clean(answer.text).split())
    if text == "-" and answers.get("mode") != "edit":
        return DEFAULT_DIGEST
    return read_schedule(text)


def _parse_timezone(answer: Answer, answers: Answers, ctx: Context) -> object:
    text = clean(answer.text)
    if text == "-" and answers.get("mode") != "edit":
        return DEFAULT_TIMEZONE
    zone = timezone_named(text)
    if zone is None:
        return Retry("admin.coop_retry_timezone", {"item": text[:40], "example": DEFAULT_TIMEZONE})
    return zone


def language_label(code: object) -> str:
    """A catalog language by its own name ("Italiano", "English"), as the language menu shows it."""
    return next((str(o.label) for o in LANGUAGES if o.payload == code), str(code))


def _coop_prompt(msgid: str) -> Callable[[Answers, Context], Msg]:
    def prompt(answers: Answers, ctx: Context) -> Msg:
        params: dict[str, object] = {
            "name": answers.get("name", ""),
            "known": ", ".join(c.slug for c in ctx.categories),
            "default": describe_schedule(DEFAULT_DIGEST),
            "default_timezone": DEFAULT_TIMEZONE,
        }
        if answers.get("mode") == "edit":
            params.update(
                territory=places(ctx, answers.get("old_territory")),
                categories=", ".join(_strings(answers.get("old_categories"))),
                digest=describe_schedule(str(answers.get("old_digest", DEFAULT_DIGEST))),
                timezone=answers.get("old_timezone", DEFAULT_TIMEZONE),
                language=language_label(answers.get("old_language", "it")),
            )
            return Msg(f"{msgid}_edit", params)
        return Msg(msgid, params)

    return prompt


def _coop_summary(answers: Answers, ctx: Context) -> Msg:
    name, slug = answers.get("name", ""), answers.get("slug", "")
    if answers.get("mode") != "edit":
        return Msg(
            "admin.confirm_coop_create",
            {
                "name": name,
                "slug": slug,
                "territory": places(ctx, answers.get("territory")),
                "categories": ", ".join(_strings(answers.get("categories"))),
                "digest": describe_schedule(str(answers.get("digest", DEFAULT_DIGEST))),
                "timezone": answers.get("timezone", DEFAULT_TIMEZONE),
                "language": language_label(answers.get("language", "it")),
            },
        )
    field = str(answers.get("field"))
    old: object
    new: object
    if field == "territory":
        old, new = places(ctx, answers.get("old_territory")), places(ctx, answers.get("territory"))
    elif field == "categories":
        old, new = ", ".join(_strings(answers.get("old_categories"))), ", ".join(_strings(answers.get("categories")))
    elif field == "language":
        old, new = language_label(answers.get("old_language")), language_label(answers.get("language"))
    elif field == "digest":
        old, new = describe_schedule(str(answers.get("old_digest", ""))), describe_schedule(str(answers.get("digest", "")))
    else:  # timezone: stored as typed
        old, new = str(answers.get(f"old_{field}", "")), str(answers.get(field, ""))
    return Msg(f"admin.confirm_coop_edit_{field}", {"name": name, "slug": slug, "old": old, "new": new})


def _coop_done(answers: Answers, ctx: Context) -> Outcome:
    slug = str(answers.get("slug", ""))
    is_new = answers.get("mode") != "edit"
    field = answers.get("field")
    territory = _pairs(answers.get("territory")) if is_new or field == "territory" else None
    categories = _strings(answers.get("categories")) if is_new or field == "categories" else None
    digest, timezone, language = (
        answers.get(key) if is_new or field == key else None for key in ("digest", "timezone", "language")
    )
    effect = CooperativeSaved(
        slug=slug,
        is_new=is_new,
        at=ctx.now,
        name=str(answers.get("name", "")) if is_new else None,
        territory=territory,
        categories=categories,
        digest_cron=str(digest) if digest is not None else None,
        timezone=str(timezone) if timezone is not None else None,
        language=str(language) if language is not None else None,
    )
    return done(effect)


def _field_step(
    field: str, next_step: str, *, parse: Parser = take_choice, options: tuple[Option, ...] = (), help: str = "admin.help_coop"
) -> Step:
    """A field of a cooperative: asked in turn when creating one, alone when `/modifica_cooperativa` names it.

    The question is ``admin.coop_ask_<field>`` (``…_edit`` when editing, with the current value)."""
    return Step(
        field,
        prompt=_coop_prompt(f"admin.coop_ask_{field}"),
        parse=parse,
        options=options,
        save_as=field,
        next=next_step,
        skip=_skip_unless(field),
        help=help,
        retry="common.retry_choice" if options else None,
    )


def build_cooperative(known_msgids: set[str] | None = None) -> Flow:
    """Create a cooperative (name, slug, territory, categories, digest, time zone, language) or change one field, then confirm."""
    return confirmed_flow(
        COOP_FLOW,
        2,
        (
            Step(
                "name",
                prompt=Msg("admin.coop_ask_name"),
                parse=_parse_coop_name,
                save_as="name",
                next="slug",
                skip=_creating_only,
                help="admin.help_coop",
            ),
            Step(
                "slug",
                prompt=_coop_prompt("admin.coop_ask_slug"),
                parse=_parse_coop_slug,
                save_as="slug",
                next="territory",
                skip=_creating_only,
                help="admin.help_coop",
            ),
            _field_step("territory", "categories", parse=_parse_territory, help="admin.help_coop_territory"),
            _field_step("categories", "digest", parse=_parse_categories),
            _field_step("digest", "timezone", parse=_parse_digest, help="admin.help_coop_digest"),
            _field_step("timezone", "language", parse=_parse_timezone, help="admin.help_coop_timezone"),
            _field_step("language", "confirm", options=LANGUAGES),
        ),
        summary=lambda a, ctx: Msg("admin.confirm", {"summary": _coop_summary(a, ctx)}),
        done=_coop_done,
        known_msgids=known_msgids,
        reads=(Reads.COOPERATIVES,),
    )

