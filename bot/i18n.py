"""Catalogs from locales/ and a translator per person.

Message ids are the English text. Translate first, then `.format()`; never an f-string inside `_()`.
`N_()` only marks a message id for extraction where it is stored and translated later (the outbox
renders templates in the recipient's language when it sends them).
"""

from __future__ import annotations

import functools
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.pofile import read_po

from bot.config import LOCALES

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "bot"
_ALIASES = {
    "zh_hans": "zh_Hans", "zh_cn": "zh_Hans", "zh_sg": "zh_Hans", "zh_my": "zh_Hans",
    "zh_hant": "zh_Hant", "zh_tw": "zh_Hant", "zh_hk": "zh_Hant", "zh_mo": "zh_Hant",
}


def N_(msgid: str) -> str:
    """Mark a message id for extraction without translating it now."""
    return msgid


@functools.cache
def catalog(locale: str) -> dict[str, str]:
    """msgid → msgstr for one locale, read from its .po file once."""
    path = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        po = read_po(handle, locale=locale)
    return {m.id: m.string for m in po if m.id and isinstance(m.id, str) and m.string}


class Translator:
    """Callable `_` for one locale; falls back to the English message id."""

    def __init__(self, locale: str) -> None:
        self.locale = locale
        self._messages = catalog(locale)

    def __call__(self, msgid: str) -> str:
        return self._messages.get(msgid, msgid)


@functools.cache
def translator(locale: str) -> Translator:
    return Translator(locale if locale in LOCALES else "zh_Hans")


def normalize_locale(language_code: str | None, default: str = "zh_Hans") -> str:
    """Telegram's IETF tag (`zh-hans`, `zh-hk`, `en-us`) → one of our locales."""
    if not language_code:
        return default
    code = language_code.replace("-", "_").lower()
    if code in _ALIASES:
        return _ALIASES[code]
    try:
        parsed = Locale.parse(language_code, sep="-")
    except (ValueError, UnknownLocaleError):
        parsed = None
    if parsed is not None:
        if parsed.language == "zh":
            if parsed.script == "Hant" or parsed.territory in {"TW", "HK", "MO"}:
                return "zh_Hant"
            return "zh_Hans"
        if parsed.language == "en":
            return "en"
    base = code.split("_")[0]
    if base == "zh":
        return "zh_Hans"
    if base == "en":
        return "en"
    return default
