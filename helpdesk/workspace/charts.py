"""Server-side SVG charts for the reports page: bars (grouped), stacked bars, a line, a heatmap.

Each returns markup safe to embed; every chart has a ``<title>`` and the page shows its table too.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from helpdesk.workspace.reports import Table

PALETTE = ("#1f4e8c", "#f0a500", "#17663a", "#a3231a", "#6b4fa0", "#2a8c8c")
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 720, 240, 44, 36, 12


def _num(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else 0.0


def _frame(title: str, body: str, legend: list[str]) -> Markup:
    items = "".join(
        f'<rect x="{LEFT + i * 130}" y="{HEIGHT - 12}" width="10" height="10" fill="{PALETTE[i % len(PALETTE)]}"/>'
        f'<text x="{LEFT + i * 130 + 14}" y="{HEIGHT - 3}">{escape(name)}</text>' for i, name in enumerate(legend))
    return Markup(f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg" '
                  f'data-chart="{escape(title)}"><title>{escape(title)}</title>{body}{items}</svg>')


def _axis(peak: float) -> str:
    plot_h = HEIGHT - BOTTOM - TOP
    lines = []
    for step in range(5):
        value = peak * step / 4
        y = TOP + plot_h - plot_h * step / 4
        lines.append(f'<line x1="{LEFT}" x2="{WIDTH - 4}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e7ee"/>'
                     f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{value:g}</text>')
    return "".join(lines)


def bars(table: Table, x: str, ys: list[str], stacked: bool = False) -> Markup:
    xi, yis = table.columns.index(x), [table.columns.index(y) for y in ys]
    rows = table.rows
    if not rows:
        return _frame(table.title, f'<text x="{LEFT}" y="{HEIGHT / 2}">No data in this period</text>', [])
    totals = [sum(_num(r[i]) for i in yis) if stacked else max(_num(r[i]) for i in yis) for r in rows]
    peak = max(max(totals), 1.0)
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    slot = plot_w / len(rows)
    parts = [_axis(peak)]
    label_every = max(1, len(rows) // 12)
    for n, row in enumerate(rows):
        x0 = LEFT + n * slot
        base = 0.0
        for k, i in enumerate(yis):
            value = _num(row[i])
            h = plot_h * value / peak
            if stacked:
                y, w, xk = TOP + plot_h - (base + h), max(slot * 0.8, 1), x0 + slot * 0.1
                base += h
            else:
                w = max(slot * 0.8 / len(yis), 1)
                xk, y = x0 + slot * 0.1 + k * w, TOP + plot_h - h
            parts.append(f'<rect x="{xk:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{PALETTE[k % len(PALETTE)]}">'
                         f'<title>{escape(row[xi])}: {escape(ys[k])} {escape(row[i])}</title></rect>')
        if n % label_every == 0:
            parts.append(f'<text x="{x0 + slot / 2:.1f}" y="{TOP + plot_h + 14}" text-anchor="middle">{escape(str(row[xi])[-5:])}</text>')
    return _frame(table.title, "".join(parts), ys)


def line(table: Table, x: str, ys: list[str]) -> Markup:
    xi, yis = table.columns.index(x), [table.columns.index(y) for y in ys]
    rows = table.rows
    peak = max([_num(r[i]) for r in rows for i in yis] + [1.0])
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    step = plot_w / max(len(rows) - 1, 1)
    parts = [_axis(peak)]
    for k, i in enumerate(yis):
        points = " ".join(f"{LEFT + n * step:.1f},{TOP + plot_h - plot_h * _num(r[i]) / peak:.1f}"
                          for n, r in enumerate(rows) if r[i] is not None)
        parts.append(f'<polyline fill="none" stroke="{PALETTE[k]}" stroke-width="2" points="{points}"/>')
    label_every = max(1, len(rows) // 10)
    for n, r in enumerate(rows):
        if n % label_every == 0:
            parts.append(f'<text x="{LEFT + n * step:.1f}" y="{TOP + plot_h + 14}" text-anchor="middle">{escape(str(r[xi])[-5:])}</text>')
    return _frame(table.title, "".join(parts), ys)


def heatmap(table: Table) -> Markup:
    cells = [row[1:] for row in table.rows]
    peak = max([_num(v) for row in cells for v in row] + [1.0])
    cw, ch = (WIDTH - LEFT - 8) / 24, (HEIGHT - BOTTOM - TOP) / 7
    parts = []
    for d, row in enumerate(table.rows):
        parts.append(f'<text x="{LEFT - 4}" y="{TOP + d * ch + ch * 0.65:.1f}" text-anchor="end">{escape(row[0])}</text>')
        for h, value in enumerate(row[1:]):
            shade = _num(value) / peak
            parts.append(f'<rect x="{LEFT + h * cw:.1f}" y="{TOP + d * ch:.1f}" width="{cw - 1:.1f}" height="{ch - 1:.1f}" '
                         f'fill="rgba(31,78,140,{0.06 + 0.94 * shade:.2f})"><title>{escape(row[0])} {h:02d}:00: {value}</title></rect>')
    for h in range(0, 24, 3):
        parts.append(f'<text x="{LEFT + h * cw + cw / 2:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle">{h:02d}</text>')
    return _frame(table.title, "".join(parts), [])


def draw(spec: dict[str, Any], tables: dict[str, Table]) -> Markup:
    table = tables[spec["table"]]
    kind = spec["kind"]
    if kind == "heatmap":
        return heatmap(table)
    if kind == "line":
        return line(table, spec["x"], spec["y"])
    return bars(table, spec["x"], spec["y"], stacked=kind == "stacked")
