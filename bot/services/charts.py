"""Dashboard charts as PNG: matplotlib's Agg backend, drawn in a worker thread, labelled in Chinese.

Chinese labels need a CJK font. Without one matplotlib draws empty boxes ("tofu") and only warns, so
the font is looked up first and a missing one raises `ChartFontMissing` with what to install. Debian's
`fonts-noto-cjk` (installed by .ci/run) is found by path; CHART_FONT_FILE names any other .ttf, .otf
or .ttc. The figure is built with the object API (no pyplot), so charts drawn in threads share no state;
matplotlib is imported when the first chart is drawn, so a bot that draws none does not carry it.
"""

from __future__ import annotations

import asyncio
import io
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.font_manager import FontProperties
    from matplotlib.ft2font import FT2Font

# Where distributions put Noto Sans CJK, Reader Han Sans or WenQuanYi (Debian/Ubuntu first).
FONT_CANDIDATES = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/source-han-sans/SourceHanSans-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/wqy-microhei/wqy-microhei.ttc"),
)
# The face of a font collection for each language (Noto's ttc holds JP, KR, SC, TC and HK faces).
_FACES = {"zh_Hant": " TC", "zh_Hans": " SC", "en": " SC"}
# Simplified and Traditional characters every chart draws: a font lacking them is no CJK font.
_PROBE = "网格响应率解决满意網格響應率解決滿意"
INSTALL_HINT = (
    "install a font with Chinese glyphs (Debian/Ubuntu: apt-get install fonts-noto-cjk) "
    "or set CHART_FONT_FILE to a .ttf/.otf/.ttc file that has them"
)
# One colour per rate, the same in every chart.
COLOURS = ("#1f77b4", "#2ca02c", "#ff7f0e")


class ChartFontMissing(RuntimeError):
    """No usable CJK font: charts would show empty boxes instead of Chinese, so none is drawn."""


@dataclass(frozen=True)
class ChartFont:
    path: Path
    family: str
    face: FT2Font

    def drawable(self, text: str) -> str:
        """`text` without characters the font lacks (an emoji in a grid's name), so nothing is tofu."""
        return "".join(c for c in text if c.isspace() or self.face.get_char_index(ord(c)))


_lock = threading.Lock()
_fonts: dict[tuple[Path | None, str], ChartFont] = {}


def cjk_font(configured: Path | None, locale: str) -> ChartFont:
    """The CJK font for `locale`, registered with matplotlib once; `ChartFontMissing` when there is none."""
    with _lock:
        key = (configured, locale)
        if key not in _fonts:
            _fonts[key] = _find(configured, locale)
        return _fonts[key]


def _find(configured: Path | None, locale: str) -> ChartFont:
    from matplotlib import font_manager

    if configured is not None and not configured.is_file():
        raise ChartFontMissing(f"CHART_FONT_FILE {configured} is not a file; {INSTALL_HINT}")
    for path in [configured] if configured is not None else FONT_CANDIDATES:
        if path is None or not path.is_file():
            continue
        face = _best_face(path, _FACES.get(locale, " SC"))
        if all(face.get_char_index(ord(c)) for c in _PROBE):
            font_manager.fontManager.addfont(str(path))
            return ChartFont(path, face.family_name, face)
        if configured is not None:
            raise ChartFontMissing(f"CHART_FONT_FILE {configured} has no Chinese glyphs; {INSTALL_HINT}")
    raise ChartFontMissing(f"no CJK font found in {', '.join(map(str, FONT_CANDIDATES))}; {INSTALL_HINT}")


def _best_face(path: Path, wanted: str) -> FT2Font:
    from matplotlib.ft2font import FT2Font

    first = FT2Font(str(path))
    for index in range(first.num_faces):
        face = FT2Font(str(path), face_index=index) if index else first
        if face.family_name.endswith(wanted) or wanted + " " in face.family_name:
            return face
    return first


Values = tuple[float | None, float | None, float | None]


@dataclass(frozen=True)
class WeeklyChart:
    """What the chart says, already in the reader's language; values are fractions (None: no data)."""

    title: str
    subtitle: str
    units_title: str
    trend_title: str
    rate_names: tuple[str, str, str]
    units: list[tuple[str, Values]]
    weeks: list[tuple[str, Values]]
    no_data: str
    locale: str


async def render(chart: WeeklyChart, font_file: Path | None) -> bytes:
    """The chart as PNG bytes, drawn off the event loop."""
    return await asyncio.to_thread(draw, chart, font_file)


def draw(chart: WeeklyChart, font_file: Path | None) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.patches import Patch

    font = cjk_font(font_file, chart.locale)
    text = FontProperties(family=font.family)
    figure = Figure(figsize=(12, 5.6), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    figure.suptitle(
        font.drawable(chart.title) + "\n" + font.drawable(chart.subtitle), fontproperties=text, fontsize=13
    )
    bars, lines = figure.subplots(1, 2, width_ratios=(3, 2))
    _draw_units(bars, chart, font, text)
    _draw_trend(lines, chart, font, text)
    handles = [Patch(color=colour) for colour in COLOURS]
    figure.legend(
        handles, [font.drawable(n) for n in chart.rate_names], prop=text, loc="outside lower center", ncols=3
    )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _percent_axis(axes: Axes, title: str, text: FontProperties) -> None:
    from matplotlib.ticker import PercentFormatter

    axes.set_title(title, fontproperties=text)
    axes.set_ylim(0, 118)  # room above 100% for the bars' labels
    axes.set_yticks(range(0, 101, 20))
    axes.yaxis.set_major_formatter(PercentFormatter(100))
    axes.grid(axis="y", alpha=0.3)
    axes.set_axisbelow(True)


def _draw_units(axes: Axes, chart: WeeklyChart, font: ChartFont, text: FontProperties) -> None:
    _percent_axis(axes, font.drawable(chart.units_title), text)
    names = [font.drawable(name)[:12] for name, _values in chart.units]
    width = 0.8 / 3
    for index, colour in enumerate(COLOURS):
        xs = [unit + (index - 1) * width for unit in range(len(chart.units))]
        heights = [100 * (values[index] or 0) for _name, values in chart.units]
        container = axes.bar(xs, heights, width=width, color=colour)
        if len(chart.units) <= 8:
            labels = [
                f"{h:.0f}%" if v[index] is not None else ""
                for h, (_n, v) in zip(heights, chart.units, strict=True)
            ]
            axes.bar_label(container, labels=labels, fontsize=7, padding=2, rotation=90)
    for unit, (_name, values) in enumerate(chart.units):
        if all(value is None for value in values):
            axes.text(unit, 2, font.drawable(chart.no_data), ha="center", fontproperties=text, fontsize=8)
    axes.set_xticks(range(len(names)), names, fontproperties=text, rotation=30 if len(names) > 6 else 0)


def _draw_trend(axes: Axes, chart: WeeklyChart, font: ChartFont, text: FontProperties) -> None:
    _percent_axis(axes, font.drawable(chart.trend_title), text)
    xs = range(len(chart.weeks))
    for index, colour in enumerate(COLOURS):
        ys = [float("nan") if values[index] is None else 100 * values[index] for _w, values in chart.weeks]
        axes.plot(xs, ys, marker="o", color=colour)
    axes.set_xticks(xs, [label for label, _values in chart.weeks], rotation=30)
