"""Dashboard charts: valid PNGs whose Chinese labels are drawn by a CJK font, never as empty boxes."""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import matplotlib
import pytest
from PIL import Image

from bot.domain.people import Scope, ScopeKind
from bot.domain.rates import PeriodKind, period_for
from bot.services import charts
from bot.services import stats as stats_service
from tests.support.people import BotHarness
from tests.test_stats import PNG, seed_week

DEJAVU = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


@pytest.fixture
def no_missing_glyphs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail on matplotlib's "Glyph ... missing from font(s)", whether it warns or logs it."""
    with (
        warnings.catch_warnings(record=True) as caught,
        caplog.at_level(logging.WARNING, logger="matplotlib"),
    ):
        warnings.simplefilter("always")
        yield
    glyphs = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    glyphs += [r.getMessage() for r in caplog.records if "missing from font" in r.getMessage()]
    assert not glyphs, glyphs


def a_chart(locale: str, **changes: object) -> charts.WeeklyChart:
    fields: dict[str, object] = {
        "title": "河畔社区：2025-03-03 – 2025-03-09",
        "subtitle": "收到 10 件 · 响应率 90% · 解决率 70% · 满意率 75%",
        "units_title": "按网格",
        "trend_title": "最近 8 周",
        "rate_names": ("响应率", "解决率", "满意率"),
        "units": [("北片网格", (0.9, 0.7, 0.75)), ("南片网格", (None, None, None))],
        "weeks": [(f"03-{day:02d}", (0.8, 0.6, None)) for day in range(1, 9)],
        "no_data": "无数据",
        "locale": locale,
    }
    return charts.WeeklyChart(**{**fields, **changes})  # type: ignore[arg-type]


def assert_png(content: bytes) -> tuple[int, int]:
    assert content.startswith(PNG)
    with Image.open(io.BytesIO(content)) as image:
        image.verify()
        return image.size


@pytest.mark.parametrize("locale", ["zh_Hans", "zh_Hant", "en"])
def test_chinese_labels_are_drawn_with_a_cjk_font(locale: str, no_missing_glyphs: None) -> None:
    width, height = assert_png(charts.draw(a_chart(locale, title="網格 Riverside 社區"), None))
    assert width >= 1000 and height >= 500


def test_a_grid_name_with_an_emoji_loses_the_emoji_not_the_chart(no_missing_glyphs: None) -> None:
    many = [(f"第{n}网格🌳", (0.5, 0.5, 0.5)) for n in range(12)]
    assert_png(charts.draw(a_chart("zh_Hans", units=many, title="北片🌳网格"), None))


async def test_organizers_week_becomes_a_chart_off_the_event_loop(
    tmp_path: Path, no_missing_glyphs: None
) -> None:
    async with BotHarness(tmp_path, verify_window_hours=4) as h:
        week = await seed_week(h)
        community = Scope(kind=ScopeKind.COMMUNITY, id=week.street.community)
        this_week = period_for(PeriodKind.THIS_WEEK, h.clock.now().astimezone(h.settings.tz).date())
        for scope in (community, stats_service.STREET):
            board = await stats_service.dashboard(h.services, scope, this_week)
            chart = await stats_service.chart_of(h.services, board, "zh_Hans")
            assert [name for name, _ in chart.units] == (
                ["North", "South"] if scope is community else ["Riverside"]
            )
            assert chart.units[0][1] == (0.9, 0.7, 0.75)
            assert chart.weeks[-1] == ("03-03", (0.9, 0.7, 0.75)) and len(chart.weeks) == 8
            assert_png(await stats_service.chart_png(h.services, board, "zh_Hans"))


def test_a_missing_cjk_font_fails_loudly_instead_of_drawing_boxes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(charts, "_fonts", {})
    with pytest.raises(charts.ChartFontMissing, match="fonts-noto-cjk"):
        charts.draw(a_chart("zh_Hans"), DEJAVU)  # a real font, but without Chinese
    with pytest.raises(charts.ChartFontMissing, match="is not a file"):
        charts.cjk_font(Path("/nowhere/font.ttc"), "zh_Hans")
    monkeypatch.setattr(charts, "FONT_CANDIDATES", ())
    with pytest.raises(charts.ChartFontMissing, match="no CJK font found"):
        charts.cjk_font(None, "en")


async def test_without_a_cjk_font_the_chart_button_says_why(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, verify_window_hours=4, chart_font_file=DEJAVU) as h:
        week = await seed_week(h)
        await week.liu.send("/stats")
        before = len(week.liu.inbox)
        await week.liu.press("📈 Chart")
        answer = week.liu.last_callback_answer
        assert answer is not None and answer.show_alert and "no font with Chinese" in (answer.text or "")
        assert len(week.liu.inbox) == before
