"""`ascolto coops import FILE`, `ascolto coops list`, `ascolto invite COOP` and `ascolto digest COOP`."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from babel.dates import format_datetime

from bot.cli import coops_file
from bot.core import Core
from bot.effects.handover import offer_uncovered
from bot.jobs.digest import digest_reply, latest_period, send_digest
from conversations import OperatorRole, make_invite_code
from conversations.schedule import describe_schedule
from conversations.ticket import compact_code
from storage import cooperatives, operators, reference
from storage.db import transaction

COMMANDS: Final = frozenset({"coops", "invite", "digest"})
EXIT_INVALID: Final = 1


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    coops = sub.add_parser("coops", help="cooperatives: import from a TOML file, list")
    coops_sub = coops.add_subparsers(dest="coops_command", required=True)
    imp = coops_sub.add_parser("import", help="create or update cooperatives from a TOML file (idempotent)")
    imp.add_argument("file", type=Path)
    coops_sub.add_parser("list", help="list cooperatives")
    invite = sub.add_parser("invite", help="print a single-use invite code for an operator of COOP")
    invite.add_argument("coop", help="the cooperative's slug")
    invite.add_argument("--days", type=int, default=None, help="valid for this many days (default: operators.invite_days)")
    invite.add_argument("--role", choices=[r.value for r in OperatorRole], default=OperatorRole.OPERATOR.value)
    digest = sub.add_parser("digest", help="the digest of COOP for its latest period")
    digest.add_argument("coop", help="the cooperative's slug")
    how = digest.add_mutually_exclusive_group()
    how.add_argument("--print", dest="mode", action="store_const", const="print", help="print it here (default)")
    how.add_argument("--send", dest="mode", action="store_const", const="send", help="send it to the operators")
    digest.add_argument(
        "--at", default=None, help="as if now were this ISO time (default: now); with --send it picks the period, is sent now, and may not be in the future"
    )


async def dispatch(args: argparse.Namespace, core: Core) -> int:
    if args.command == "coops":
        if args.coops_command == "import":
            return await import_file(core, args.file)
        return await list_coops(core)
    if args.command == "invite":
        return await invite(core, slug=args.coop, days=args.days, role=args.role)
    return await digest_command(core, slug=args.coop, mode=args.mode or "print", at=args.at)


async def import_file(core: Core, path: Path) -> int:
    if not path.is_file():
        print(f"ascolto: {path}: no such file", file=sys.stderr)
        return EXIT_INVALID
    async with core.sessions() as session:
        categories = {c.slug for c in await reference.active_categories(session)}
    specs, errors = coops_file.read(path, categories=categories, gazetteer=core.gazetteer)
    if errors:
        for line in errors:
            print(line, file=sys.stderr)
        print(f"ascolto: {len(errors)} error(s); nothing imported", file=sys.stderr)
        return EXIT_INVALID
    now = core.clock()
    created = updated = unchanged = 0
    async with transaction(core.sessions) as session:
        for spec in specs:
            existed = await cooperatives.by_slug(session, slug=spec.slug) is not None
            row, changed = await cooperatives.upsert(session, spec=spec, now=now)
            if changed and row.id is not None:  # created or widened: it receives the needs nobody covered there
                await offer_uncovered(session, core.notifier, cooperative_id=row.id, at=now)
            if not existed:
                created += 1
            elif changed:
                updated += 1
            else:
                unchanged += 1
    print(f"{len(specs)} cooperative(s): {created} created, {updated} updated, {unchanged} unchanged")
    return 0


async def list_coops(core: Core) -> int:
    async with core.sessions() as session:
        rows = await cooperatives.active(session)
    for coop in rows:
        when = core.translator.format(describe_schedule(coop.digest_cron), core.settings.app.language)
        print(f"{coop.slug:<28} {coop.digest_cron:<14} {coop.language}  {coop.name}  ({when})")
    if not rows:
        print("no cooperatives yet: ascolto coops import FILE")
    return 0


async def invite(core: Core, *, slug: str, days: int | None, role: str) -> int:
    now = core.clock()
    valid = timedelta(days=days or core.settings.operators.invite_days)
    async with transaction(core.sessions) as session:
        coop = await cooperatives.by_slug(session, slug=slug)
        if coop is None or coop.id is None:
            print(f"ascolto: no cooperative {slug!r} (see `ascolto coops list`)", file=sys.stderr)
            return EXIT_INVALID
        code = make_invite_code(os.urandom(8))
        await operators.create_invite(
            session, cooperative_id=coop.id, code=compact_code(code), expires_at=now + valid, now=now, role=OperatorRole(role)
        )
    print(f"{code}")
    print(
        f"Valid once, until {_local(now + valid, core)}. "
        f"The operator sends to the bot: /operatore {code}"
    )
    return 0


async def digest_command(core: Core, *, slug: str, mode: str, at: str | None) -> int:
    """`ascolto digest COOP --print|--send`: print the latest period's digest, or queue it once for the operators.

    `--at` only chooses the period ("as if now were"): a send is queued now and due now, so it never
    waits for a time to come, nor holds the replies written after it (issue 15). A time still to
    come is refused for a send: its period is not over, and there is nothing to schedule.
    """
    real_now = core.clock()
    now = datetime.fromisoformat(at) if at else real_now
    if now.tzinfo is None:
        now = now.replace(tzinfo=core.translator.tz)
    async with core.sessions() as session:
        coop = await cooperatives.by_slug(session, slug=slug)
    if coop is None or coop.id is None:
        print(f"ascolto: no cooperative {slug!r} (see `ascolto coops list`)", file=sys.stderr)
        return 1
    if mode == "send":
        return await _send(core, coop.id, coop.digest_cron, coop.timezone, as_of=now, now=real_now)
    period = latest_period(coop.digest_cron, coop.timezone, now)
    if period is None:
        print("ascolto: the digest schedule has no complete period yet", file=sys.stderr)
        return 1
    async with core.sessions() as session:
        reply, chart = await digest_reply(core, session, coop, *period, chart_dir=core.settings.scheduler.digest_dir)
    print(core.translator.render(reply, coop.language).text)
    if chart is not None:
        print(f"\n[chart: {chart}]")
    return 0


async def _send(core: Core, cooperative_id: int, cron: str, timezone: str, *, as_of: datetime, now: datetime) -> int:
    if as_of > now:
        print(f"ascolto: --at {as_of.isoformat()} is in the future: a digest is sent for a period that is over", file=sys.stderr)
        return EXIT_INVALID
    period = latest_period(cron, timezone, as_of)
    if period is None:
        print("ascolto: the digest schedule has no complete period yet", file=sys.stderr)
        return EXIT_INVALID
    result = await send_digest(core, cooperative_id, now, catch_up=timedelta.max, period=period)
    if result.outcome == "already":
        print(f"already sent for the period starting {result.period_start}")
    else:
        print(f"queued for {result.recipients} operator(s); `ascolto run` delivers it")
    return 0


def _local(at: datetime, core: Core) -> str:
    return str(format_datetime(at, "d MMMM y, HH:mm", tzinfo=core.translator.tz, locale=core.settings.app.language))
