"""Categories from the chat: list them, add one, rename one, set the words people use for one
(moving and disabling are confirm-only, in `confirm`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from conversations._text import clean, fold
from conversations.admin.common import command, command_on, confirmed_flow, done, listed, start_flow, state
from conversations.command import CommandSpec, Reads
from conversations.effects import CategoryAdded, CategoryRenamed, CategorySynonymsSet, Effect
from conversations.engine import Builder, Engine
from conversations.flow import Flow, Step
from conversations.messages import Msg
from conversations.staff import CategoryEntry
from conversations.types import Answer, Answers, Context, Outcome, Retry
from conversations.understanding.meaning import MAX_SYNONYMS_CHARS, split_synonyms

CATEGORY_FLOW: Final = "categoria"
CATEGORY_SLUG: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{1,31}$")
MAX_CATEGORY_NAME: Final = 80
MAX_SYNONYM_CHARS: Final = 80
"""One synonym (a word or a short phrase); all of them together fit MAX_SYNONYMS_CHARS."""


def find_category(ctx: Context, raw: str, *, active_only: bool = False) -> CategoryEntry | None:
    """The category whose slug an admin typed, among those the command read."""
    wanted = fold(raw)
    return next(
        (c for c in ctx.staff.categories if fold(c.slug) == wanted and (c.is_active or not active_only)),
        None,
    )


def active_count(ctx: Context) -> int:
    return sum(1 for c in ctx.staff.categories if c.is_active)


def _categories(e: Engine, b: Builder, ctx: Context) -> None:
    rows = tuple(
        Msg(
            "admin.category_item",
            {"position": c.position, "slug": c.slug, "name_it": c.name_it, "name_en": c.name_en, "state": state(c.is_active)},
        )
        for c in ctx.staff.categories
    )
    listed(e, b, ctx, "categorie", "admin.categories", rows)


def _category_new(e: Engine, b: Builder, ctx: Context) -> None:
    start_flow(e, b, ctx, CATEGORY_FLOW, {"mode": "add"})


def _named(args: tuple[str, ...], ctx: Context) -> CategoryEntry | None:
    """The category `/rinomina_categoria SLUG` names, disabled ones too."""
    return find_category(ctx, args[0]) if len(args) == 1 else None


def _category_rename(e: Engine, b: Builder, ctx: Context, cat: CategoryEntry) -> None:
    start_flow(e, b, ctx, CATEGORY_FLOW, {"mode": "rename", "slug": cat.slug, "old_it": cat.name_it, "old_en": cat.name_en})


def _category_synonyms(e: Engine, b: Builder, ctx: Context, cat: CategoryEntry) -> None:
    start_flow(e, b, ctx, CATEGORY_FLOW, {"mode": "synonyms", "slug": cat.slug, "old_synonyms": list(cat.synonyms)})


def _parse_synonyms(answer: Answer, answers: Answers, ctx: Context) -> object:
    """"sola, compagnia, nessuno con cui parlare" → the list; "-" → none."""
    text = clean(answer.text)
    words = () if text == "-" else split_synonyms(text)
    if (not words and text != "-") or any(len(w) > MAX_SYNONYM_CHARS for w in words) or len(", ".join(words)) > MAX_SYNONYMS_CHARS:
        return Retry("admin.category_retry_synonyms", {"max": MAX_SYNONYMS_CHARS, "each": MAX_SYNONYM_CHARS})
    return list(words)


def _ask_synonyms(answers: Answers, ctx: Context) -> Msg:
    current = answers.get("old_synonyms") or []
    assert isinstance(current, list)
    return Msg(
        "admin.category_ask_synonyms",
        {"slug": answers.get("slug", ""), "current": ", ".join(map(str, current)) or Msg("admin.synonyms_none")},
    )


def _parse_category_slug(answer: Answer, answers: Answers, ctx: Context) -> object:
    slug = clean(answer.text).lower()
    if not CATEGORY_SLUG.match(slug):
        return Retry("admin.category_retry_slug")
    if any(c.slug == slug for c in ctx.staff.categories):
        return Retry("admin.category_retry_slug_taken", {"slug": slug})
    return slug


def _name_parser(keep: str) -> Callable[[Answer, Answers, Context], object]:
    def parse(answer: Answer, answers: Answers, ctx: Context) -> object:
        text = clean(answer.text)
        if text == "-" and isinstance(answers.get(keep), str):
            return answers[keep]
        if not text or len(text) > MAX_CATEGORY_NAME or text == "-":
            return Retry("admin.category_retry_name", {"max": MAX_CATEGORY_NAME})
        return text

    return parse


def _ask_name(language: str) -> Callable[[Answers, Context], Msg]:
    def prompt(answers: Answers, ctx: Context) -> Msg:
        if answers.get("mode") == "rename":
            return Msg(f"admin.category_ask_name_{language}_keep", {"current": answers.get(f"old_{language}", "")})
        return Msg(f"admin.category_ask_name_{language}", {"slug": answers.get("slug", "")})

    return prompt


def _category_summary(answers: Answers) -> Msg:
    if answers.get("mode") == "synonyms":
        words = answers.get("synonyms") or []
        assert isinstance(words, list)
        return Msg(
            "admin.confirm_category_synonyms",
            {"slug": answers.get("slug", ""), "synonyms": ", ".join(map(str, words)) or Msg("admin.synonyms_none")},
        )
    params = {k: answers.get(k, "") for k in ("slug", "name_it", "name_en", "old_it", "old_en")}
    return Msg("admin.confirm_category_rename" if answers.get("mode") == "rename" else "admin.confirm_category_add", params)


def _category_done(answers: Answers, ctx: Context) -> Outcome:
    slug, name_it, name_en = (str(answers.get(k, "")) for k in ("slug", "name_it", "name_en"))
    effect: Effect
    if answers.get("mode") == "synonyms":
        words = answers.get("synonyms") or []
        assert isinstance(words, list)
        effect = CategorySynonymsSet(slug, tuple(map(str, words)), ctx.now)
    elif answers.get("mode") == "rename":
        effect = CategoryRenamed(slug, name_it, name_en, ctx.now)
    else:
        effect = CategoryAdded(slug, name_it, name_en, ctx.now)
    return done(effect)


def build_category(known_msgids: set[str] | None = None) -> Flow:
    """Add (slug, Italian, English) or rename (Italian, English; "-" keeps a name) a category, or set
    its synonyms (comma-separated; "-" clears them), then confirm."""
    names_skipped = lambda a, ctx: a.get("mode") == "synonyms"  # noqa: E731
    return confirmed_flow(
        CATEGORY_FLOW,
        2,
        (
            Step(
                "slug",
                prompt=Msg("admin.category_ask_slug"),
                parse=_parse_category_slug,
                save_as="slug",
                next="name_it",
                skip=lambda a, ctx: bool(a.get("slug")),
                help="admin.help_category_slug",
            ),
            Step("name_it", prompt=_ask_name("it"), parse=_name_parser("old_it"), save_as="name_it", next="name_en", help="admin.help_category_name", skip=names_skipped),
            Step("name_en", prompt=_ask_name("en"), parse=_name_parser("old_en"), save_as="name_en", next="synonyms", help="admin.help_category_name", skip=names_skipped),
            Step(
                "synonyms",
                prompt=_ask_synonyms,
                parse=_parse_synonyms,
                save_as="synonyms",
                next="confirm",
                help="admin.help_category_synonyms",
                skip=lambda a, ctx: a.get("mode") != "synonyms",
            ),
        ),
        summary=lambda a, ctx: Msg("admin.confirm", {"summary": _category_summary(a)}),
        done=_category_done,
        known_msgids=known_msgids,
        reads=(Reads.CATEGORIES,),
    )


SPECS: Final[tuple[CommandSpec, ...]] = (
    command("categorie", ("categories",), _categories, reads=(Reads.CATEGORIES,)),
    command("nuova_categoria", ("add_category",), _category_new, reads=(Reads.CATEGORIES,)),
    command_on(
        "rinomina_categoria",
        ("rename_category",),
        _category_rename,
        target=_named,
        usage="admin.usage_rinomina_categoria",
        reads=(Reads.CATEGORIES,),
    ),
    command_on(
        "sinonimi_categoria",
        ("category_synonyms",),
        _category_synonyms,
        target=_named,
        usage="admin.usage_sinonimi_categoria",
        reads=(Reads.CATEGORIES,),
    ),
)
