"""Ranking quality on the offline simulator (ranking/simulator.py), against baselines.

    .venv/bin/python -m bench.ranking [--seeds 20] [--quick] [--processes 2]

Runs every scenario for every ranker over the seeds (each seed's world is shared by the
rankers), prints mean ± standard error per figure, then the targets for the learned
``ranking.model.Ranker`` with PASS/FAIL (baselines only when it cannot be imported). The
oracle ranks by the hidden truth: its NDCG is the ceiling and its ECE the noise floor.
Exits 0 either way: this is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence

from ranking.baselines import EdgeRankLike, NewsBlurLike, ReverseChronological
from ranking.simulator import (
    FULL,
    QUICK,
    SCENARIOS,
    Metrics,
    Oracle,
    World,
    build_world,
    pooled_ece,
    simulate,
)
from ranking.types import RankerLike

LEARNED = "Ranker"
BASELINES = ("EdgeRankLike", "NewsBlurLike", "ReverseChronological", "Oracle")
NO_PROBABILITY = frozenset({"EdgeRankLike", "ReverseChronological"})  # no ECE for these
COLUMNS: tuple[tuple[str, str], ...] = (
    ("NDCG@10", "ndcg10"),
    ("NDCG@20", "ndcg20"),
    ("events to 0.6", "events_to_target"),
    ("ECE", "ece"),
    ("close-cold cover", "close_cold_coverage"),
    ("LE recall@10", "life_event_recall"),
    ("flood share", "flood_share"),
)

Task = tuple[str, int, bool, tuple[str, ...]]
Result = tuple[str, Metrics, float]


def make_ranker(name: str, world: World) -> RankerLike:
    """A fresh ranker by name (the learned one imported here, lazily)."""
    if name == LEARNED:
        from ranking.model import Ranker

        return Ranker()
    factories: dict[str, Callable[[], RankerLike]] = {
        "EdgeRankLike": EdgeRankLike,
        "NewsBlurLike": NewsBlurLike,
        "ReverseChronological": ReverseChronological,
        "Oracle": lambda: Oracle(world),
    }
    return factories[name]()


def run_task(task: Task) -> list[Result]:
    """One scenario and seed: build the world once, run every ranker on it."""
    scenario, seed, quick, names = task
    world = build_world(scenario, seed=seed, size=QUICK if quick else FULL)
    results = []
    for name in names:
        started = time.perf_counter()
        metrics = simulate(
            make_ranker(name, world), world, probabilities=name not in NO_PROBABILITY
        )
        results.append((name, metrics, time.perf_counter() - started))
    return results


def mean_se(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error (0 for a single value)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(var / len(values))


def cell(runs: Sequence[Metrics], attr: str) -> str:
    values = [v for v in (getattr(r, attr) for r in runs) if v is not None]
    if not values:
        return "-"
    mean, se = mean_se([float(v) for v in values])
    digits = 0 if attr == "events_to_target" else 2 if attr == "flood_share" else 3
    text = f"{mean:.{digits}f}±{se:.{digits}f}"
    if attr == "events_to_target":
        text += f" ({len(values)}/{len(runs)})"
    return text


def learned_available() -> bool:
    try:
        from ranking.model import Ranker  # noqa: F401
    except Exception as exc:  # a missing or half-written model must not stop the bench
        print(f"note: ranking.model.Ranker unavailable ({type(exc).__name__}: {exc});")
        print("      running the baselines only.\n")
        return False
    return True


def print_table(results: dict[tuple[str, str], list[Metrics]], names: Sequence[str]) -> None:
    header = f"{'scenario':<12} {'ranker':<21}" + "".join(f"{t:>19}" for t, _ in COLUMNS)
    print(header)
    print("-" * len(header))
    for scenario in SCENARIOS:
        for name in names:
            runs = results[(scenario, name)]
            cells = "".join(f"{cell(runs, attr):>19}" for _, attr in COLUMNS)
            print(f"{scenario:<12} {name:<21}{cells}")
        print()
    pooled = {n: pooled_ece(results[("steady", n)]) for n in names if n not in NO_PROBABILITY}
    print(
        "ECE pooled over the seeds' steady impressions (less sampling noise): "
        + ", ".join(f"{n} {v:.3f}" for n, v in pooled.items() if v is not None)
    )


def mean_of(runs: Sequence[Metrics], attr: str) -> float | None:
    values = [float(v) for v in (getattr(r, attr) for r in runs) if v is not None]
    return sum(values) / len(values) if values else None


def print_targets(results: dict[tuple[str, str], list[Metrics]]) -> None:
    def figure(scenario: str, name: str, attr: str) -> float | None:
        return mean_of(results[(scenario, name)], attr)

    ranker = figure("steady", LEARNED, "ndcg10")
    edge = figure("steady", "EdgeRankLike", "ndcg10")
    chrono = figure("steady", "ReverseChronological", "ndcg10")
    checks: list[tuple[str, float | None, str, float | None]] = [
        (
            "steady NDCG@10 >= EdgeRankLike + 0.05",
            ranker,
            ">=",
            None if edge is None else edge + 0.05,
        ),
        (
            "steady NDCG@10 >= ReverseChronological + 0.4",
            ranker,
            ">=",
            None if chrono is None else chrono + 0.4,
        ),
        (
            "steady ECE (pooled over seeds) <= 0.06",
            pooled_ece(results[("steady", LEARNED)]),
            "<=",
            0.06,
        ),
        (
            "steady close-but-cold coverage >= 0.7",
            figure("steady", LEARNED, "close_cold_coverage"),
            ">=",
            0.7,
        ),
        (
            "life_events recall@10 >= 0.5",
            figure("life_events", LEARNED, "life_event_recall"),
            ">=",
            0.5,
        ),
        ("flood share (of top 10) <= 2", figure("flood", LEARNED, "flood_share"), "<=", 2.0),
    ]
    print("targets (Ranker):")
    for label, value, op, bound in checks:
        if value is None or bound is None:
            print(f"  FAIL  {label}: no figure")
            continue
        ok = value >= bound if op == ">=" else value <= bound
        print(f"  {'PASS' if ok else 'FAIL'}  {label}: {value:.3f} (bound {bound:.3f})")
    print(
        f"  (per-run ECE mean {figure('steady', LEARNED, 'ece') or math.nan:.3f}; "
        f"the oracle's pooled ECE {pooled_ece(results[('steady', 'Oracle')]) or math.nan:.3f} "
        "is the noise floor)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="small worlds (as the tests)")
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    started = time.perf_counter()
    names = ((LEARNED,) if learned_available() else ()) + BASELINES
    tasks: list[Task] = [
        (scenario, seed, args.quick, names) for scenario in SCENARIOS for seed in range(args.seeds)
    ]
    results: dict[tuple[str, str], list[Metrics]] = defaultdict(list)
    seconds: dict[str, float] = defaultdict(float)
    runs_of: dict[str, int] = defaultdict(int)
    with multiprocessing.Pool(args.processes) as pool:
        for done, found in enumerate(pool.imap_unordered(run_task, tasks), start=1):
            print(f"\r{done}/{len(tasks)} worlds", end="", file=sys.stderr, flush=True)
            for name, metrics, spent in found:
                results[(metrics.scenario, name)].append(metrics)
                seconds[name] += spent
                runs_of[name] += 1
    print(file=sys.stderr)
    for runs in results.values():
        runs.sort(key=lambda m: m.seed)
    size = QUICK if args.quick else FULL
    print(
        f"{args.seeds} seeds x {len(SCENARIOS)} scenarios; {size.people} people, "
        f"{size.warmup_days} warm-up + {size.measure_days} measured days, "
        f"{size.sessions_per_day} sessions a day\n"
    )
    print_table(results, names)
    print()
    if LEARNED in names:
        print_targets(results)
    else:
        print("targets: skipped (no Ranker)")
    print()
    print(
        "seconds per run (simulation included): "
        + ", ".join(f"{n} {seconds[n] / max(runs_of[n], 1):.2f}" for n in names)
    )
    print(f"seconds: {time.perf_counter() - started:.1f} ({args.processes} processes)")


if __name__ == "__main__":
    main()
