"""Only database errors count as a database outage (issue 13): an OSError of a file is a message's own failure."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from storage.db import create_engine, is_outage


class PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "outage"),
    [
        (OperationalError("SELECT 1", {}, Exception("database is locked")), True),
        (InterfaceError("SELECT 1", {}, Exception("connection closed")), True),
        (PoolTimeout("QueuePool limit reached"), True),
        (DBAPIError("INSERT", {}, PgError("40P01")), True),  # deadlock: try again
        (DBAPIError("INSERT", {}, PgError("53100")), True),  # the database's disk is full
        (DBAPIError("INSERT", {}, PgError("57P01")), True),  # admin shutdown
        (DBAPIError("INSERT", {}, Exception("gone"), connection_invalidated=True), True),
        (DBAPIError("INSERT", {}, PgError("22001")), False),  # a value longer than its column: this message's
        (IntegrityError("INSERT", {}, PgError("23505")), False),
        (PermissionError("var/exports"), False),  # an unwritable export folder
        (OSError(28, "No space left on device"), False),  # a full disk, outside the database
        (TimeoutError(), False),
        (ConnectionRefusedError(), False),  # not from the driver: `create_engine` wraps the driver's
        (KeyError("x"), False),
        (ValueError("invalid literal for int()"), False),
    ],
)
def test_only_database_errors_are_an_outage(error: BaseException, outage: bool) -> None:
    assert is_outage(error) is outage


@pytest.mark.postgres
async def test_a_refused_connection_reaches_us_as_an_operational_error() -> None:
    """asyncpg raises a bare ConnectionRefusedError; the engine turns it into the database error it is."""
    engine = create_engine("postgresql+asyncpg://nobody@127.0.0.1:9/none")
    try:
        with pytest.raises(OperationalError) as caught:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    assert is_outage(caught.value)
    assert isinstance(caught.value.orig.__cause__, OSError)
