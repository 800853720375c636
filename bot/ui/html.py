"""HTML for Telegram: escape everything people typed; keep messages under Telegram's limits."""

from __future__ import annotations

import html

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024


def esc(text: object) -> str:
    return html.escape(str(text), quote=False)


def shorten(text: str, limit: int) -> str:
    """Cut plain text to `limit` characters with an ellipsis (before escaping)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
