"""A stacked bar chart as plain SVG, rendered on the server (no JavaScript)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

COLOURS = ("#1f5fa8", "#c8641e", "#2e7d32", "#6a3d9a")  # distinct with 3:1+ on white


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    width: int = 720,
    height: int = 240,
) -> str:
    """SVG markup: one bar per label, the series stacked; ``role="img"`` with a title, and a
    legend. The numbers are also in a table next to it on the page (for screen readers)."""
    pad_left, pad_bottom, pad_top = 56, 28, 24
    plot_h = height - pad_bottom - pad_top
    totals = [sum(values[i] for _, values in series) for i in range(len(labels))]
    top = max(totals, default=0.0) or 1.0
    slot = (width - pad_left - 8) / max(len(labels), 1)
    bar_w = max(slot * 0.7, 1.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-labelledby="chart-title">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<line x1="{pad_left}" y1="{pad_top + plot_h}" x2="{width - 4}" '
        f'y2="{pad_top + plot_h}" stroke="#333"/>',
        f'<text x="{pad_left - 6}" y="{pad_top + 4}" text-anchor="end" font-size="11">'
        f"{_short(top)}</text>",
        f'<text x="{pad_left - 6}" y="{pad_top + plot_h}" text-anchor="end" '
        'font-size="11">0</text>',
    ]
    for i, label in enumerate(labels):
        x = pad_left + i * slot + (slot - bar_w) / 2
        y = float(pad_top + plot_h)
        for s, (name, values) in enumerate(series):
            h = plot_h * values[i] / top
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{COLOURS[s % len(COLOURS)]}"><title>{escape(label)}: {escape(name)} '
                f"{_short(values[i])}</title></rect>"
            )
        if len(labels) <= 16 or i % max(len(labels) // 8, 1) == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - 10}" text-anchor="middle" '
                f'font-size="10">{escape(label[-10:])}</text>'
            )
    for s, (name, _) in enumerate(series):
        lx = pad_left + s * 160
        parts.append(
            f'<rect x="{lx}" y="4" width="12" height="12" fill="{COLOURS[s % len(COLOURS)]}"/>'
            f'<text x="{lx + 16}" y="14" font-size="12">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _short(value: float) -> str:
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value:g}"
