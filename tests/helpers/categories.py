"""The categories as a fresh database holds them (names from migration 0001, synonyms from 0007), as the pipeline offers them."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from conversations import Category
from conversations.understanding.meaning import split_synonyms

VERSIONS = Path(__file__).resolve().parents[2] / "storage" / "migrations" / "versions"


def _migration(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"migration_{name}", VERSIONS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def seeded(language: str = "it") -> tuple[Category, ...]:
    """Each seeded category with its label in `language` and its aliases (slug, both names, synonyms)."""
    names = _migration("0001_create_core_tables").CATEGORIES
    synonyms: dict[str, str] = _migration("0010_category_synonyms").SYNONYMS
    return tuple(
        Category(slug, en if language == "en" else it, (slug, it, en, *split_synonyms(synonyms.get(slug, ""))))
        for slug, it, en in names
    )
