"""CSV cells for spreadsheets: every export goes through `cell`, so no typed text is ever evaluated."""

from __future__ import annotations

_FORMULA_STARTS = frozenset({"=", "+", "-", "@", "\t", "\r"})


def cell(value: object) -> str:
    """A cell Excel shows as text, never evaluates: a leading = + - @ (or tab, CR) would start a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in _FORMULA_STARTS else text
