"""A count-history line chart as plain SVG numbers (no JavaScript, no CDN)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from .models import SegmentCount


@dataclass
class Chart:
    width: int
    height: int
    points: str  # the polyline's "x,y x,y …"
    dots: list[dict]
    y_ticks: list[dict]
    x_labels: list[dict]
    empty: bool


def count_chart(points: list[SegmentCount], *, width: int = 640, height: int = 180) -> Chart:
    """Lay out count points oldest→newest, evenly spaced, y from zero to the maximum."""
    left, right, top, bottom = 48, 12, 12, 28
    if not points:
        return Chart(width, height, "", [], [], [], True)
    top_value = max(max(p.count for p in points), 1)
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(len(points) - 1, 1)

    def y(value: int) -> float:
        return round(top + plot_h - (value / top_value) * plot_h, 1)

    dots = []
    for i, p in enumerate(points):
        x = round(left + i * step, 1)
        when = timezone.localtime(p.counted_at)
        dots.append({"x": x, "y": y(p.count), "count": p.count, "label": f"{when:%Y-%m-%d %H:%M}"})
    ticks = [{"y": y(v), "label": f"{v:,}"} for v in sorted({0, top_value // 2, top_value})]
    labels = [{"x": dots[0]["x"], "label": dots[0]["label"][:10], "anchor": "start"}]
    if len(dots) > 1:
        labels.append({"x": dots[-1]["x"], "label": dots[-1]["label"][:10], "anchor": "end"})
    return Chart(width, height, " ".join(f"{d['x']},{d['y']}" for d in dots), dots, ticks, labels,
                 False)
