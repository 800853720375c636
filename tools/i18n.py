"""Keep the three catalogs in step with the code.

    python tools/i18n.py sync [--add FILE.json]

Extracts every `_()` / `N_()` message id from bot/, adds new ones to each catalog and drops gone
ones (kept translations stay), fills English with the message id, takes zh_Hans translations from
FILE.json ({"msgid": "简体译文"}), and drafts missing zh_Hant entries from zh_Hans with OpenCC
(s2twp), mending the glossary terms OpenCC words differently (HANT_GLOSSARY) — check the rest against
../shared/GLOSSARY.md. Catalogs are written sorted and
without locations so that parallel changes merge cleanly. An flock serialises concurrent runs.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ("zh_Hans", "zh_Hant", "en")
KEYWORDS = {"_": None, "N_": None}
# OpenCC's Taiwan phrasing differs from the glossary (../shared/GLOSSARY.md) for these terms.
HANT_GLOSSARY = {
    "社群": "社區", "專案": "項目", "時長": "時數", "釋出": "發布", "資訊員": "信息員", "物件": "對象", "稽核": "審核",
    "最近 {n} 周": "最近 {n} 週",
}
# A fixed header date keeps catalogs byte-stable between runs, so they merge cleanly.
FIXED_DATE = datetime(2026, 1, 1, tzinfo=UTC)


def extract() -> list[str]:
    ids: list[str] = []
    seen: set[str] = set()
    method_map = [("**.py", "python")]
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        ROOT / "bot", method_map=method_map, keywords=KEYWORDS
    ):
        if isinstance(message, str) and message not in seen:
            seen.add(message)
            ids.append(message)
    return ids


def po_path(locale: str) -> Path:
    return ROOT / "locales" / locale / "LC_MESSAGES" / "bot.po"


def load(locale: str) -> dict[str, str]:
    path = po_path(locale)
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        return {m.id: m.string for m in read_po(handle) if m.id}


def save(locale: str, messages: dict[str, str]) -> None:
    catalog = Catalog(locale=locale, project="gongzhi", version="1", charset="utf-8", fuzzy=False,
                      copyright_holder="Gongzhi", creation_date=FIXED_DATE, revision_date=FIXED_DATE)
    for msgid in sorted(messages):
        catalog.add(msgid, messages[msgid])
    path = po_path(locale)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalog, no_location=True, sort_output=True, width=0, omit_header=False)


def sync(additions: dict[str, str]) -> int:
    ids = extract()
    current = {loc: load(loc) for loc in LOCALES}
    converter = None
    try:
        import opencc

        converter = opencc.OpenCC("s2twp")
    except Exception:  # OpenCC is a development aid only
        converter = None
    for msgid, hans in additions.items():
        current["zh_Hans"][msgid] = hans
    missing: list[str] = []
    for locale in LOCALES:
        updated: dict[str, str] = {}
        for msgid in ids:
            text = current[locale].get(msgid, "")
            if locale == "en" and not text:
                text = msgid
            if locale == "zh_Hant" and not text and current["zh_Hans"].get(msgid) and converter:
                text = converter.convert(current["zh_Hans"][msgid])
            if locale == "zh_Hant":
                for wrong, right in HANT_GLOSSARY.items():
                    text = text.replace(wrong, right)
            if not text:
                missing.append(f"{locale}: {msgid!r}")
            updated[msgid] = text
        save(locale, updated)
    for line in missing:
        print("untranslated", line, file=sys.stderr)
    return 1 if missing else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sync_cmd = sub.add_parser("sync", help="extract and update all catalogs")
    sync_cmd.add_argument("--add", type=Path, help="JSON file of zh_Hans translations to merge")
    args = parser.parse_args()
    additions = json.loads(args.add.read_text(encoding="utf-8")) if args.add else {}
    lock = (ROOT / "locales" / ".sync.lock").open("w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        return sync(additions)
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)


if __name__ == "__main__":
    raise SystemExit(main())
