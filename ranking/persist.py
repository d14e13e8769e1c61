"""Saving and loading a ranker with the metadata it takes to trust it again.

A model is pickled (scikit-learn's own persistence) next to its feature-schema version
and the library versions that wrote it. Loading answers ``None`` instead of raising when
any of them differ or the bytes do not load: the caller retrains from the feedback,
which is the source of truth, so an upgrade never crashes on an old model.
"""

from __future__ import annotations

import pickle

import numpy as np
import scipy
import sklearn

from ranking.model import Ranker

# bump when features, their names or the meaning of the learned state change
SCHEMA_VERSION = 2  # 2: learned constants (share, story, age, exploration) and the floor


def library_version() -> str:
    return f"scikit-learn {sklearn.__version__}; numpy {np.__version__}; scipy {scipy.__version__}"


def dumps(ranker: Ranker) -> bytes:
    return pickle.dumps(ranker, protocol=pickle.HIGHEST_PROTOCOL)


def loads(payload: bytes, *, schema_version: int, library: str) -> Ranker | None:
    """The ranker in ``payload``, or None when it is from another schema or library
    version, or does not load (the caller then retrains)."""
    if schema_version != SCHEMA_VERSION or library != library_version():
        return None
    try:
        # our own bytes, written by dumps() into the user's row; never user input
        ranker = pickle.loads(payload)  # noqa: S301
    except Exception:  # any failure to load means retrain, never a crash
        return None
    return ranker if isinstance(ranker, Ranker) else None
