"""Callback data codec: short ASCII ids only (≤ 64 bytes), never labels; never trusted."""

from __future__ import annotations

MAX_BYTES = 64
SEPARATOR = ":"


class CallbackTooLong(ValueError):
    pass


def encode(prefix: str, *parts: object) -> str:
    data = SEPARATOR.join([prefix, *(str(part) for part in parts)])
    if len(data.encode("utf-8")) > MAX_BYTES:
        raise CallbackTooLong(data)
    return data


def decode(data: str | None) -> tuple[str, list[str]]:
    """Split callback data; anything odd decodes to an empty prefix the catch-all answers."""
    if not data or len(data.encode("utf-8")) > MAX_BYTES:
        return "", []
    prefix, *parts = data.split(SEPARATOR)
    return prefix, parts


def int_part(parts: list[str], index: int) -> int | None:
    """A part as a positive int, or None when missing or forged."""
    try:
        value = int(parts[index])
    except (IndexError, ValueError):
        return None
    return value if 0 <= value < 2**62 else None
