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
    live = results.get("live", {}).get("per_second", 0.0)
    rows = [("figure", "value", "baseline", "ratio", "target", "met")]
    if live:
        rows.append(
            (
                "/health/live per second",
                f"{live:.0f}",
                f"{minimal:.0f} minimal req/s",
                ratio(live, minimal),
                "",
                "",
            )
        )
    for name, target in (("charges", 0.10), ("webhooks", 0.25)):
        if name not in results:
            continue
        figures = results[name]
        rate = figures["per_second"]
        rows.append(
            (
                f"{name} per second",
                f"{rate:.0f}",
                f"{live:.0f} /health/live req/s",
                ratio(rate, live),
                f">= {target:.2f}x",
                str(bool(live) and rate >= target * live),
            )
        )
        rows.append(
            (f"{name} p50 / p99 ms", f"{figures['p50_ms']} / {figures['p99_ms']}", "", "",
             "p99 < 100", str(figures["p99_ms"] < 100))
        )  # fmt: skip
        caught_up = figures.get("history_caught_up_s")
        rows.append(
            (f"{name}: history caught up s", str(caught_up), "after the last answer", "",
             "<= 1", str(caught_up is not None and caught_up <= 1.0))
        )  # fmt: skip
        rows.append(
            (f"{name} per second", "", f"{commit:.0f} pg commits/s", ratio(rate, commit), "", "")
        )
        rows.append(
            (f"{name} per second", "", f"{serialized:.0f} serialized pg commits/s",
             ratio(rate, serialized), "", "")
        )  # fmt: skip
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
    print_counts(results)


def print_counts(results: dict[str, Any]) -> None:
    """Per request: SQL statements, Redis commands, WAL bytes, log lines and bytes."""
    for name in ("live", "charges", "webhooks"):
        counts = results.get(name, {}).get("per_request")
        if not counts:
            continue
        sql = counts["sql_statements"]
        print(
            f"\n{name}, per request: {sql if sql is not None else '?'} SQL statements "
            f"({counts.get('sql_ms', '?')} ms in the server), "
            f"{counts['redis_commands']} Redis commands {counts['redis_by_command']} "
            "(those a script runs included), "
            f"{counts['wal_bytes']} WAL bytes, {counts['log_lines']} log lines "
            f"({counts['log_bytes']} bytes)"
        )
        if sql is None:
            print(f"  SQL statements not counted: {counts.get('sql_unavailable')}")
        for statement in counts.get("sql_top", []):
            print(
                f"  {statement['per_request']:>6} x {statement['ms_per_request']:>6} ms"
                f"  {statement['query']}"
            )


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
