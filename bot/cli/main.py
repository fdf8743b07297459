"""The `ascolto` command line: run, chat, db upgrade, needs, coops, invite, digest."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.app import build_core
from bot import jobs
from bot.cli import coops, workers
from bot.config import ConfigError, Settings, load_settings
from bot.core import Core
from conversations import Msg
from storage import needs as needs_repo
from storage.db import session_factory

logger = logging.getLogger(__name__)

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ascolto", description="Ascolto: i bisogni dei cittadini, alle cooperative.")
    parser.add_argument("--config", type=Path, default=None, help="settings file (default: ./config.toml)")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the configured channels (the console chat when no token is set)")
    run.add_argument("--workers", type=int, default=1, help="worker processes on one PostgreSQL (docs/deploy.md)")
    run.add_argument("--listen-fd", type=int, default=None, help=argparse.SUPPRESS)  # set by --workers
    chat = sub.add_parser("chat", help="chat with the bot in this terminal (one message a line)")
    chat.add_argument("--as", dest="name", default="console", help="chat as this citizen (default: console)")
    db = sub.add_parser("db", help="database tasks")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply migrations and load the comuni")
    needs = sub.add_parser("needs", help="list stored needs")
    needs.add_argument("--json", action="store_true", help="one JSON object a line")
    needs.add_argument("--limit", type=int, default=1000)
    coops.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # PTB 22: RetryAfter.retry_after as a timedelta, without the deprecation warning.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"ascolto: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    quiet = args.command in {"chat", "run", "needs"} and settings.app.log_level == "INFO"
    is_console = args.command == "chat" or (args.command == "run" and not has_remote_channel(settings))
    logging.basicConfig(
        level=logging.WARNING if quiet else settings.app.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[_log_handler(settings, is_console=is_console)],
    )
    try:
        return asyncio.run(_dispatch(args, settings))
    except KeyboardInterrupt:
        return 130


def _log_handler(settings: Settings, *, is_console: bool) -> logging.Handler:
    """Standard error, except for the console chat: there log lines went in the middle of the
    conversation, so they go to `[app] console_log` (README "Try it")."""
    if not is_console:
        return logging.StreamHandler(sys.stderr)
    path = settings.app.console_log
    path.parent.mkdir(parents=True, exist_ok=True)
    return logging.FileHandler(path, encoding="utf-8")


async def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "db":
        core = await build_core(settings, migrate_now=True)
        await core.close()
        print("database up to date")
        return 0
    if args.command == "run" and args.workers > 1:
        try:
            return await workers.supervise(settings, count=args.workers, config=args.config)
        except ConfigError as exc:
            print(f"ascolto: configuration error: {exc}", file=sys.stderr)
            return EXIT_CONFIG
    core = await build_core(settings)
    # The comuni, the dictionaries and the models live until exit: out of the collector's sight, so
    # leaving (Ctrl+C, end of input) does not wait seconds for a last full collection of them.
    gc.freeze()
    try:
        if args.command == "needs":
            return await _needs(core, as_json=args.json, limit=args.limit)
        if args.command == "chat":
            return await _chat(core, name=args.name)
        if args.command in coops.COMMANDS:
            return await coops.dispatch(args, core)
        return await _run(core, listen_fd=args.listen_fd)
    finally:
        await core.close()


async def _chat(core: Core, *, name: str) -> int:
    from bot.channels.console import chat

    return await chat(core, name=name, stdin=sys.stdin, stdout=sys.stdout, interactive=sys.stdin.isatty(), stderr=sys.stderr)


async def _run(core: Core, *, listen_fd: int | None = None) -> int:
    if not has_remote_channel(core.settings):
        from bot.channels.public import beside_console

        return await beside_console(core, lambda: _chat(core, name="console"), sys.stdout)
    from bot.channels.serve import serve

    try:
        sock = workers.inherited_socket(listen_fd) if listen_fd is not None else None
        return await serve(core, sock=sock, workers=jobs.workers(core))
    except ConfigError as exc:  # a channel found its settings incomplete while starting
        print(f"ascolto: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG


def has_remote_channel(settings: Settings) -> bool:
    """Any channel reached over the network is configured: otherwise `run` opens the console chat."""
    return settings.telegram.token is not None or settings.whatsapp.is_configured


async def _needs(core: Core, *, as_json: bool, limit: int) -> int:
    async with session_factory(core.db)() as session:
        rows = await needs_repo.listing(session, limit=limit)
    for need, comune, category in rows:
        record = {
            "ticket": need.ticket,
            "category": category.slug,
            "description": need.description,
            "comune": comune.name,
            "istat": comune.istat_code,
            "urgency": need.urgency,
            "status": need.status,
            "created_at": need.created_at.isoformat(),
        }
        if as_json:
            print(json.dumps(record, ensure_ascii=False))
        else:  # as people read it: the configured time zone, the words the citizen sees for the status
            t, lang = core.translator, core.settings.app.language
            print(
                f"{need.ticket}  {t.moment(need.created_at, lang)}  {t.format(Msg(f'status.{need.status}'), lang)}  "
                f"{t.format(Msg(f'urgency.{need.urgency}'), lang)}  {comune.name} ({comune.istat_code})  "
                f"{category.slug}: {need.description[:60]}"
            )
    if not rows and not as_json:
        print("no needs yet")
    return 0
