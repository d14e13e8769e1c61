"""Who: a person's learned affinity (a posterior of "engages when looking", clicks over
expected clicks, with a prior from how you know them refitted across people by
empirical Bayes), its words, the fading more/less, and the weight the API shows."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
from sklearn.linear_model import LogisticRegression

from ranking.features import DAY, person_features
from ranking.learning import DEFAULT_PRIOR, PRIOR_WORDS, PersonStat, PersonWeight, logit
from ranking.types import ENGAGEMENTS, Event, PersonInfo, Reason

if TYPE_CHECKING:
    from ranking.model import Ranker


def count(ranker: Ranker, events: list[Event], *, looked: float, now: datetime) -> None:
    """Move a person's counts; older counts fade (``memory_half_life_days``) so the
    model follows people you are drifting towards or away from."""
    person_id = next((e.person_id for e in events if e.person_id is not None), None)
    if person_id is None:
        return
    stat = ranker.people_.setdefault(person_id, PersonStat())
    if stat.at is not None and now > stat.at:
        fade = 0.5 ** ((now - stat.at).total_seconds() / DAY / ranker.memory_half_life_days)
        stat.pos, stat.exposure = stat.pos * fade, stat.exposure * fade
    stat.at = max(now, stat.at) if stat.at is not None else now
    actions = {e.action for e in events}
    pos = exposure = 0.0
    if actions & set(ENGAGEMENTS):
        pos, exposure = 1.0, 1.0
        stat.opens += 1
    elif "hide" in actions:
        exposure = 2.0
    elif "seen" in actions:
        exposure = looked
    if "like" in actions:
        pos, exposure, stat.likes = pos + 0.5, exposure + 0.5, stat.likes + 1
    if "reply" in actions:
        pos, exposure, stat.replies = pos + 0.5, exposure + 0.5, stat.replies + 1
    stat.hides += "hide" in actions
    for e in events:
        if e.action == "more":
            pos, exposure = pos + 2.0, exposure + 2.0
            stat.more = [*stat.more[-4:], e.at]
        elif e.action == "less":
            exposure += 2.0
            stat.less = [*stat.less[-4:], e.at]
    stat.pos += pos
    stat.exposure += exposure
    ranker.pos_ += pos
    ranker.exposure_ += exposure


def refit_prior(ranker: Ranker, people: Sequence[PersonInfo], *, now: datetime) -> None:
    """Empirical Bayes: fit the prior's weights on people seen often enough."""
    ranker.since_refit_ = 0
    rows, ys, ws = [], [], []
    for p in people:
        stat = ranker.people_.get(p.person_id)
        if stat is None or stat.exposure < 2.0:
            continue
        feats = person_features(p, now=now)
        pos = min(stat.pos, stat.exposure)
        rows += [feats, feats]
        ys += [1, 0]
        ws += [pos + 1e-6, stat.exposure - pos + 1e-6]
    if len(rows) < 20:
        return
    names = sorted(DEFAULT_PRIOR)
    x = np.array([[r.get(n, 0.0) for n in names] for r in rows])
    model = LogisticRegression(C=1.0)
    model.fit(x, np.array(ys), sample_weight=np.array(ws))
    ranker.prior_coef_ = {n: float(c) for n, c in zip(names, model.coef_[0], strict=True)}
    ranker.prior_intercept_ = float(model.intercept_[0])


def prior(
    ranker: Ranker, person: PersonInfo | None, *, now: datetime
) -> tuple[float, list[Reason]]:
    """The prior log-odds of engaging with a person, and its words."""
    if not hasattr(ranker, "people_"):
        ranker._init_state()
    intercept = ranker.prior_intercept_
    base = logit(ranker.global_rate())
    if person is None:
        return (intercept if intercept is not None else base), []
    parts = [
        (name, ranker.prior_coef_.get(name, 0.0) * value)
        for name, value in person_features(person, now=now).items()
    ]
    total = (intercept if intercept is not None else base) + sum(v for _, v in parts)
    name = person.name or "them"
    words = [PRIOR_WORDS[n].format(name=name) for n, v in sorted(parts, key=lambda p: -abs(p[1]))]
    text = "; ".join(words[:2]) if words else f"little is known of {name} yet"
    return total, [Reason("relationship", text, total - base)]


def affinity(
    ranker: Ranker, person: PersonInfo | None, *, now: datetime
) -> tuple[float, list[Reason]]:
    """A person's learned affinity over the base rate (log-odds), and its words: the
    relationship prior, then what your feedback says."""
    prior, reasons = ranker._prior(person, now=now)
    base = logit(ranker.global_rate())
    stat = ranker.people_.get(person.person_id) if person is not None else None
    if stat is None or stat.exposure <= 0:
        return prior - base, reasons
    p0 = 1 / (1 + math.exp(-prior))
    m = ranker.prior_strength
    posterior = logit((stat.pos + m * p0) / (stat.exposure + m))
    name = person.name if person is not None and person.name else "them"
    evidence = posterior - prior
    if evidence >= 0:
        verbs = ["open"] + (["like"] if stat.likes else []) + (["reply to"] if stat.replies else [])
        how = ", ".join(verbs[:-1]) + (" and " if len(verbs) > 1 else "") + verbs[-1]
        text = f"you often {how} {name}’s posts"
    elif stat.hides:
        text = f"you seldom open {name}’s posts and hid some"
    else:
        text = f"you seldom open {name}’s posts"
    return posterior - base, [*reasons, Reason("affinity", text, evidence)]


def weight(ranker: Ranker, person: PersonInfo, *, now: datetime) -> PersonWeight:
    """A person's weight as the weights API shows it."""
    learned, _ = ranker.affinity(person, now=now)
    recent = sum(r.value for r in ranker._recent(person, now=now))
    manual = person.manual_weight
    return PersonWeight(
        learned=round(learned, 4),
        manual=manual,
        recent=round(recent, 4),
        effective=round(learned + (manual or 0.0) * ranker.manual_scale + recent, 4),
        pinned=person.pinned,
        muted=person.muted,
        exposure=round(ranker.people_.get(person.person_id, PersonStat()).exposure, 3),
    )


def recent(ranker: Ranker, person: PersonInfo, *, now: datetime) -> list[Reason]:
    stat = ranker.people_.get(person.person_id)
    if stat is None:
        return []
    out = []
    name = person.name or "them"
    more = sum(
        0.5 ** (max((now - at).total_seconds(), 0.0) / DAY / ranker.more_half_life_days)
        for at in stat.more
    )
    if more > 0.05:
        value = ranker.more_boost * min(more, 2.0)
        out.append(Reason("more", f"you asked for more from {name}", value))
    less = sum(
        0.5 ** (max((now - at).total_seconds(), 0.0) / DAY / ranker.less_half_life_days)
        for at in stat.less
    )
    if less > 0.05:
        value = -ranker.less_penalty * min(less, 2.0)
        out.append(Reason("less", f"you asked for less from {name} (fading)", value))
    return out


def person_part(
    ranker: Ranker, person: PersonInfo | None, *, now: datetime
) -> tuple[float, list[Reason], list[Reason]]:
    """A person's affinity and its reasons, then their manual and recent reasons."""
    affinity, reasons = ranker.affinity(person, now=now)
    offsets: list[Reason] = []
    if person is not None:
        if person.manual_weight:
            value = person.manual_weight * ranker.manual_scale
            verb = "more" if value > 0 else "less"
            name = person.name or "them"
            offsets.append(Reason("manual", f"you set: listen {verb} to {name}", value))
        offsets.extend(ranker._recent(person, now=now))
    return affinity, reasons, offsets
