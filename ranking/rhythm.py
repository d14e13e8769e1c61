"""The rhythm of contact with one person, and how unusual the current silence is.

Pure: plain numbers and datetimes in, frozen dataclasses out, ``now`` an argument.

Contact comes in episodes: a flurry of replies, a visit, a conference week are one
episode however many contacts they hold. Contacts closer together than a split gap
form one episode; the split is found in the person's own gaps (the threshold that best
separates their log gaps into a short and a long population, when there are two) so a
burst of five replies over a week is one episode and a steady weekly call is seven.

The gaps between episodes (end of one to the start of the next) are modelled on the log
scale: the centre is the recency-weighted mean log gap, the spread that decides the tail
comes from the gaps above the centre only (a split normal: short gaps, such as a chance
contact cutting a gap in two, or the left skew of exponential gaps, do not widen the
right tail). Recent gaps count more (a half-life counted in episodes, so a slow rhythm
and a fast one follow their trend alike). Someone with little history borrows strength
from a prior pooled over all the user's people (empirical Bayes: a normal prior on the
mean log gap with the between-people spread, and an independent scaled-inverse-chi-square
one on the within-person spread, fitted from the people with enough history; a rhythm
unlike the others' is not taken as irregular). ``overdue`` is the probability that a gap
of theirs would have ended by now, ``1 - S(silence)``; a cadence set by the user replaces
the learned rhythm.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from statistics import median

DAY = 86400.0
MIN_SPLIT_DAYS = 0.5  # contacts within half a day are always one episode
MAX_SPLIT_DAYS = 10.0  # ... and more than ten days apart never are
MIN_SEPARABILITY = 0.8  # between-class share of log-gap variance that makes two populations
DEFAULT_SPLIT_DAYS = 1.0  # no such jump: same-day contact is one episode
HALF_LIFE_EPISODES = 5.0  # a gap this many episodes back weighs half as much
RECENT_GAPS = 10  # two half-lives: the gaps a silence is compared with as "had before"
DRIFT_BLOCK = 4  # episodes per block when measuring how much their pace wanders
MIN_SIGMA = 0.3  # nobody is a metronome: at least this spread in log gap
CADENCE_SIGMA = 0.25  # a cadence is a goal, with a little slack around it
FALLBACK = (math.log(30.0), 0.6)  # prior when too few people have a history: monthly


@dataclass(frozen=True, slots=True)
class Prior:
    """The pooled prior over a user's people: mean and spread of the log gap (days) and
    how many gaps' worth of evidence each is worth."""

    mu: float = FALLBACK[0]
    sigma: float = FALLBACK[1]
    kappa: float = 0.5  # pseudo-gaps behind mu
    nu: float = 1.0  # pseudo-gaps behind sigma


@dataclass(frozen=True, slots=True)
class GapStats:
    """One person's episodes and the recency-weighted statistics of their gaps."""

    contacts: int
    episodes: int
    mean_episode_size: float
    weight: float  # sum of the recency weights of the gaps
    mean_log: float  # weighted mean of log gap (days); 0 without gaps
    var_log: float  # weighted upper semi-variance of log gap (the gaps above the mean)
    last: float  # the last contact, epoch days; nan without contact
    longest_recent: float = 0.0  # the longest of the last RECENT_GAPS gaps (days)
    drift_var: float = 0.0  # how much their pace wanders: variance of the mean log gap over time


@dataclass(frozen=True, slots=True)
class Assessment:
    """How unusual the silence is: ``overdue`` in 0..1 and the words for it."""

    overdue: float
    silence_days: float
    usual_gap_days: float  # the typical gap between episodes (or the cadence)
    spread: float  # predictive sd of the log gap
    bursty: bool  # their episodes usually hold several contacts
    from_cadence: bool
    learned_from: int  # gaps between episodes seen
    had_before_days: float = 0.0  # the longest of their recent gaps: a silence they came back from

    def explain(self) -> str:
        if self.from_cadence:
            basis = f"your cadence goal for them is every {span(self.usual_gap_days)}"
        else:
            basis = f"you usually talk every {span(self.usual_gap_days)}"
            if self.bursty:
                basis += ", in bursts"
            if self.learned_from < 3:
                basis += " (a guess from few contacts, like your other people)"
        return f"{basis}; it has been {span(self.silence_days)}"


def span(days: float) -> str:
    """A duration in words a person would use: 9 days, 40 days, 2 months, 1.5 years."""
    if days < 1.5:
        return "1 day" if days >= 0.5 else "less than a day"
    if days < 45:
        return f"{round(days)} days"
    if days < 548:
        months = round(days / 30.44)
        return "1 month" if months == 1 else f"{months} months"
    return f"{days / 365.25:.1f} years"


def epoch_days(times: Iterable[datetime], *, now: datetime) -> list[float]:
    """Contact times as sorted epoch days, dropping any after ``now`` (clock skew, bad
    data); a naive time is taken as UTC."""
    limit = now.timestamp()
    out = []
    for t in times:
        ts = (t if t.tzinfo is not None else t.replace(tzinfo=UTC)).timestamp()
        if ts <= limit:
            out.append(ts / DAY)
    out.sort()
    return out


def split_gap(gaps: Sequence[float]) -> float:
    """The gap (days) below which contacts belong to one episode.

    Contact gaps of a bursty person form two populations on the log scale: the short
    gaps inside an episode and the long ones between episodes. The split is the
    threshold that best separates the sorted log gaps into two classes (Otsu's rule:
    the largest between-class variance), taken only when the classes really are apart
    (the between-class share of the variance at least ``MIN_SEPARABILITY``: a single
    log-normal or exponential population reaches about 0.65) and at the geometric middle
    of the two gaps either side, clamped to 0.5..10 days. Gaps under half a day count as
    half a day (they merge whatever the split), so the spread among minutes and hours
    does not pull the split down. Otherwise a day."""
    floor = math.log(MIN_SPLIT_DAYS)
    logs = sorted(max(math.log(g), floor) for g in gaps if g > 0)
    n = len(logs)
    if n < 3 or logs[0] >= math.log(MAX_SPLIT_DAYS):
        return DEFAULT_SPLIT_DAYS
    total = sum(logs)
    grand = total / n
    spread = sum((x - grand) ** 2 for x in logs)
    if spread <= 1e-12:
        return DEFAULT_SPLIT_DAYS
    best, at, low = 0.0, -1, 0.0
    ceiling = math.log(MAX_SPLIT_DAYS)
    for i in range(n - 1):
        low += logs[i]
        if logs[i] > ceiling:
            break
        if logs[i + 1] <= logs[i]:
            continue
        a = i + 1
        between = a * (n - a) / n * ((total - low) / (n - a) - low / a) ** 2
        if between > best:
            best, at = between, i
    if at < 0 or best / spread < MIN_SEPARABILITY:
        return DEFAULT_SPLIT_DAYS
    split = math.exp((logs[at] + logs[at + 1]) / 2)
    return min(max(split, MIN_SPLIT_DAYS), MAX_SPLIT_DAYS)


def gap_stats(days: Sequence[float]) -> GapStats:
    """Episodes and weighted log-gap statistics of sorted epoch days."""
    if not days:
        return GapStats(0, 0, 0.0, 0.0, 0.0, 0.0, math.nan)
    raw = [b - a for a, b in zip(days, days[1:], strict=False)]
    split = split_gap(raw)
    starts, ends, sizes = [days[0]], [days[0]], [1]
    for t, gap in zip(days[1:], raw, strict=True):
        if gap < split:
            ends[-1] = t
            sizes[-1] += 1
        else:
            starts.append(t)
            ends.append(t)
            sizes.append(1)
    m = len(starts) - 1
    total = mean = square = longest = drift = 0.0
    if m > 0:
        longest = max(starts[j + 1] - ends[j] for j in range(max(m - RECENT_GAPS, 0), m))
        decay = 0.5 ** (1.0 / HALF_LIFE_EPISODES)
        logs = [math.log(max(starts[j + 1] - ends[j], split)) for j in range(m)]
        w = 1.0
        for x in reversed(logs):
            total += w
            mean += w * x
            w *= decay
        mean /= total
        above = 0.0
        w = 1.0
        for x in reversed(logs):
            if x > mean:
                square += w * (x - mean) ** 2
                above += w
            w *= decay
        square = square / above if above > 0 else 0.0
        mean += _slowing(logs, decay=decay)
        drift = _drift(logs)
    return GapStats(
        contacts=len(days),
        episodes=len(starts),
        mean_episode_size=len(days) / len(starts),
        weight=total,
        mean_log=mean,
        var_log=square,
        last=days[-1],
        longest_recent=longest,
        drift_var=drift,
    )


def _drift(logs: Sequence[float]) -> float:
    """How much the person's pace itself wanders (a rate that is not constant: busy
    months, quiet ones): the variance between the mean log gaps of consecutive blocks of
    ``DRIFT_BLOCK`` episodes beyond what the scatter within blocks explains (a random
    effect, the classic one-way ANOVA estimate, never negative). The next gap's centre is
    uncertain by that much even with a long history; a metronome, however slow, has 0."""
    m = len(logs)
    blocks = m // DRIFT_BLOCK
    if blocks < 2:
        return 0.0
    start = m - blocks * DRIFT_BLOCK  # blocks end at the latest gap
    means = [
        sum(logs[start + b * DRIFT_BLOCK : start + (b + 1) * DRIFT_BLOCK]) / DRIFT_BLOCK
        for b in range(blocks)
    ]
    grand = sum(means) / blocks
    between = sum((x - grand) ** 2 for x in means) / (blocks - 1)
    within = sum(
        (x - means[(j - start) // DRIFT_BLOCK]) ** 2
        for j, x in enumerate(logs[start:], start=start)
    ) / (blocks * (DRIFT_BLOCK - 1))
    return max(between - within / DRIFT_BLOCK, 0.0)


def _slowing(logs: Sequence[float], *, decay: float) -> float:
    """How much longer the next gap is likely to be than the weighted mean says, when the
    recent gaps are lengthening (least-squares slope of log gap over the last dozen
    episodes, shrunk towards zero for short runs, at most a doubling). A quickening
    rhythm adds nothing: reaching out sooner than the usual gap is not needed."""
    recent = list(logs[-12:])
    m = len(recent)
    if m < 6:
        return 0.0
    xbar = (m - 1) / 2
    ybar = sum(recent) / m
    slope = sum((j - xbar) * (y - ybar) for j, y in enumerate(recent)) / sum(
        (j - xbar) ** 2 for j in range(m)
    )
    if slope <= 0:
        return 0.0
    # the weighted mean sits at the recency-weighted centre of the gaps; the next gap
    # comes one step after the last
    weights = [decay ** (len(logs) - 1 - j) for j in range(len(logs))]
    centre = sum(w * j for j, w in enumerate(weights)) / sum(weights)
    ahead = len(logs) - centre
    return min(slope * ahead * m / (m + 6), math.log(2.0))


def pooled_prior(stats: Iterable[GapStats], *, min_gaps: int = 3) -> Prior:
    """The empirical-Bayes prior: the median of the people's mean log gaps and a spread
    covering both how people differ and how much one person's gaps vary."""
    means, spreads = [], []
    for s in stats:
        if s.episodes - 1 >= min_gaps:
            means.append(s.mean_log)
            spreads.append(math.sqrt(s.var_log))
    if len(means) < 3:
        return Prior()
    centre = median(means)
    between = max(median(abs(m - centre) for m in means) * 1.4826, 0.1)  # robust sd
    within = max(median(spreads), MIN_SIGMA)
    # a person's mean log gap is drawn from N(centre, between^2) = N(mu, sigma^2 / kappa)
    kappa = min(max((within / between) ** 2, 0.2), 5.0)
    return Prior(mu=centre, sigma=within, kappa=kappa, nu=2.0)


def _phi(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def assess(
    stats: GapStats,
    *,
    prior: Prior,
    now_days: float,
    cadence_days: float | None = None,
) -> Assessment:
    """How overdue the next contact is, given their rhythm (or the user's cadence)."""
    silence = max(now_days - stats.last, 0.0) if stats.contacts else 0.0
    bursty = stats.mean_episode_size >= 1.8
    gaps = stats.episodes - 1
    if cadence_days is not None and cadence_days > 0:
        z = math.log(max(silence, 1e-3) / cadence_days) / CADENCE_SIGMA
        return Assessment(
            overdue=_phi(z + 1.645),  # 0.95 at the cadence itself
            silence_days=silence,
            usual_gap_days=cadence_days,
            spread=CADENCE_SIGMA,
            bursty=bursty,
            from_cadence=True,
            learned_from=gaps,
        )
    n = stats.weight
    # the spread: their own scatter pooled with the typical within-person spread (nu
    # pseudo-gaps); it does not grow because their rhythm is unlike the others' (a yearly
    # friend is not irregular for being yearly): the priors on the mean and the spread
    # are independent, the mean's prior variance being how people differ
    var = (prior.nu * prior.sigma**2 + n * stats.var_log) / (prior.nu + n)
    between = prior.sigma**2 / prior.kappa
    precision = 1.0 / between + n / var
    mu = (prior.mu / between + n * stats.mean_log / var) / precision
    # ... and the pace's own wandering: the current rate may be off their average
    spread = max(math.sqrt(var + stats.drift_var + 1.0 / precision), MIN_SIGMA)
    overdue = _phi((math.log(max(silence, 1e-3)) - mu) / spread) if stats.contacts else 0.0
    # in words: their own typical gap once there are a few, the pooled guess before
    usual = stats.mean_log if gaps >= 3 else mu
    return Assessment(
        overdue=overdue,
        silence_days=silence,
        usual_gap_days=math.exp(usual),
        spread=spread,
        bursty=bursty,
        from_cadence=False,
        learned_from=gaps,
        had_before_days=stats.longest_recent,
    )
