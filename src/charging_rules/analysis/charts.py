"""Inline SVG charts for the public report: no script, no network, readable when printed."""

from __future__ import annotations

import math
from collections.abc import Sequence

from charging_rules.analysis.disparity import BAND
from charging_rules.text import html_text

PALETTE = ["#1b6ca8", "#d1495b", "#2e8b57", "#edae49", "#6a4c93", "#00798c", "#8d6e63",
           "#555555"]
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def _label_width(labels: list[str], least: int) -> int:
    """Room for the longest label at ~7 px a character (12 px system font)."""
    return max(least, 7 * max((len(label) for label in labels), default=0) + 16)


def _svg(width: int, height: int, body: list[str], label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{html_text(label)}" '
            f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" {FONT}>'
            f'<title>{html_text(label)}</title>{"".join(body)}</svg>')


def bars(rows: list[tuple[str, list[float | None]]], series: list[str], label: str,
         notes: list[str] | None = None) -> str:
    """Horizontal grouped bars of rates (0-1): one row per group, one bar per series.
    A None value is drawn as 'suppressed' text, never as a zero bar."""
    left, width, bar, gap = _label_width([r[0] for r in rows], 150), 360, 14, 10
    height = 30 + len(rows) * (len(series) * bar + gap) + 20 * len(series)
    body = []
    y = 20
    for r, (group, values) in enumerate(rows):
        body.append(f'<text x="{left - 8}" y="{y + bar * len(series) / 2 + 4}" '
                    f'text-anchor="end">{html_text(group)}</text>')
        for s, value in enumerate(values):
            colour = PALETTE[s % len(PALETTE)]
            top = y + s * bar
            if value is None:
                body.append(f'<text x="{left + 4}" y="{top + 11}" fill="#777">suppressed</text>')
            else:
                w = max(1.0, width * value)
                note = notes[r * len(series) + s] if notes else ""
                body.append(f'<rect x="{left}" y="{top}" width="{w:.1f}" height="{bar - 2}" '
                            f'fill="{colour}"/><text x="{left + w + 4:.1f}" y="{top + 11}">'
                            f'{100 * value:.1f}%{html_text(note)}</text>')
        y += bar * len(series) + gap
    for s, name in enumerate(series):
        body.append(f'<rect x="{left}" y="{y + 20 * s}" width="12" height="12" '
                    f'fill="{PALETTE[s % len(PALETTE)]}"/><text x="{left + 18}" '
                    f'y="{y + 20 * s + 10}">{html_text(name)}</text>')
    return _svg(left + width + 120, height + 10, body, label)


def forest(rows: list[tuple[str, float | None, float | None, float | None]], label: str,
           low: float = 0.25, high: float = 4.0, band: tuple[float, float] = BAND) -> str:
    """RRI with its 95% CI per row on a log axis, the tolerance band shaded, 1 marked. A
    row with no RRI (the reference, or counts too small) says so in words."""
    left, width, step = _label_width([r[0] for r in rows], 220), 380, 24
    height = 40 + len(rows) * step

    def x(value: float) -> float:
        value = min(max(value, low), high)
        return left + width * (math.log(value) - math.log(low)) / (math.log(high) - math.log(low))

    body = [f'<rect x="{x(band[0]):.1f}" y="10" width="{x(band[1]) - x(band[0]):.1f}" '
            f'height="{height - 40}" fill="#e8f1e4"/>',
            f'<line x1="{x(1):.1f}" y1="10" x2="{x(1):.1f}" y2="{height - 30}" '
            f'stroke="#444" stroke-dasharray="3,3"/>']
    for tick in (0.25, 0.5, 0.8, 1, 1.25, 2, 4):
        body.append(f'<text x="{x(tick):.1f}" y="{height - 14}" text-anchor="middle">'
                    f'{tick:g}</text>')
    for i, (name, rri, ci_low, ci_high) in enumerate(rows):
        y = 22 + i * step
        body.append(f'<text x="{left - 8}" y="{y + 4}" text-anchor="end">{html_text(name)}</text>')
        if rri is None:
            body.append(f'<text x="{left + 4}" y="{y + 4}" fill="#777">not compared (the '
                        f'reference group, or small or suppressed counts)</text>')
            continue
        if ci_low is not None and ci_high is not None:
            body.append(f'<line x1="{x(ci_low):.1f}" y1="{y}" x2="{x(ci_high):.1f}" y2="{y}" '
                        f'stroke="#1b6ca8" stroke-width="2"/>')
        outside = not band[0] <= rri <= band[1]
        body.append(f'<circle cx="{x(rri):.1f}" cy="{y}" r="5" '
                    f'fill="{"#d1495b" if outside else "#1b6ca8"}"/>'
                    f'<text x="{left + width + 8}" y="{y + 4}">{rri:.2f}</text>')
    return _svg(left + width + 60, height, body, label)


def lines(periods: list[str], series: dict[str, list[float | None]], label: str,
          markers: Sequence[tuple[float, str]] = ()) -> str:
    """Rate (0-1) per period, one line per group; suppressed points are gaps. A marker (a
    position on the period axis, a label) is a dashed vertical line: a guideline change."""
    left, top, width, height = 50, 30, 560, 220
    body = [f'<line x1="{left}" y1="{top + height}" x2="{left + width}" y2="{top + height}" '
            f'stroke="#444"/>']
    for tick in (0, 0.25, 0.5, 0.75, 1):
        y = top + height * (1 - tick)
        body.append(f'<line x1="{left}" y1="{y}" x2="{left + width}" y2="{y}" stroke="#ddd"/>'
                    f'<text x="{left - 6}" y="{y + 4}" text-anchor="end">{100 * tick:g}%</text>')
    step = width / max(1, len(periods) - 1)
    for position, text in markers:
        mx = left + position * step
        body.append(f'<line x1="{mx:.1f}" y1="{top - 4}" x2="{mx:.1f}" y2="{top + height}" '
                    f'stroke="#b35c00" stroke-width="2" stroke-dasharray="6,4"/>'
                    f'<text x="{mx + 4:.1f}" y="{top - 8}" fill="#b35c00">{html_text(text)}</text>')
    for i, period in enumerate(periods):
        body.append(f'<text x="{left + i * step:.1f}" y="{top + height + 16}" '
                    f'text-anchor="middle" font-size="10">{html_text(period)}</text>')
    for s, (group, values) in enumerate(series.items()):
        colour = PALETTE[s % len(PALETTE)]
        segment: list[str] = []
        for i, value in enumerate([*values, None]):
            if value is not None:
                px, py = left + i * step, top + height * (1 - value)
                segment.append(f"{px:.1f},{py:.1f}")
                body.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}"/>')
            elif segment:
                body.append(f'<polyline points="{" ".join(segment)}" fill="none" '
                            f'stroke="{colour}" stroke-width="2"/>')
                segment = []
        legend_y = top + 14 * s
        body.append(f'<rect x="{left + width + 12}" y="{legend_y}" width="10" height="10" '
                    f'fill="{colour}"/><text x="{left + width + 26}" y="{legend_y + 9}">'
                    f'{html_text(group)}</text>')
    return _svg(left + width + 140, top + height + 30, body, label)
