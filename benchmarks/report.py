"""The Markdown table and the PNG chart of a ``run.py`` result, and its acceptance check.

    python benchmarks/report.py [benchmarks/results/benchmark.json]

rewrites ``benchmark.md`` and ``benchmark.png`` beside the JSON (no new measurement). The
targets are those of issue 12: throughput ours/Kinto at least 1.5 in every workload with no
non-2xx answer from ours; on PostgreSQL the p50 of each scaling request at the largest size
within 1.5x of the same at the smallest (a filtered count may grow with its matches) and
within 1.5x of Kinto's or better (a filter matching one record, and the filtered count: at
least 2x better).
"""

from __future__ import annotations

import pathlib
import sys

RATIO_TARGET = 1.5
# Scaling requests held to better than Kinto by this factor (the others: within 1.5x of it).
TWICE_BETTER = ("filter matching one record", "HEAD, filter matching 1 %")
MAY_GROW = ("HEAD, filter matching 1 %",)
# Requests beyond the table of issue 12, held to Kinto's figure only: what they read grows with
# their matches (1 % of 1k records is a page of 10, of 1M a sort of 10,000 matches).
BEYOND_ISSUE = (
    "like_ filter (page of 100)",
    "range matching 1 % (page of 100)",
    "in_ matching 2 records",
)


def size_label(size: str) -> str:
    n = int(size)
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"


def misses(results: dict) -> list[str]:
    """What misses issue 12's targets, one line each."""
    found = []
    for backend, scenarios in results["throughput"].items():
        for scenario, figures in scenarios.items():
            errors = sum(figures["cliquet"]["errors"].values())
            if figures["ratio"] < RATIO_TARGET:
                found.append(f"throughput {backend} {scenario}: ratio {figures['ratio']:.2f}")
            if errors:
                found.append(f"throughput {backend} {scenario}: {errors} non-2xx from ours")
    sizes = sorted(results["scaling"], key=int)
    if len(sizes) >= 2:
        small, large = results["scaling"][sizes[0]], results["scaling"][sizes[-1]]
        at = size_label(sizes[-1])
        for label, figures in large.items():
            ours, kinto = figures["cliquet"]["p50_ms"], figures["kinto"]["p50_ms"]
            base = small[label]["cliquet"]["p50_ms"]
            if ours is None:
                found.append(f"scaling {label}: ours failed at {at}")
                continue
            grows = label in MAY_GROW or label in BEYOND_ISSUE
            if not grows and base and ours > RATIO_TARGET * base:
                found.append(
                    f"scaling {label}: ours {ours:.1f} ms at {at}, {ours / base:.1f}x "
                    f"its {base:.1f} ms at {size_label(sizes[0])}"
                )
            if kinto is not None:
                limit = kinto / 2 if label in TWICE_BETTER else kinto * RATIO_TARGET
                if ours > limit:
                    found.append(
                        f"scaling {label}: ours {ours:.1f} ms at {at}, Kinto {kinto:.1f} ms "
                        f"(target {limit:.1f} ms or less)"
                    )
    return found


def growth(results: dict) -> list[str]:
    """How the requests beyond the issue's table grow from the smallest size to the largest."""
    sizes = sorted(results["scaling"], key=int)
    if len(sizes) < 2:
        return []
    small, large = results["scaling"][sizes[0]], results["scaling"][sizes[-1]]
    found = []
    for label in BEYOND_ISSUE:
        if label not in large or label not in small:
            continue
        ours, base = large[label]["cliquet"]["p50_ms"], small[label]["cliquet"]["p50_ms"]
        kinto = large[label]["kinto"]["p50_ms"]
        if ours is None or not base or kinto is None:
            continue
        found.append(
            f"{label}: ours {base:.1f} ms at {size_label(sizes[0])}, {ours:.1f} ms at "
            f"{size_label(sizes[-1])} ({ours / base:.1f}x), Kinto {kinto:.1f} ms "
            f"({kinto / ours:.1f}x ours)"
        )
    return found


def _count(errors: dict) -> int:
    return sum(errors.values())


def _cell(figures: dict) -> str:
    if figures["p50_ms"] is None:
        return "failed"
    text = f"{figures['p50_ms']:.1f} / {figures['best_ms']:.1f}"
    return text + (f" ({_count(figures['errors'])} non-2xx)" if figures["errors"] else "")


def markdown(results: dict) -> str:
    meta = results["meta"]
    settings = meta["settings"]
    lines = [
        "# cliquet vs Kinto",
        "",
        f"{meta['date']}: {meta['versions'][0]} vs {meta['versions'][1]}; {meta['cpus']} cores, "
        f"waitress {settings['threads']} threads each, servers pinned to cpu "
        f"{settings['server_cpu']}, load generator to cpu {settings['client_cpu']}. Load "
        f"average (1, 5, 15 min) at the start {meta['load_average_start']}, at the end "
        f"{meta['load_average_end']}; the run took {meta['seconds']} s.",
        "",
    ]
    if meta.get("load_average_after"):
        phases = "; ".join(f"{k}: {v}" for k, v in meta["load_average_after"].items())
        lines += [f"Load average after each part: {phases}.", ""]
    if results["throughput"]:
        lines += [
            "## Throughput",
            "",
            f"{settings['concurrency']} client threads, {settings['rounds']} rounds of "
            f"{settings['seconds']:g} s per workload and server, servers alternating; listed "
            f"collection of {settings['list_size']:,} records. req/s of successes and p50 / p95 "
            "ms, medians over rounds; ratio: median of the rounds' ours/Kinto req/s.",
            "",
            "| backend | workload | ours req/s | ours p50 / p95 ms | Kinto req/s "
            "| Kinto p50 / p95 ms | ratio | non-2xx ours / Kinto |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for backend, scenarios in results["throughput"].items():
            for scenario, figures in scenarios.items():
                ours, kinto = figures["cliquet"], figures["kinto"]
                lines.append(
                    f"| {backend} | {scenario} | {ours['rps']:.0f} | {ours['p50_ms']:.2f} / "
                    f"{ours['p95_ms']:.2f} | {kinto['rps']:.0f} | {kinto['p50_ms']:.2f} / "
                    f"{kinto['p95_ms']:.2f} | {figures['ratio']:.2f} | "
                    f"{_count(ours['errors'])} / {_count(kinto['errors'])} |"
                )
        lines.append("")
        details = [
            f"- {backend} {scenario}, {name}: "
            + ", ".join(f"{n} x {status}" for status, n in figures[server]["errors"].items())
            for backend, scenarios in results["throughput"].items()
            for scenario, figures in scenarios.items()
            for server, name in (("cliquet", "ours"), ("kinto", "Kinto"))
            if figures[server]["errors"]
        ]
        if details:
            lines += ["Non-2xx answers (status, or `N in batch` for a failed subrequest):", ""]
            lines += details + [""]
    if results["scaling"]:
        sizes = sorted(results["scaling"], key=int)
        labels = list(results["scaling"][sizes[0]])
        heads = [f"ours {size_label(s)}" for s in sizes] + [
            f"Kinto {size_label(s)}" for s in sizes
        ]
        lines += [
            "## Scaling (PostgreSQL)",
            "",
            f"p50 / best ms of {settings['requests']} sequential requests per server and size, "
            "all sizes and both servers in turn request by request; each server's database "
            "holds a collection of each size, loaded in bulk.",
            "",
            "| request | " + " | ".join(heads) + " |",
            "|---|" + "---:|" * len(heads),
        ]
        for label in labels:
            cells = [_cell(results["scaling"][s][label]["cliquet"]) for s in sizes]
            cells += [_cell(results["scaling"][s][label]["kinto"]) for s in sizes]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    found = misses(results)
    lines += ["## Against the targets of issue 12", ""]
    lines += [f"- misses: {m}" for m in found] if found else ["- every target met"]
    lines += [f"- beyond the issue's table: {g}" for g in growth(results)]
    lines.append("")
    return "\n".join(lines)


def chart(results: dict, path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = (1 if results["throughput"] else 0) + (1 if results["scaling"] else 0)
    if not panels:
        return
    figure, axes = plt.subplots(1, panels, figsize=(7 * panels, 5.5), squeeze=False)
    column = 0
    if results["throughput"]:
        ax = axes[0][column]
        column += 1
        backends = list(results["throughput"])
        scenarios = list(next(iter(results["throughput"].values())))
        width = 0.8 / len(backends)
        for b, backend in enumerate(backends):
            ratios = [results["throughput"][backend][s]["ratio"] for s in scenarios]
            xs = [i + (b - (len(backends) - 1) / 2) * width for i in range(len(scenarios))]
            ax.bar(xs, ratios, width, label=backend)
        ax.axhline(RATIO_TARGET, color="red", linestyle="--", linewidth=1, label="target 1.5")
        ax.axhline(1.0, color="grey", linewidth=0.8)
        ax.set_xticks(range(len(scenarios)), scenarios, rotation=30, ha="right")
        ax.set_ylabel("throughput ours / Kinto")
        ax.set_title("Throughput ratio (above 1: ours serves more)")
        ax.legend()
    if results["scaling"]:
        ax = axes[0][column]
        sizes = sorted(results["scaling"], key=int)
        labels = list(results["scaling"][sizes[0]])
        xs = [int(s) for s in sizes]
        colors = plt.get_cmap("tab20").colors  # type: ignore[attr-defined]  # 12 requests
        for i, label in enumerate(labels):
            color = colors[i % len(colors)]
            for server, style in (("cliquet", "-"), ("kinto", ":")):
                ys = [results["scaling"][s][label][server]["p50_ms"] for s in sizes]
                name = label if server == "cliquet" else None
                ax.plot(xs, ys, style, marker="o", color=color, label=name)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("records in the collection")
        ax.set_ylabel("p50 ms")
        ax.set_title("Scaling on PostgreSQL: ours solid, Kinto dotted")
        ax.legend(fontsize=7)
    figure.suptitle(f"cliquet vs Kinto, {results['meta']['date']}")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main(path: pathlib.Path) -> None:
    import json

    results = json.loads(path.read_text())
    (path.parent / "benchmark.md").write_text(markdown(results))
    chart(results, path.parent / "benchmark.png")
    print(markdown(results))


if __name__ == "__main__":
    default = pathlib.Path(__file__).resolve().parent / "results" / "benchmark.json"
    main(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else default)
