"""Trade-off curves as files a marketer can keep: a CSV table and a PNG plot."""

from __future__ import annotations

import csv
from pathlib import Path

COLUMNS = (
    "value",
    "current",
    "sends",
    "sends_pct",
    "engagement",
    "engagement_pct",
    "unsubscribes",
    "unsubscribes_pct",
    "complaints",
    "sales_share",
)


def write_csv(curve: dict, path: Path) -> Path:
    """One row per swept value."""
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()
        w.writerows(curve["points"])
    return path


def write_png(curve: dict, path: Path) -> Path:
    """Sends, engagement and unsubscribes (% of the current policy) against the swept value."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and in CI
    import matplotlib.pyplot as plt

    pts = curve["points"]
    xs = [p["value"] for p in pts]
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    for field, label, color in (
        ("sends_pct", "sends", "#2f6fde"),
        ("engagement_pct", "engagement (expected)", "#1a9b5a"),
        ("unsubscribes_pct", "unsubscribes (expected)", "#d64545"),
    ):
        ys = [p[field] for p in pts]
        if any(y is not None for y in ys):
            ax.plot(xs, [float("nan") if y is None else y for y in ys], marker="o", ms=3, label=label, color=color)
    ax.axvline(curve["current"]["value"], color="#1d2330", lw=1.2, ls="--", label="current policy")
    ax.axhline(100, color="#999999", lw=0.8)
    name = curve["param"].replace("_", " ")
    ax.set_xlabel(name)
    ax.set_ylabel("% of the current policy")
    ax.set_title(
        f"{name}: sends vs engagement vs unsubscribes ({curve['decisions']} logged decisions replayed)", fontsize=10
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
