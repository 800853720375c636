"""The sandbox's web chat: the page, its static files and the directory of people to chat as.

The page itself talks to the offline Telegram through the fake Bot API server's `/_control/...`
endpoints (send, press, upload, the event stream, files), exactly as a test would; this module only
adds what is particular to the sandbox: who is there to be, and the page's files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from tornado.web import RequestHandler, StaticFileHandler

from bot.domain.people import Role
from bot.i18n import translator
from bot.sandbox.fake_telegram import FakeTelegram
from bot.services.demo import CENTRE, FIRST_TELEGRAM_ID, LAST_TELEGRAM_ID, DemoSummary, demo_phone
from bot.storage.db import Database
from bot.ui.labels import ROLE_LABELS

STATIC_DIR = Path(str(resources.files("bot") / "sandbox" / "static"))
UI_LOCALES = {"zh": "zh_Hans", "en": "en"}
LANGUAGE_CODES = {"zh-hans", "zh-hant", "en"}
LANGUAGE_CODE = "zh-hans"  # what the demo people's Telegram apps are set to
SEARCH_LIMIT = 60
NAME_MAX = 64
# The role a person is shown as, when they hold several: the most senior first.
_SENIORITY = (
    Role.ADMIN,
    Role.ORGANIZER,
    Role.SECRETARY,
    Role.GRID_WORKER,
    Role.PART_TIME_WORKER,
    Role.INFORMANT,
    Role.REPRESENTATIVE,
    Role.STAKEHOLDER,
    Role.VOLUNTEER,
    Role.RESIDENT,
)
# Everyone with a Telegram id, their most senior role and where it applies (home, grid, community).
_DIRECTORY_SQL = """
SELECT p.telegram_id, p.name, p.phone, p.unit, b.name AS building, b.lat, b.lon,
       group_concat(DISTINCT r.role) AS roles,
       coalesce(max(g.name), max(c.name), hg.name) AS area
FROM people p
LEFT JOIN buildings b ON b.id = p.building_id
LEFT JOIN grids hg ON hg.id = b.grid_id
LEFT JOIN roles r ON r.person_id = p.id
LEFT JOIN grids g ON r.scope_kind = 'grid' AND g.id = r.scope_id
LEFT JOIN communities c ON r.scope_kind = 'community' AND c.id = r.scope_id
WHERE p.telegram_id IS NOT NULL AND p.erased_at IS NULL
GROUP BY p.id
ORDER BY p.telegram_id
"""


@dataclass
class Directory:
    """Who can be chatted as: the demo street's people (all known to the offline Telegram) and the new
    people added from the page, with the demo's featured people first."""

    core: FakeTelegram
    db: Database | None = None  # set once the bot has opened its store and the demo street is seeded
    summary: DemoSummary | None = None
    newcomers: list[int] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return self.db is not None and self.summary is not None

    async def open(self, db: Database, summary: DemoSummary) -> None:
        """Give every demo person a Telegram account with their reserved id, then start answering."""
        rows = await db.fetch_all(
            "SELECT telegram_id, name FROM people WHERE telegram_id BETWEEN ? AND ? ORDER BY telegram_id",
            (FIRST_TELEGRAM_ID, LAST_TELEGRAM_ID),
        )
        for row in rows:
            add_user_with_id(self.core, row["telegram_id"], row["name"], LANGUAGE_CODE)
        self.db, self.summary = db, summary

    async def entries(self, locale: str) -> list[dict[str, Any]]:
        assert self.db is not None and self.summary is not None, "the sandbox is still starting"
        _ = translator(locale)
        rows = {row["telegram_id"]: row for row in await self.db.fetch_all(_DIRECTORY_SQL)}
        featured = {p.telegram_id: p.label for p in self.summary.featured}
        order = [*featured, *self.newcomers, *(tid for tid in rows if tid not in featured)]
        entries = []
        for telegram_id in order:
            try:
                user = self.core.user(telegram_id)
            except KeyError:
                continue  # in the store but not in this Telegram: a person who never wrote
            row = rows.get(telegram_id)
            roles = {Role(r) for r in (row["roles"] or "").split(",") if r} if row else set()
            role = next((r for r in _SENIORITY if r in roles), None)
            home = row is not None and row["building"] is not None
            place = (
                " ".join(x for x in (row["area"], row["building"], row["unit"]) if x)
                if home and row is not None
                else (row["area"] if row is not None and row["area"] else "")
            )
            entries.append(
                {
                    "telegram_id": telegram_id,
                    "name": (row["name"] if row is not None and row["name"] else None) or user["first_name"],
                    "role": role.value if role else None,
                    "role_label": _(ROLE_LABELS[role]) if role else None,
                    "place": place or (_(ROLE_LABELS[Role.ADMIN]) if role is Role.ADMIN else ""),
                    "featured": featured.get(telegram_id),
                    "new": telegram_id in self.newcomers,
                    "phone": self.phone(telegram_id, row["phone"] if row is not None else None),
                    "language_code": user.get("language_code"),
                    "home": [row["lat"], row["lon"]] if home and row is not None and row["lat"] else None,
                    "centre": list(CENTRE),
                }
            )
        return entries

    def phone(self, telegram_id: int, stored: str | None) -> str:
        """What a Telegram app shares as the person's own number."""
        if stored:
            return stored
        if telegram_id >= FIRST_TELEGRAM_ID:
            return demo_phone(telegram_id)
        return f"+86139{telegram_id % 10**8:08d}"

    def add_newcomer(self, name: str, language_code: str | None) -> int:
        """A Telegram account that has never used the bot: it starts with /start."""
        user = self.core.add_user(name, language_code=language_code, started=False)
        self.newcomers.insert(0, int(user["id"]))
        return int(user["id"])


def add_user_with_id(core: FakeTelegram, telegram_id: int, first_name: str, language_code: str) -> None:
    """A Telegram account with a given id (the demo street's reserved ones).

    The core numbers new accounts itself; until it takes an id, its counter is pointed at the wanted
    id for this one account and then put back.
    """
    following = core._next_user_id
    core._next_user_id = telegram_id
    try:
        core.add_user(first_name, language_code=language_code)
    finally:
        core._next_user_id = following


class _PeopleHandler(RequestHandler):
    """GET ?q=&lang=zh|en -> people to chat as (featured first); POST {name, language_code} -> a new one."""

    def initialize(self, directory: Directory) -> None:
        self.directory = directory

    def check_xsrf_cookie(self) -> None:
        """The page posts JSON from its own origin on 127.0.0.1; there is no session to protect."""

    async def prepare(self) -> None:
        if not self.directory.ready:
            self.set_status(503)
            self._json({"error": "the sandbox is starting; try again in a moment"})

    async def get(self) -> None:
        locale = UI_LOCALES.get(self.get_argument("lang", "zh"), "zh_Hans")
        query = self.get_argument("q", "").strip().casefold()
        wanted = {int(x) for x in self.get_argument("ids", "").split(",") if x.strip().isdigit()}
        entries = await self.directory.entries(locale)
        if wanted:
            entries = [e for e in entries if e["telegram_id"] in wanted]
        elif query:
            entries = [e for e in entries if query in _haystack(e)]
        self._json({"people": entries[:SEARCH_LIMIT], "total": len(entries)})

    async def post(self) -> None:
        try:
            data = json.loads(self.request.body or b"{}")
            name = " ".join(str(data.get("name") or "").split())[:NAME_MAX]
            language = data.get("language_code") if data.get("language_code") in LANGUAGE_CODES else "zh-hans"
        except (ValueError, AttributeError):
            self.set_status(400)
            self._json({"error": "expected {name, language_code}"})
            return
        telegram_id = self.directory.add_newcomer(name or "新居民", language)
        entries = await self.directory.entries(UI_LOCALES.get(self.get_argument("lang", "zh"), "zh_Hans"))
        self._json(next(e for e in entries if e["telegram_id"] == telegram_id))

    def _json(self, body: object) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(body, ensure_ascii=False))


def _haystack(entry: dict[str, Any]) -> str:
    keys = ("telegram_id", "name", "role", "role_label", "place", "featured")
    return " ".join(str(entry.get(key) or "") for key in keys).casefold()


class _PageHandler(StaticFileHandler):
    """The static files, never cached, so a restarted sandbox always serves the current page."""

    def set_extra_headers(self, path: str) -> None:
        self.set_header("Cache-Control", "no-store")


def routes(directory: Directory) -> list[tuple[Any, ...]]:
    """The page's routes, served by the fake Bot API server on the same port."""
    return [
        (r"/sandbox/people", _PeopleHandler, {"directory": directory}),
        (r"/()", _PageHandler, {"path": str(STATIC_DIR), "default_filename": "index.html"}),
        (r"/static/(.*)", _PageHandler, {"path": str(STATIC_DIR)}),
    ]
