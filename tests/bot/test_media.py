"""Inbound WhatsApp media downloaded after the commit (``[whatsapp] download_media``), against the Twilio fake."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.jobs.retention import apply_retention
from bot.channels.whatsapp import media_fetcher
from bot.config import ConfigError, load_settings
from bot.media import MediaFetcher, MediaPolicy, sweep
from conversations import NeedStatus
from storage.db import transaction
from storage.models import FetchStatus, Need, NeedAttachment
from tests.bot.channels.test_whatsapp import BY_NUMBERS, USER, Rig, rig_for
from tests.fakes.twilio_api import TWILIO_AIOHTTP_DEPRECATIONS
from tests.helpers.clock import FakeClock

pytestmark = TWILIO_AIOHTTP_DEPRECATIONS

PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40 + b"\xff\xd9"


@contextlib.asynccontextmanager
async def media_rig(db_url: str, clock: FakeClock, tmp_path: Path, **media: Any) -> AsyncIterator[Rig]:
    settings = {"download_media": True, "media_dir": tmp_path / "media", **media}
    async with rig_for(db_url, clock, media=settings) as rig:
        yield rig


async def report_with(rig: Rig, url: str, content_type: str) -> None:
    """The photo first (it starts the intake and is kept with the answers), then the whole intake."""
    await rig.write(media=[(url, content_type)])
    for text in BY_NUMBERS[1:]:
        await rig.write(text)


async def attachment(rig: Rig) -> NeedAttachment:
    async with rig.core.sessions() as session:
        [need] = (await session.execute(select(Need))).scalars().all()
        [row] = (await session.execute(select(NeedAttachment).where(NeedAttachment.need_id == need.id))).scalars().all()
    return row


def files(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "media"
    return sorted(folder.iterdir()) if folder.is_dir() else []


async def test_photo_is_stored_after_the_commit_without_credentials_past_the_redirect(
    db_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    async with media_rig(db_url, clock, tmp_path) as rig:
        assert rig.channel.tasks, "download_media runs a fetcher next to the channel"
        stop = asyncio.Event()
        fetcher_task = asyncio.create_task(rig.channel.tasks[0](stop))
        try:
            url, content_type = rig.fake.add_media(PHOTO, "image/jpeg")
            await report_with(rig, url, content_type)
            async with asyncio.timeout(10):  # woken by the pipeline's after-commit hook
                while (row := await attachment(rig)).fetch_status != FetchStatus.STORED:
                    await asyncio.sleep(0.02)
        finally:
            stop.set()
            await fetcher_task
    assert row.ref == url and row.content_type == "image/jpeg"
    assert row.local_path is not None and Path(row.local_path).read_bytes() == PHOTO
    assert row.size == len(PHOTO) and row.sha256 == hashlib.sha256(PHOTO).hexdigest()
    [stored] = files(tmp_path)
    assert str(stored) == row.local_path and stored.suffix == ".jpg"
    assert url.rsplit("/", 1)[1] not in stored.name and "3331234567" not in stored.name
    assert stored.stat().st_mode & 0o077 == 0
    [fetch] = rig.fake.media_fetches
    assert fetch.authorization is None, "the storage host must not receive the account's credentials"


async def test_nothing_is_fetched_when_download_media_is_off(db_url: str, clock: FakeClock, tmp_path: Path) -> None:
    async with media_rig(db_url, clock, tmp_path, download_media=False) as rig:
        assert rig.channel.tasks == [] and not rig.core.wakeups.has_media_worker
        url, content_type = rig.fake.add_media(PHOTO)
        await report_with(rig, url, content_type)
        assert await media_fetcher(rig.core, rig.http).flush() == 0  # nothing was queued
        row = await attachment(rig)
    assert (row.ref, row.content_type, row.fetch_status, row.local_path) == (url, "image/jpeg", None, None)
    assert rig.fake.media_requests == 0 and files(tmp_path) == []


async def test_wrong_credentials_keep_the_need_and_the_url(
    db_url: str, clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with media_rig(db_url, clock, tmp_path) as rig:
        url, content_type = rig.fake.add_media(PHOTO)
        await report_with(rig, url, content_type)
        wrong = MediaFetcher(
            rig.core.sessions,
            rig.http,
            account_sid=rig.fake.account_sid,
            auth_token="not-the-token",
            policy=MediaPolicy(directory=tmp_path / "media", api_base_url=rig.fake.base_url),
            clock=clock,
        )
        with caplog.at_level(logging.INFO):
            assert await wrong.flush() == 1
        row = await attachment(rig)
    assert (row.ref, row.fetch_status, row.fetch_error, row.local_path) == (url, FetchStatus.FAILED, "HTTP 401", None)
    assert rig.fake.media_fetches == [] and files(tmp_path) == []
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "HTTP 401" in logged
    for secret in (url, rig.fake.account_sid, USER, USER.removeprefix("+"), "not-the-token"):
        assert secret not in logged


async def test_a_file_over_the_cap_is_not_stored(db_url: str, clock: FakeClock, tmp_path: Path) -> None:
    async with media_rig(db_url, clock, tmp_path, media_max_bytes=len(PHOTO) - 1) as rig:
        url, content_type = rig.fake.add_media(PHOTO)
        await report_with(rig, url, content_type)
        assert await media_fetcher(rig.core, rig.http).flush() == 1
        row = await attachment(rig)
    assert (row.fetch_status, row.fetch_error, row.local_path, row.ref) == (FetchStatus.FAILED, "too-big", None, url)
    assert files(tmp_path) == []


async def test_a_served_type_other_than_the_announced_one_is_not_stored(db_url: str, clock: FakeClock, tmp_path: Path) -> None:
    async with media_rig(db_url, clock, tmp_path) as rig:
        url, _ = rig.fake.add_media(b"<html>", "text/html")
        await report_with(rig, url, "image/jpeg")
        await media_fetcher(rig.core, rig.http).flush()
        row = await attachment(rig)
    assert (row.fetch_status, row.fetch_error) == (FetchStatus.FAILED, "content-type") and files(tmp_path) == []


async def test_server_errors_are_retried_later(db_url: str, clock: FakeClock, tmp_path: Path) -> None:
    async with media_rig(db_url, clock, tmp_path, media_max_attempts=3) as rig:
        url, content_type = rig.fake.add_media(PHOTO)
        await report_with(rig, url, content_type)
        fetcher = media_fetcher(rig.core, rig.http)
        rig.fake.fail_media_next(500)
        assert await fetcher.flush() == 1
        row = await attachment(rig)
        assert (row.fetch_status, row.fetch_error, row.fetch_attempts) == (FetchStatus.PENDING, "HTTP 500", 1)
        assert await fetcher.flush() == 0  # not before its back-off
        clock.advance(seconds=31)
        assert await fetcher.flush() == 1
        row = await attachment(rig)
    assert row.fetch_status == FetchStatus.STORED and row.fetch_attempts == 2
    assert row.local_path is not None and Path(row.local_path).read_bytes() == PHOTO


async def test_a_404_is_not_retried(db_url: str, clock: FakeClock, tmp_path: Path) -> None:
    async with media_rig(db_url, clock, tmp_path) as rig:
        url, content_type = rig.fake.add_media(PHOTO)
        await report_with(rig, url, content_type)
        rig.fake.fail_media_next(404)
        assert await media_fetcher(rig.core, rig.http).flush() == 1
        row = await attachment(rig)
    assert (row.fetch_status, row.fetch_error, row.fetch_attempts) == (FetchStatus.FAILED, "HTTP 404", 1)


async def test_transient_failures_stop_after_the_last_attempt(db_url: str, clock: FakeClock, tmp_path: Path) -> None:
    async with media_rig(db_url, clock, tmp_path, media_max_attempts=2) as rig:
        url, content_type = rig.fake.add_media(PHOTO)
        await report_with(rig, url, content_type)
        fetcher = media_fetcher(rig.core, rig.http)
        rig.fake.fail_media_next(503, count=5)
        for _ in range(4):
            await fetcher.flush()
            clock.advance(hours=2)
        row = await attachment(rig)
    assert (row.fetch_status, row.fetch_attempts, row.local_path) == (FetchStatus.FAILED, 2, None)
    assert rig.fake.media_requests == 2 and files(tmp_path) == []


async def test_erasure_deletes_the_downloaded_file(db_url: str, clock: FakeClock, tmp_path: Path) -> None:
    async with media_rig(db_url, clock, tmp_path) as rig:
        url, content_type = rig.fake.add_media(PHOTO)
        await report_with(rig, url, content_type)
        await media_fetcher(rig.core, rig.http).flush()
        [stored] = files(tmp_path)
        await rig.write("/cancella_dati")
        assert stored.exists()  # nothing changes before the confirmation
        await rig.write("sì")
        await rig.core.pipeline.drain()  # the sweep runs after the erasure's commit
        async with rig.core.sessions() as session:
            left = (await session.execute(select(NeedAttachment))).scalars().all()
    assert left == [] and files(tmp_path) == []
    assert any("cancellato i tuoi dati" in body for body in rig.bodies())


async def test_retention_deletes_the_downloaded_file(db_url: str, clock: FakeClock, tmp_path: Path) -> None:
    async with media_rig(db_url, clock, tmp_path) as rig:
        url, content_type = rig.fake.add_media(PHOTO)
        await report_with(rig, url, content_type)
        await media_fetcher(rig.core, rig.http).flush()
        [stored] = files(tmp_path)
        async with transaction(rig.core.sessions) as session:
            await session.execute(update(Need).values(status=NeedStatus.CLOSED, closed_at=clock.now - timedelta(days=400)))
        assert await apply_retention(rig.core, clock.now) == 1
    assert not stored.exists() and files(tmp_path) == []


async def test_an_erasure_during_the_download_keeps_no_file(db_url: str, clock: FakeClock, tmp_path: Path) -> None:
    async with media_rig(db_url, clock, tmp_path) as rig:
        url, content_type = rig.fake.add_media(PHOTO)
        await report_with(rig, url, content_type)
        fetcher = media_fetcher(rig.core, rig.http)
        download = fetcher.download

        async def erased_meanwhile(url: str, content_type: str | None) -> tuple[Path, int, str, str]:
            fetched = await download(url, content_type)
            async with transaction(rig.core.sessions) as session:
                await session.execute(NeedAttachment.__table__.delete())  # type: ignore[attr-defined]
            return fetched

        fetcher.download = erased_meanwhile  # type: ignore[method-assign]
        assert await fetcher.flush() == 1
    assert files(tmp_path) == []


async def test_a_url_off_twilios_origin_is_never_fetched(db_url: str, clock: FakeClock, tmp_path: Path) -> None:
    async with media_rig(db_url, clock, tmp_path) as rig:
        url, content_type = rig.fake.add_media(PHOTO)
        await report_with(rig, url.replace(rig.fake.base_url, rig.fake.storage_url), content_type)
        await media_fetcher(rig.core, rig.http).flush()
        row = await attachment(rig)
    assert (row.fetch_status, row.fetch_error) == (FetchStatus.FAILED, "not-twilio-url")
    assert rig.fake.media_requests == 0 and rig.fake.media_fetches == []


def test_download_media_is_off_by_default_and_set_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shipped = Path(__file__).resolve().parents[2] / "config.toml"
    whatsapp = load_settings(shipped).whatsapp
    assert (whatsapp.download_media, whatsapp.media_max_bytes, whatsapp.media_dir) == (False, 16 * 1024 * 1024, Path("var/media"))
    monkeypatch.setenv("ASCOLTO_WHATSAPP__DOWNLOAD_MEDIA", "true")
    monkeypatch.setenv("ASCOLTO_WHATSAPP__MEDIA_DIR", str(tmp_path))
    whatsapp = load_settings(shipped).whatsapp
    assert whatsapp.download_media is True and whatsapp.media_dir == tmp_path
    monkeypatch.setenv("ASCOLTO_WHATSAPP__MEDIA_MAX_BYTES", "0")
    with pytest.raises(ConfigError, match="whatsapp.media_max_bytes"):
        load_settings(shipped)


async def test_the_sweep_deletes_only_its_own_leftovers(db_url: str, clock: FakeClock, tmp_path: Path) -> None:
    async with media_rig(db_url, clock, tmp_path) as rig:
        url, content_type = rig.fake.add_media(PHOTO)
        await report_with(rig, url, content_type)
        await media_fetcher(rig.core, rig.http).flush()
        [kept] = files(tmp_path)
        folder = tmp_path / "media"
        foreign = [folder / "ascolto.sqlite3", folder / "notes.txt"]  # media_dir pointed at a shared folder
        leftover = folder / f"{'ab' * 16}.jpg"
        fresh_part, stale_part = folder / f"{'cd' * 16}.part", folder / f"{'ef' * 16}.part"
        for path in (*foreign, leftover, fresh_part, stale_part):
            path.write_bytes(b"x")
        os.utime(stale_part, (time.time() - 2 * 3600, time.time() - 2 * 3600))
        assert await sweep(rig.core.sessions, folder) == 1
    assert sorted(files(tmp_path)) == sorted([kept, *foreign, fresh_part])


async def test_a_media_folder_that_cannot_be_written_is_a_failure_tried_a_bounded_number_of_times(
    db_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    """An OSError (an unwritable folder, a full disk) escaped the fetcher: nothing was recorded and the
    file was claimed again at every lease, for ever (issue 13)."""
    blocked = tmp_path / "blocked"
    blocked.write_text("")  # a file where the folder should be
    async with media_rig(db_url, clock, tmp_path, media_dir=blocked, media_max_attempts=2) as rig:
        url, content_type = rig.fake.add_media(PHOTO)
        await report_with(rig, url, content_type)
        fetcher = media_fetcher(rig.core, rig.http)
        assert await fetcher.flush() == 1
        row = await attachment(rig)
        assert (row.fetch_status, row.fetch_attempts) == (FetchStatus.PENDING, 1)
        assert row.fetch_error is not None and row.fetch_error.startswith("FileExistsError")
        clock.advance(hours=2)
        assert await fetcher.flush() == 1
        clock.advance(hours=2)
        assert await fetcher.flush() == 0
        row = await attachment(rig)
    assert (row.fetch_status, row.fetch_attempts, row.local_path, row.ref) == (FetchStatus.FAILED, 2, None, url)


async def test_a_full_disk_while_writing_is_a_failure_that_keeps_no_part_file(db_url: str, clock: FakeClock, tmp_path: Path) -> None:
    async with media_rig(db_url, clock, tmp_path) as rig:
        url, content_type = rig.fake.add_media(PHOTO)
        await report_with(rig, url, content_type)
        fetcher = media_fetcher(rig.core, rig.http)

        async def disk_full(response: Any, part: Path) -> tuple[int, str]:
            part.write_bytes(b"half")
            raise OSError(28, "No space left on device")

        fetcher._write = disk_full  # type: ignore[method-assign]
        assert await fetcher.flush() == 1
        row = await attachment(rig)
    assert (row.fetch_status, row.fetch_error, row.fetch_attempts) == (FetchStatus.PENDING, "OSError ENOSPC", 1)
    assert files(tmp_path) == []
