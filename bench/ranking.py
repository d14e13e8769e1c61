"""Ranking quality on the offline simulator (ranking/simulator.py), against baselines.

    .venv/bin/python -m bench.ranking [--worlds 30] [--rounds 60] [--people 100] [--processes 2]
    .venv/bin/python -m bench.ranking --scenarios [--seeds 20] [--quick]

By default: ``--worlds`` worlds drawn from the family of :mod:`ranking.worlds` (each
world's generative assumptions drawn from a space of them, seeded), ``--rounds``
sessions each, every ranker on the same world; mean ± standard error and the worst
world per figure, the per-world floor (Ranker against EdgeRank-like over the last
third of the run), how often the Ranker's floor leaned toward EdgeRank-like, then the
targets of issue 21 with PASS/FAIL. ``--scenarios`` runs the five classic scenarios
(issue 7's table) instead. The oracle ranks by the hidden truth: its NDCG is the ceiling
and its ECE the noise floor. Exits 0 either way: this is a benchmark, not a test.
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
    Size,
    World,
    build_world,
    family_world,
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
FamilyTask = tuple[int, int, int, tuple[str, ...]]
FamilyResult = tuple[str, Metrics, float, tuple[int, int]]


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


def run_family(task: FamilyTask) -> list[FamilyResult]:
    """One world of the family: build it once, run every ranker on it."""
    seed, rounds, people, names = task
    world = family_world(seed, size=Size(people=people), rounds=rounds)
    results = []
    for name in names:
        started = time.perf_counter()
        ranker = make_ranker(name, world)
        metrics = simulate(ranker, world, probabilities=name not in NO_PROBABILITY)
        stats = getattr(ranker, "floor_stats", lambda: (0, 0))()
        results.append((name, metrics, time.perf_counter() - started, stats))
    return results


def worst(runs: Sequence[Metrics], attr: str, low_is_bad: bool = True) -> str:
    values = [(float(v), r.seed) for r in runs if (v := getattr(r, attr)) is not None]
    if not values:
        return "-"
    value, seed = min(values) if low_is_bad else max(values)
    return f"{value:.2f} (w{seed})"


def family_table(by_name: dict[str, list[Metrics]], names: Sequence[str]) -> None:
    columns = (
        ("NDCG@10", "ndcg10", True),
        ("NDCG@20", "ndcg20", True),
        ("NDCG@10 last 1/3", "ndcg10_last", True),
        ("LE recall@10", "life_event_recall", True),
        ("close-cold cover", "close_cold_coverage", True),
        ("events to 0.6", "events_to_target", False),
    )
    header = f"{'ranker':<21}" + "".join(f"{t:>18}{'worst':>12}" for t, _, _ in columns)
    print(header)
    print("-" * len(header))
    for name in names:
        runs = by_name[name]
        cells = "".join(
            f"{cell(runs, attr):>18}{worst(runs, attr, low):>12}" for _, attr, low in columns
        )
        print(f"{name:<21}{cells}")
    print()
    print("ECE (pooled over all worlds' examined impressions; mean per world ± SE; worst):")
    for name in names:
        if name in NO_PROBABILITY:
            continue
        pooled = pooled_ece(by_name[name])
        print(
            f"  {name:<21} {pooled or math.nan:.3f}; {cell(by_name[name], 'ece')}; "
            f"worst {worst(by_name[name], 'ece', low_is_bad=False)}"
        )
    print()
    print("flood share (flooder's items in the top 10), by kind of flooder:")
    for kind in ("ignored", "loved"):
        for name in names:
            runs = [r for r in by_name[name] if f"flood:{kind}/" in r.spec]
            print(f"  {kind:<8} {name:<21} {cell(runs, 'flood_share')} ({len(runs)} worlds)")


def loved_ratio(by_name: dict[str, list[Metrics]], name: str) -> list[tuple[float, int]]:
    oracle = {r.seed: r for r in by_name["Oracle"]}
    out = []
    for r in by_name[name]:
        o = oracle.get(r.seed)
        if "flood:loved/" in r.spec and r.flood_share is not None and o and o.flood_share:
            out.append((r.flood_share / o.flood_share, r.seed))
    return out


def family_targets(by_name: dict[str, list[Metrics]], stats: dict[int, tuple[int, int]]) -> None:
    ranker = by_name[LEARNED]
    edge = {r.seed: r for r in by_name["EdgeRankLike"]}
    margins = sorted(
        (r.ndcg10_last - edge[r.seed].ndcg10_last, r.seed) for r in ranker if r.seed in edge
    )
    ahead = sum(m >= 0.02 for m, _ in margins)
    ndcg10 = mean_se([r.ndcg10 for r in ranker])[0]
    pooled = pooled_ece(ranker)
    recall = mean_of(ranker, "life_event_recall")
    ignored = [
        r.flood_share for r in ranker if "flood:ignored/" in r.spec and r.flood_share is not None
    ]
    loved = loved_ratio(by_name, LEARNED)
    checks: list[tuple[str, bool, str]] = [
        ("mean NDCG@10 >= 0.85", ndcg10 >= 0.85, f"{ndcg10:.3f}"),
        (
            "every world: Ranker >= EdgeRank-like + 0.02 over the last third",
            ahead == len(margins),
            f"{ahead}/{len(margins)} worlds; worst margin {margins[0][0]:+.3f} (w{margins[0][1]})"
            if margins
            else "no worlds",
        ),
        (
            "ECE (pooled) <= 0.05",
            pooled is not None and pooled <= 0.05,
            f"{pooled or math.nan:.3f}",
        ),
        (
            "life-event recall@10 >= 0.8",
            recall is not None and recall >= 0.8,
            f"{recall or math.nan:.3f}",
        ),
        (
            "ignored flooder: share of top 10 <= 2 in every such world",
            bool(ignored) and max(ignored) <= 2.0,
            f"mean {sum(ignored) / max(len(ignored), 1):.2f}, "
            f"worst {max(ignored, default=math.nan):.2f}",
        ),
        (
            "loved flooder: >= 60% of the oracle's share in every such world",
            bool(loved) and min(loved)[0] >= 0.6,
            f"mean {sum(v for v, _ in loved) / max(len(loved), 1):.2f}, worst "
            + (f"{min(loved)[0]:.2f} (w{min(loved)[1]})" if loved else "-"),
        ),
    ]
    print("targets (Ranker):")
    for label, ok, text in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {label}: {text}")
    checks_n = sum(c for c, _ in stats.values())
    leaned = sum(t for _, t in stats.values())
    worlds_leaning = sum(t > 0 for _, t in stats.values())
    print(
        f"floor: leaned toward EdgeRank-like after {leaned} of {checks_n} judged pages "
        f"({leaned / max(checks_n, 1):.1%}); in {worlds_leaning} of {len(stats)} worlds"
    )
    print("worst worlds (Ranker minus EdgeRank-like, last third):")
    spec = {r.seed: r.spec for r in ranker}
    for m, seed in margins[:3]:
        print(f"  w{seed} {m:+.3f}  {spec[seed]}")


def main_family(args: argparse.Namespace, names: tuple[str, ...]) -> None:
    started = time.perf_counter()
    tasks: list[FamilyTask] = [(s, args.rounds, args.people, names) for s in range(args.worlds)]
    by_name: dict[str, list[Metrics]] = defaultdict(list)
    stats: dict[int, tuple[int, int]] = {}
    seconds: dict[str, float] = defaultdict(float)
    with multiprocessing.Pool(args.processes) as pool:
        for done, found in enumerate(pool.imap_unordered(run_family, tasks), start=1):
            print(f"\r{done}/{len(tasks)} worlds", end="", file=sys.stderr, flush=True)
            for name, metrics, spent, floor in found:
                by_name[name].append(metrics)
                seconds[name] += spent
                if name == LEARNED:
                    stats[metrics.seed] = floor
    print(file=sys.stderr)
    for runs in by_name.values():
        runs.sort(key=lambda m: m.seed)
    print(
        f"{args.worlds} worlds of the family (seeds 0..{args.worlds - 1}), {args.rounds} "
        f"rounds (sessions) each, {args.people} people; a third warm-up, NDCG over the "
        "rest, cold start from the first round\n"
    )
    family_table(by_name, names)
    print()
    if LEARNED in names:
        family_targets(by_name, stats)
    print()
    print(
        "seconds per world (simulation included): "
        + ", ".join(f"{n} {seconds[n] / max(args.worlds, 1):.2f}" for n in names)
    )
    print(f"seconds: {time.perf_counter() - started:.1f} ({args.processes} processes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="small worlds (as the tests)")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--scenarios", action="store_true", help="the five classic scenarios")
    parser.add_argument("--worlds", type=int, default=30, help="family worlds")
    parser.add_argument("--rounds", type=int, default=60, help="sessions per family world")
    parser.add_argument("--people", type=int, default=100, help="people per family world")
    args = parser.parse_args()
    started = time.perf_counter()
    names = ((LEARNED,) if learned_available() else ()) + BASELINES
    if not args.scenarios:
        main_family(args, names)
        return
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
