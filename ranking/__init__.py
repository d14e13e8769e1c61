"""Pure learning and scoring: features, the per-person model, explanations.

No database, no network, no FastAPI, no SQLModel. Until the ranking issue lands the
timeline is ordered newest first by :mod:`app`; this package holds the shared types.
"""
