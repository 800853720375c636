"""Command line: `python -m bot <command>` (also installed as `gongzhi`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path

from bot.config import LOCALES, Settings, SettingsError, load_settings
from bot.storage.db import AlreadyRunning, Database

EXIT_USAGE = 2
NO_TOKEN_HELP = """No BOT_TOKEN is set, so Gongzhi cannot talk to Telegram.
  To use Telegram: create a bot with @BotFather, then  export BOT_TOKEN=123456:ABC...  and run again.
  To try it locally without Telegram:  python -m bot sandbox"""


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request URL at INFO, and the URL contains the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


async def with_db(settings: Settings, work: Callable[[Database], Awaitable[int]]) -> int:
    db = Database(settings.database_path)
    await db.open()
    try:
        await db.migrate()
        return await work(db)
    finally:
        await db.close()


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    if settings.token is None:
        if args.webhook:
            print(NO_TOKEN_HELP, file=sys.stderr)
            return EXIT_USAGE
        from bot.sandbox.launcher import run_sandbox

        print("No BOT_TOKEN is set: starting the local sandbox instead (see README.md).")
        return run_sandbox(settings)
    from bot.app import allowed_updates, build_application

    application = build_application(settings)
    try:
        if args.webhook:
            if not settings.webhook_url or settings.webhook_secret is None:
                print("setting WEBHOOK_URL and WEBHOOK_SECRET are both needed for --webhook", file=sys.stderr)
                return EXIT_USAGE
            application.run_webhook(
                listen=settings.webhook_listen, port=settings.webhook_port, url_path="telegram",
                webhook_url=settings.webhook_url.rstrip("/") + "/telegram",
                secret_token=settings.webhook_secret.get_secret_value(), allowed_updates=allowed_updates(),
            )
        else:
            application.run_polling(allowed_updates=allowed_updates())
    except AlreadyRunning as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    return 0


def cmd_sandbox(settings: Settings, _args: argparse.Namespace) -> int:
    from bot.sandbox.launcher import run_sandbox

    return run_sandbox(settings)


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> int:
    async def work(db: Database) -> int:
        print(f"database {settings.database_path} is up to date")
        return 0

    return asyncio.run(with_db(settings, work))


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import timedelta

    from bot.clock import SystemClock
    from bot.services.importer import import_people, import_structure

    async def work(db: Database) -> int:
        now = SystemClock().now()
        if args.kind == "structure":
            result = await import_structure(db, args.file, now=now)
        else:
            result = await import_people(db, args.file, now=now,
                                         invite_ttl=timedelta(days=settings.invite_ttl_days))
        for line in result.summary_lines(bot_username=args.bot_username):
            print(line)
        return 0 if not result.errors else 1

    return asyncio.run(with_db(settings, work))


def cmd_seed_demo(settings: Settings, _args: argparse.Namespace) -> int:
    from bot.clock import SystemClock
    from bot.services.demo import seed_demo

    async def work(db: Database) -> int:
        summary = await seed_demo(db, now=SystemClock().now())
        for line in summary.summary_lines():
            print(line)
        return 0

    return asyncio.run(with_db(settings, work))


def cmd_invite(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import timedelta

    from bot.clock import SystemClock
    from bot.domain.people import ROLE_SCOPE, Role, Scope
    from bot.storage import invites

    role = Role(args.role)
    scope = Scope(kind=ROLE_SCOPE[role], id=args.scope_id)

    async def work(db: Database) -> int:
        async with db.transaction() as conn:
            token = await invites.create(
                conn, role=role, scope=scope, created_by=None, now=SystemClock().now(),
                ttl=timedelta(days=settings.invite_ttl_days),
            )
        name = args.bot_username or "YOUR_BOT_USERNAME"
        print(f"https://t.me/{name}?start={token}")
        print(f"(or send  /start {token}  to the bot; valid once, for {settings.invite_ttl_days} days)")
        return 0

    return asyncio.run(with_db(settings, work))


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    async def work(db: Database) -> int:
        await db.backup(args.file)
        print(f"backed up {settings.database_path} to {args.file}")
        return 0

    if args.file.exists():
        print(f"{args.file} already exists; choose a new file name", file=sys.stderr)
        return EXIT_USAGE
    return asyncio.run(with_db(settings, work))


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    from bot.clock import SystemClock
    from bot.domain.people import Scope, ScopeKind
    from bot.domain.rates import Period, PeriodKind
    from bot.services import exports
    from bot.services.container import Services

    kind, _, number = args.scope.partition(":")
    if not ((kind == "street" and not number) or (kind in {"community", "grid"} and number.isdigit())):
        print("--scope must be street, community:ID or grid:ID", file=sys.stderr)
        return EXIT_USAGE
    if args.date_to < args.date_from:
        print("--to must not be before --from", file=sys.stderr)
        return EXIT_USAGE
    scope = Scope(kind=ScopeKind(kind), id=int(number or 0))
    period = Period(PeriodKind.RANGE, args.date_from, args.date_to)

    async def work(db: Database) -> int:
        services = Services(settings=settings, db=db, clock=SystemClock())
        with args.out.open("w", encoding="utf-8-sig", newline="") as out:
            rows = await exports.WRITERS[exports.Export(args.kind)](
                services, scope, period, args.lang or settings.default_locale, out
            )
        print(f"wrote {rows} rows to {args.out}")
        return 0

    return asyncio.run(with_db(settings, work))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Gongzhi (共治): community governance bot.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="run the bot (polling, or --webhook); without BOT_TOKEN, the sandbox")
    run.add_argument("--webhook", action="store_true", help="serve Telegram's webhook instead of polling")
    run.set_defaults(handler=cmd_run)
    sub.add_parser("sandbox", help="try the bot locally: fake Telegram, demo street and a web chat page"
                   ).set_defaults(handler=cmd_sandbox)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(handler=cmd_migrate)
    imp = sub.add_parser("import", help="import the street structure or people from a CSV file")
    imp.add_argument("kind", choices=["structure", "staff"], help="structure: communities/grids/buildings; "
                     "staff: staff and residents")
    imp.add_argument("file", type=Path)
    imp.add_argument("--bot-username", help="the bot's @username, to print staff invites as t.me links")
    imp.set_defaults(handler=cmd_import)
    sub.add_parser("seed-demo", help="load a demo street (16 communities, grid teams, residents)"
                   ).set_defaults(handler=cmd_seed_demo)
    inv = sub.add_parser("invite", help="print a single-use invite link, e.g. for the first admin")
    inv.add_argument("--role", required=True, choices=["admin", "organizer", "secretary", "grid_worker",
                                                       "part_time_worker", "informant", "representative"])
    inv.add_argument("--scope-id", type=int, default=0, help="community or grid id for scoped roles")
    inv.add_argument("--bot-username", help="the bot's @username, to print a full t.me link")
    inv.set_defaults(handler=cmd_invite)
    backup = sub.add_parser("backup", help="copy the database consistently while the bot runs")
    backup.add_argument("file", type=Path)
    backup.set_defaults(handler=cmd_backup)
    exp = sub.add_parser("export", help="write reports (with timelines), volunteer hours or deliberation "
                         "results as CSV for Excel")
    exp.add_argument("kind", choices=["reports", "hours", "deliberation"])
    exp.add_argument("--from", dest="date_from", required=True, type=date.fromisoformat, metavar="YYYY-MM-DD",
                     help="first day (street time)")
    exp.add_argument("--to", dest="date_to", required=True, type=date.fromisoformat, metavar="YYYY-MM-DD",
                     help="last day, included")
    exp.add_argument("--out", required=True, type=Path, help="the CSV file to write (UTF-8 with BOM)")
    exp.add_argument("--scope", default="street", help="street (default), community:ID or grid:ID")
    exp.add_argument("--lang", choices=LOCALES,
                     help="language of headers and labels (default: DEFAULT_LOCALE)")
    exp.set_defaults(handler=cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    setup_logging(settings.log_level)
    return args.handler(settings, args)


if __name__ == "__main__":
    raise SystemExit(main())
