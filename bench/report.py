"""Prints figures beside their baselines and targets; writes JSON and a latency chart."""

import json
from pathlib import Path
from typing import Any

from bench.stripe_workload import report_rows


def ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}x" if baseline else "-"


def print_report(results: dict[str, Any]) -> None:
    commit = results["baselines"]["pg_commits_per_second"]
    serialized = results["baselines"]["pg_serialized_commits_per_second"]
    minimal = results["baselines"]["minimal_litestar"]["per_second"]
    rows = [("figure", "value", "baseline", "ratio", "target", "met")]
    for name in ("charges", "webhooks"):
        if name in results:
            rate = results[name]["per_second"]
            rows.append(
                (
                    f"{name} per second",
                    f"{rate:.0f}",
                    f"{commit:.0f} pg commits/s",
                    ratio(rate, commit),
                    ">= 0.25x",
                    str(rate >= 0.25 * commit),
                )
            )
            rows.append(
                (
                    f"{name} per second",
                    "",
                    f"{serialized:.0f} serialized pg commits/s",
                    ratio(rate, serialized),
                    "",
                    "",
                )
            )
            rows.append(
                (
                    f"{name} p50 / p99 ms",
                    f"{results[name]['p50_ms']} / {results[name]['p99_ms']}",
                    f"{minimal:.0f} minimal req/s",
                    ratio(rate, minimal),
                    "",
                    "",
                )
            )
    for offset, limit in ((0, 10.0), (9000, 25.0)):
        key = f"history_offset_{offset}"
        if key in results:
            served = results[key]["single_connection"]
            direct = results["baselines"][f"direct_query_offset_{offset}"]
            rows.append(
                (
                    f"history offset {offset} p50 / p99 ms",
                    f"{served['p50_ms']} / {served['p99_ms']}",
                    f"{direct['p50_ms']} / {direct['p99_ms']} in pg",
                    ratio(served["p99_ms"], direct["p99_ms"]),
                    f"p99 < {limit:.0f} ms",
                    str(served["p99_ms"] < limit),
                )
            )
    if "replay" in results:
        rate = results["replay"]["events_per_second"]
        rows.append(
            ("replay events per second", f"{rate:.0f}", "", "", ">= 20000", str(rate >= 20000))
        )
    if "stripe" in results:
        simulated = results["charges"]["per_second"] if "charges" in results else None
        rows += report_rows(results["stripe"], simulated)
    if "peak_rss_mb" in results:
        peak = max(results["peak_rss_mb"].values())
        rows.append(("peak RSS per worker MB", f"{peak}", "", "", "< 200", str(peak < 200)))
    widths = [max(len(str(row[i])) for row in rows) for i in range(6)]
    for row in rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


def write_outputs(results: dict[str, Any], folder: Path) -> tuple[Path, Path | None]:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = results["started"].replace(":", "").replace("-", "")
    json_path = folder / f"bench-{stamp}.json"
    json_path.write_text(json.dumps(results, indent=2))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return json_path, None
    series = {
        name: results[name] if "p50_ms" in results[name] else results[name]["single_connection"]
        for name in ("charges", "webhooks", "history_offset_0", "history_offset_9000")
        if name in results
    }
    figure, axis = plt.subplots(figsize=(7, 3.5))
    for i, (name, figures) in enumerate(series.items()):
        values = [figures["p50_ms"], figures["p90_ms"], figures["p99_ms"]]
        axis.bar([i * 4 + j for j in range(3)], values, label=name)
    axis.set_xticks([i * 4 + 1 for i in range(len(series))], list(series), fontsize=8)
    axis.set_ylabel("latency ms (p50, p90, p99)")
    axis.set_title("Payment service latency percentiles")
    axis.legend(fontsize=7)
    figure.tight_layout()
    chart_path = folder / f"bench-{stamp}.png"
    figure.savefig(chart_path, dpi=110)
    return json_path, chart_path
