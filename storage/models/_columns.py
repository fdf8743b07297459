"""Column helpers shared by the models: aware UTC timestamps on every backend, a model's defaults,
an instance made from a row's columns."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import DateTime, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always returns an aware datetime (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_field(*, nullable: bool = False, index: bool = False, default: Any = ...) -> Any:
    """A timestamp field (`Any` because SQLModel's Field is untyped at this boundary)."""
    kwargs: dict[str, Any] = {"sa_type": UTCDateTime, "nullable": nullable, "index": index}
    if default is not ...:
        kwargs["default"] = default
    return Field(**kwargs)


def defaults_of(model: type[SQLModel]) -> Callable[[], dict[str, object]]:
    """The values `model(...)` gives the fields it is not handed, fresh at each call where a factory
    makes them: for rows written or built without the model's constructor (issue 18)."""
    fields = model.model_fields.items()
    fixed = {name: field.default for name, field in fields if not field.is_required() and field.default_factory is None}
    made = {name: field.default_factory for name, field in fields if field.default_factory is not None}
    return lambda: fixed | {name: factory() for name, factory in made.items()}  # type: ignore[call-arg]  # typed as maybe taking the data; a model's take nothing


M = TypeVar("M", bound=SQLModel)


def as_loaded(model: type[M], columns: Mapping[str, object]) -> M:
    """An instance of `model` holding `columns`, made as SQLAlchemy's loader makes the instance of a row it
    reads (`ClassManager.new_instance`, the columns put in its dict), not through `__init__`: SQLModel's
    constructor sets each column through the instrumented attribute, ~45 µs a row against ~2 (issue 18).
    It is in no session and has no history; columns left out are missing, not defaulted."""
    instance: M = _manager(model).new_instance()
    instance.__dict__.update(columns)
    return instance


@functools.cache
def _manager(model: type[SQLModel]) -> Any:  # Any: SQLAlchemy's ClassManager, untyped here
    return inspect(model, raiseerr=True).class_manager
