"""What a failed send means for its row: Telegram's errors mapped to the sender's four answers.

- unreachable: the person blocked the bot, deleted their account, or the chat is unknown. Retrying
  never helps; the person is marked unreachable and nothing more is sent to them.
- rejected: Telegram refused this message (bad HTML, too long, unknown file). Retrying sends the same
  refusal, so the row is dead at once, with Telegram's words as the reason.
- migrated: a group became a supergroup under a new chat id; the row is sent again there.
- retry: everything else (network, timeouts, 5xx, flood control that outlasted the limiter's own
  retries, our own bugs): tried again with backoff, dead after the last attempt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import Enum

from telegram.error import BadRequest, ChatMigrated, EndPointNotFound, Forbidden, RetryAfter, TimedOut

# Telegram's wording for chats that are gone, seen with 400 as well as 403.
_GONE = ("chat not found", "user not found", "peer_id_invalid", "user is deactivated", "bot was blocked")


class Verdict(Enum):
    UNREACHABLE = "unreachable"
    REJECTED = "rejected"
    MIGRATED = "migrated"
    RETRY = "retry"


@dataclass(frozen=True)
class Failure:
    verdict: Verdict
    reason: str
    # The earliest sensible retry (Telegram's retry_after), when it said one.
    wait: timedelta | None = None
    new_chat_id: int | None = None
    # The request may have reached Telegram although we got no answer: a retry may duplicate it.
    maybe_delivered: bool = False


def classify(exc: BaseException) -> Failure:
    reason = f"{type(exc).__name__}: {exc}"[:500]
    if isinstance(exc, Forbidden):
        return Failure(Verdict.UNREACHABLE, reason)
    if isinstance(exc, BadRequest):
        if any(marker in str(exc).lower() for marker in _GONE):
            return Failure(Verdict.UNREACHABLE, reason)
        return Failure(Verdict.REJECTED, reason)
    if isinstance(exc, EndPointNotFound):
        return Failure(Verdict.REJECTED, reason)
    if isinstance(exc, ChatMigrated):
        return Failure(Verdict.MIGRATED, reason, new_chat_id=exc.new_chat_id)
    if isinstance(exc, RetryAfter):
        after = exc.retry_after
        wait = after if isinstance(after, timedelta) else timedelta(seconds=after)
        return Failure(Verdict.RETRY, reason, wait=wait)
    return Failure(Verdict.RETRY, reason, maybe_delivered=isinstance(exc, TimedOut))
