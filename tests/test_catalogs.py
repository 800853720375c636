"""Every message the code uses exists in all three catalogs with the same placeholders."""

from __future__ import annotations

import re
import string

import pytest
from babel.messages.extract import extract_from_dir

from bot.config import LOCALES
from bot.i18n import LOCALE_DIR, catalog

ROOT = LOCALE_DIR.parent


def code_msgids() -> set[str]:
    found = set()
    for _f, _l, message, _c, _ctx in extract_from_dir(
        ROOT / "bot", method_map=[("**.py", "python")], keywords={"_": None, "N_": None}
    ):
        if isinstance(message, str):
            found.add(message)
    return found


def placeholders(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name is not None}


def tags(text: str) -> list[str]:
    return sorted(re.findall(r"</?[a-z-]+", text))


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_is_translated_with_the_same_placeholders(locale: str) -> None:
    messages = catalog(locale)
    missing = sorted(m for m in code_msgids() if not messages.get(m))
    assert not missing, f"{locale} lacks {len(missing)} messages, e.g. {missing[:5]}"
    for msgid in code_msgids():
        assert placeholders(messages[msgid]) == placeholders(msgid), (locale, msgid)
        assert tags(messages[msgid]) == tags(msgid), (locale, msgid)


def test_catalogs_hold_no_message_the_code_no_longer_uses() -> None:
    used = code_msgids()
    for locale in LOCALES:
        stale = set(catalog(locale)) - used
        assert not stale, f"{locale} has stale messages; run python tools/i18n.py sync: {sorted(stale)[:5]}"


def test_language_codes_are_normalised() -> None:
    from bot.i18n import normalize_locale

    assert normalize_locale("zh-hans") == "zh_Hans"
    assert normalize_locale("zh-CN") == "zh_Hans"
    assert normalize_locale("zh-hk") == "zh_Hant"
    assert normalize_locale("zh-TW") == "zh_Hant"
    assert normalize_locale("zh-hant") == "zh_Hant"
    assert normalize_locale("en-us") == "en"
    assert normalize_locale("fr") == "zh_Hans"
    assert normalize_locale(None, "en") == "en"
    assert LOCALE_DIR.is_dir()
