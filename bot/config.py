"""Settings from the environment and `.env`; a bad value stops start-up with one clear line."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCALES = ("zh_Hans", "zh_Hant", "en")
TELEGRAM_API_URL = "https://api.telegram.org/bot"


class Settings(BaseSettings):
    """Every setting the bot reads; README.md lists them with their defaults."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: SecretStr | None = None
    bot_api_url: str = TELEGRAM_API_URL
    database_path: Path = Path("./gongzhi.db")
    timezone: str = "Asia/Shanghai"
    default_locale: str = "zh_Hans"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    quiet_hours_start: time = time(22, 0)
    quiet_hours_end: time = time(7, 0)
    work_day_start: time = time(9, 0)
    work_day_end: time = time(17, 30)
    holidays_file: Path | None = None
    invite_ttl_days: int = Field(default=7, ge=1, le=365)
    reports_per_hour: int = Field(default=10, ge=1)
    verify_window_hours: int = Field(default=72, ge=1)
    outbox_concurrency: int = Field(default=8, ge=1, le=64)
    # Days a message's content (names, phones, residents' words) is kept once it was sent or given up.
    outbox_keep_days: int = Field(default=30, ge=1)
    global_rate_per_s: float = Field(default=30.0, gt=0)
    sandbox_port: int = Field(default=8080, ge=1, le=65535)
    log_level: str = "INFO"
    volunteer_confirm_hours: float = Field(default=12.0, gt=0, le=168)
    volunteer_record_issuer: str = Field(default="街道志愿服务站", min_length=1, max_length=100)
    categories_file: Path | None = None
    location_max_distance_m: float = Field(default=300.0, gt=0)
    duplicate_window_days: int = Field(default=14, ge=0, le=365)
    meeting_confirm_hours: float = Field(default=6.0, gt=0, le=168)
    broadcast_progress_seconds: int = Field(default=10, ge=2, le=600)
    # The organizers' dashboard: a font file with Chinese glyphs for charts (default: found among the
    # system's fonts), where weekly charts wait for the outbox, and when on Mondays the report goes out.
    chart_font_file: Path | None = None
    charts_dir: Path | None = None
    weekly_report_time: time = time(9, 0)
    # Grid team operations: when the daily digest goes out on working days, and the sign-for and finish
    # windows of each patrol task (working hours; round the clock for round-the-clock patrols).
    digest_time: time = time(8, 30)
    patrol_accept_hours: float = Field(default=2.0, gt=0, le=72)
    patrol_fix_hours: float = Field(default=8.0, gt=0, le=720)
    # Deliberation: the "closing soon" reminder to those who have not voted, and how many proposals one
    # resident may have waiting for an organizer at a time.
    deliberation_reminder_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    proposals_pending_max: int = Field(default=3, ge=1, le=50)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    @field_validator("default_locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value not in LOCALES:
            raise ValueError(f"must be one of {', '.join(LOCALES)}")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def token(self) -> str | None:
        return self.bot_token.get_secret_value() if self.bot_token else None


class SettingsError(Exception):
    """A setting has a bad value; the message names it in one line."""


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning pydantic's report into one line per bad setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]).upper()
            lines.append(f"setting {name}: {error['msg']}")
        raise SettingsError("; ".join(lines)) from None
