"""A horizontal bar chart as inline SVG, written by hand: the report needs one small chart, and
drawing it with matplotlib cost a third of a second per report (most of a drill's report stage)."""

from __future__ import annotations

from html import escape

BAR_PX = 22
GAP_PX = 6
LABEL_PX = 170
PLOT_PX = 380
VALUE_PX = 70
COLOUR = "#3b6ea5"


def bar_chart(bars: list[tuple[str, float]], unit: str = "s") -> str:
    """One bar per (label, value), longest value full width, each labelled with its value."""
    if not bars:
        return ""
    longest = max(value for _, value in bars) or 1.0
    height = len(bars) * (BAR_PX + GAP_PX) + GAP_PX
    width = LABEL_PX + PLOT_PX + VALUE_PX
    rows = []
    for i, (label, value) in enumerate(bars):
        top = GAP_PX + i * (BAR_PX + GAP_PX)
        middle = top + BAR_PX / 2
        length = max(value / longest * PLOT_PX, 1.0)
        rows.append(
            f'<text x="{LABEL_PX - 8}" y="{middle:.1f}" text-anchor="end" '
            f'dominant-baseline="middle">{escape(label)}</text>'
            f'<rect x="{LABEL_PX}" y="{top}" width="{length:.1f}" height="{BAR_PX}" '
            f'fill="{COLOUR}"/>'
            f'<text x="{LABEL_PX + length + 4:.1f}" y="{middle:.1f}" '
            f'dominant-baseline="middle">{value:.1f} {escape(unit)}</text>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">'
        + "".join(rows)
        + "</svg>"
    )
