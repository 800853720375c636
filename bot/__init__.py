"""Gongzhi (共治): a Telegram bot for a street office's community governance."""

import os

# PTB hands out durations (a 429's retry_after above all) as timedelta in its next major version and
# warns on every int until then; the bot reads both forms, so it opts in now.
os.environ.setdefault("PTB_TIMEDELTA", "true")
