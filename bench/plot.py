"""``latest.png``: requests/s, p50 and p99 against concurrency for every target."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.results import TARGET_ORDER

COLOURS = {
    "direct": "#7f7f7f",
    "nginx": "#2ca02c",
    "passthrough": "#1f77b4",
    "gateway": "#d62728",
    "gateway_cached": "#ff9896",
    "gateway_2w": "#9467bd",
}


def plot(document: dict[str, Any], path: Path) -> Path:
    # Imported here: matplotlib takes a while to import, and only drawing needs it.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = document["runs"]
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.8))
    panels = (("rps", "requests/s"), ("p50_ms", "p50 latency (ms)"), ("p99_ms", "p99 latency (ms)"))
    for axis, (figure_key, label) in zip(axes, panels, strict=True):
        for target in TARGET_ORDER:
            points = sorted(
                (r["concurrency"], r[figure_key]) for r in runs if r["target"] == target
            )
            if points:
                xs, ys = zip(*points, strict=True)
                axis.plot(xs, ys, marker="o", label=target, color=COLOURS[target])
        axis.set_xscale("log", base=2)
        axis.set_yscale("log")
        axis.set_xticks(sorted({r["concurrency"] for r in runs}))
        axis.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        axis.set_xlabel("concurrent connections (wrk)")
        axis.set_ylabel(label)
        axis.grid(True, which="both", alpha=0.3)
    axes[0].legend()
    machine = document.get("machine", {})
    figure.suptitle(
        f"make bench: {machine.get('cpus', '?')} CPUs ({machine.get('cpu_model', '?')}), "
        f"median of {document.get('settings', {}).get('rounds', '?')} interleaved rounds, "
        f"{document.get('settings', {}).get('duration_s', '?')} s a point"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
