"""Charts drawn on the server as SVG: no script, no network, readable without colour."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from markupsafe import Markup, escape

from connector import i18n
from connector.words import BUCKETS, word

_COLOURS = ("#2f7d32", "#c0a000", "#e07b00", "#d04a02", "#a4161a")


def bars(values: Mapping[str, Decimal], currency: str, *, title: str) -> Markup:
    """A vertical bar per key, labelled with its amount; the first bar green, the last red."""
    width, height, pad, label_h = 560, 220, 12, 36
    items = list(values.items())
    top = max((v for _, v in items), default=Decimal(0))
    slot = (width - 2 * pad) / max(len(items), 1)
    plot = height - label_h - 24
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for i, (label, value) in enumerate(items):
        h = 0.0 if top <= 0 else float(value / top) * plot
        x = pad + i * slot + slot * 0.15
        w = slot * 0.7
        y = 24 + plot - h
        colour = _COLOURS[min(i, len(_COLOURS) - 1)]
        amount = i18n.number(value)
        shown = word(BUCKETS, label)  # the bucket's words; data-bucket keeps its code
        parts.append(
            f'<g class="bar" data-bucket="{escape(label)}" data-amount="{value}">'
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{max(h, 1):.1f}" '
            f'fill="{colour}"><title>{escape(shown)}: {amount} {escape(currency)}</title></rect>'
            f'<text x="{x + w / 2:.1f}" y="{y - 6:.1f}" text-anchor="middle" '
            f'font-size="12">{amount}</text>'
            f'<text x="{x + w / 2:.1f}" y="{height - 14}" text-anchor="middle" '
            f'font-size="13">{escape(shown)}</text></g>'
        )
    parts.append("</svg>")
    # Every text in it went through escape(); the rest are numbers formatted here.
    return Markup("".join(parts))  # noqa: S704
