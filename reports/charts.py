"""Server-rendered SVG charts: the geometry here, the markup in `templates/reports/charts/`.

No JavaScript and nothing from a CDN: a chart is an `<svg role="img">` with a title and a
description naming its extremes, each mark with its own `<title>` (a tooltip, and what a screen
reader reads), and it always sits beside the table holding the same numbers, so the page reads
the same without it. The values are the table's figures; only their positions are computed here.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

WIDTH = 640
HEIGHT = 220
LEFT = 84  # room for the value axis' labels ("11 h 30 min")
BOTTOM = 36  # room for the category labels
TOP = 12
MAX_LABELS = 12  # category labels written under the bars; the others are in each bar's title


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str  # "Week of Oct 5, 2026: 12 h 30 min"
    label: str  # the category label written under the bar, or "" to skip it
    label_x: float


@dataclass(frozen=True)
class BarChart:
    title: str
    description: str
    bars: list[Bar]
    max_label: str  # the value of the top gridline
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    baseline: float = HEIGHT - BOTTOM


def bar_chart(
    *,
    title: str,
    points: Sequence[tuple[str, int]],
    fmt: Callable[[int], str],
    short: Callable[[str], str] = lambda label: label,
) -> BarChart:
    """Vertical bars of `points` ((category label, value), in order); `fmt` writes a value,
    `short` a category under its bar."""
    baseline = HEIGHT - BOTTOM
    plot_width = WIDTH - LEFT - 8
    top_value = max((value for _, value in points), default=0)
    slot = plot_width / max(len(points), 1)
    every = max(1, -(-len(points) // MAX_LABELS))  # ceil: at most MAX_LABELS labels
    bars = []
    for i, (label, value) in enumerate(points):
        height = (baseline - TOP) * value / top_value if top_value else 0
        x = LEFT + i * slot + slot * 0.15
        bars.append(
            Bar(
                x=round(x, 2),
                y=round(baseline - height, 2),
                width=round(slot * 0.7, 2),
                height=round(height, 2),
                title=f"{label}: {fmt(value)}",
                label=short(label) if i % every == 0 else "",
                label_x=round(LEFT + i * slot + slot / 2, 2),
            )
        )
    if points and top_value:
        peak = max(points, key=lambda point: point[1])
        description = (
            f"{len(points)} bars from {points[0][0]} to {points[-1][0]}; the highest is "
            f"{peak[0]} with {fmt(peak[1])}. The table beside the chart has every value."
        )
    else:
        description = "Nothing to chart in this range."
    return BarChart(title=title, description=description, bars=bars, max_label=fmt(top_value))


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
CELL = 22
HEAT_LEFT = 40
HEAT_TOP = 18


@dataclass(frozen=True)
class Cell:
    x: int
    y: int
    opacity: float
    title: str
    count: int


@dataclass(frozen=True)
class HeatMap:
    title: str
    description: str
    cells: list[Cell]
    hours: list[tuple[int, int]]  # (x, hour) of every third hour's label
    weekdays: list[tuple[int, str]]  # (y, name)
    width: int
    height: int
    cell: int = CELL


def heat_map(*, title: str, counts: dict[tuple[int, int], int], noun: str) -> HeatMap:
    """A weekday × hour grid; `counts` maps (ISO weekday 1–7, hour 0–23) to a count."""
    top = max(counts.values(), default=0)
    cells = []
    for day in range(1, 8):
        for hour in range(24):
            count = counts.get((day, hour), 0)
            cells.append(
                Cell(
                    x=HEAT_LEFT + hour * CELL,
                    y=HEAT_TOP + (day - 1) * CELL,
                    # Empty cells stay faintly visible, so the grid reads as a grid.
                    opacity=round(0.06 + 0.94 * count / top, 3) if count else 0.03,
                    title=f"{WEEKDAYS[day - 1]} {hour:02d}:00–{hour:02d}:59: {count} {noun}",
                    count=count,
                )
            )
    if top:
        busiest = max(counts, key=lambda key: (counts[key], -key[0], -key[1]))
        description = (
            f"Busiest: {WEEKDAYS[busiest[0] - 1]} at {busiest[1]:02d}:00 with {top} {noun}. "
            "The table beside the chart has every count."
        )
    else:
        description = "Nothing to chart in this range."
    return HeatMap(
        title=title,
        description=description,
        cells=cells,
        hours=[(HEAT_LEFT + hour * CELL + CELL // 2, hour) for hour in range(0, 24, 3)],
        weekdays=[(HEAT_TOP + i * CELL + CELL // 2 + 4, name) for i, name in enumerate(WEEKDAYS)],
        width=HEAT_LEFT + 24 * CELL + 4,
        height=HEAT_TOP + 7 * CELL + 4,
    )
