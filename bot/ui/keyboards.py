"""Inline keyboards built from (label, callback data) pairs, with pagination that says '3 of 12'."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup

T = TypeVar("T")
Row = list[tuple[str, str]]


def inline(rows: Sequence[Row]) -> InlineKeyboardMarkup | None:
    """None when there is no button: Telegram rejects an empty keyboard."""
    buttons = [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows if row]
    return InlineKeyboardMarkup(buttons) if buttons else None


def reply(rows: Sequence[Sequence[str]]) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup([[KeyboardButton(label) for label in row] for row in rows], resize_keyboard=True)


def page_of(items: Sequence[T], page: int, per_page: int) -> tuple[list[T], int, int]:
    """The items on `page` (clamped), the page actually shown and the number of pages."""
    pages = max(1, (len(items) + per_page - 1) // per_page)
    page = min(max(page, 0), pages - 1)
    return list(items[page * per_page : (page + 1) * per_page]), page, pages


def paginated(
    items: Sequence[T],
    page: int,
    *,
    per_page: int,
    per_row: int,
    button: Callable[[T], tuple[str, str]],
    nav: Callable[[int], str],
    counter: str,
) -> tuple[list[Row], int, int]:
    """Rows of item buttons plus a ‹ n/N › row; `counter` is a translated '{page} of {pages}'."""
    shown, page, pages = page_of(items, page, per_page)
    rows: list[Row] = [
        [button(item) for item in shown[i : i + per_row]] for i in range(0, len(shown), per_row)
    ]
    if pages > 1:
        nav_row: Row = []
        if page > 0:
            nav_row.append(("‹", nav(page - 1)))
        nav_row.append((counter.format(page=page + 1, pages=pages), nav(page)))
        if page < pages - 1:
            nav_row.append(("›", nav(page + 1)))
        rows.append(nav_row)
    return rows, page, pages
