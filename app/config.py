"""Settings: one pydantic-settings class, ``KITH_*`` environment variables.

Read through :func:`get_settings` (cached); tests clear the cache or override the
FastAPI dependency. Libraries (``ingest``, ``ranking``) receive plain values.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from ingest.atproto_identity import IdentityOptions
from ingest.bluesky import BlueskyOptions
from ingest.fetch import FetchPolicy
from ingest.guard import GuardPolicy


class Settings(BaseSettings):
    """Every setting Kith reads, with its default."""

    model_config = SettingsConfigDict(env_prefix="KITH_", extra="ignore")

    database_url: str = Field(
        "sqlite:///./kith.db",
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user@host/db",
    )
    broker_url: str | None = Field(
        None, description="Task-queue broker for scale-out workers; unset = in-process"
    )
    allow_private_networks: bool = Field(
        False, description="Let fetches reach loopback/private addresses (self-hosters, tests)"
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts (host or host:port) exempt from the private-address check",
    )
    secret_key: str | None = Field(
        None, description="Signs web sessions; unset = random per process (logins end on restart)"
    )
    encryption_key: str | None = Field(
        None,
        description="Encrypts secrets at rest (Mastodon tokens, app passwords): a Fernet key "
        "or a long passphrase; unset = derived from secret_key, else a key file",
    )
    encryption_old_keys: str | None = Field(
        None, description="Keys that still decrypt (JSON list or comma-separated): rotation"
    )
    encryption_key_file: str | None = Field(
        None,
        description="Where the generated key lives when neither key is set "
        "(default: kith.key beside the SQLite database)",
    )
    fetch_deadline_seconds: float = Field(30.0, description="Whole-request deadline per fetch")
    fetch_max_bytes: int = Field(10 * 1024 * 1024, description="Cap on decoded body bytes")
    fetch_max_redirects: int = Field(5, description="Redirect hops followed per fetch")
    fetch_concurrency: int = Field(20, description="Sources in flight at once")
    fetch_per_host: int = Field(
        4, ge=1, description="Requests in flight to one host at once, across all workers"
    )
    fetch_host_rate: float = Field(
        2.0, ge=0, description="Requests per second to one host, across all workers (0 = no cap)"
    )
    fetch_host_burst: int = Field(
        8, ge=1, description="Requests to one host allowed at once after a quiet spell"
    )
    parse_workers: int = Field(2, description="Parser processes (0 = parse in-process)")
    parse_budget_seconds: float = Field(15.0, description="Time budget to parse one feed")
    refresh_interval_minutes: int = Field(
        60, description="Gap between checks of a feed whose entries carry no dates"
    )
    comment_threads_per_source: int = Field(
        5, description="Comment threads of one feed's posts Kith follows by itself (0 = none)"
    )
    mastodon_backfill: int = Field(
        200, description="Statuses per stream read on a Mastodon source's first sync"
    )
    bluesky_appview: str = Field(
        "https://public.api.bsky.app",
        description="The Bluesky AppView public profiles are read from (no credentials go there)",
    )
    bluesky_plc_url: str = Field(
        "https://plc.directory", description="The PLC directory did:plc documents come from"
    )
    bluesky_backfill: int = Field(
        200, ge=1, description="Posts per stream read on a Bluesky source's first sync"
    )
    scheduler_tick_seconds: float = Field(
        30.0, description="How often the scheduler (`serve` or `scheduler`) looks for due sources"
    )
    batch_size: int = Field(25, ge=1, description="Sources per refresh task")
    lease_seconds: float = Field(
        300.0,
        gt=0,
        description="How long a worker holds a source's refresh; a lease that runs out "
        "(the worker died, the task was lost) makes the source due again",
    )
    queue_name: str = Field("kith", description="The Redis list the tasks travel through")
    metrics_token: str | None = Field(
        None, description="If set, GET /metrics needs 'Authorization: Bearer <token>'"
    )
    worker_grace_seconds: float = Field(
        30.0, description="On SIGTERM, how long a worker finishes its tasks before it gives up"
    )
    login_rate: str = Field(
        "10/minute",
        description="Login attempts allowed per client address and per user name "
        "(web reader), in the `limits` notation",
    )
    token_rate: str = Field("20/hour", description="API tokens a user may create")
    rate_limit_storage: str = Field(
        "memory://",
        description="Where rate-limit counts live: memory:// (one process) or "
        "redis://host:6379 (shared by API processes)",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins allowed to call the API from a browser (JSON list); empty: CORS off",
    )
    retention_days: int = Field(
        365,
        ge=0,
        description="Items published more than this many days ago are pruned once a day "
        "(saved items, items with feedback the ranker needs and thread posts stay); 0 = never",
    )
    retrain_hours: float = Field(
        6.0,
        gt=0,
        description="How often `serve` retrains the ranking models from scratch (between "
        "retrains they learn from each feedback as it comes)",
    )

    smtp_url: SecretStr | None = Field(
        None,
        description="Where digest mails go out: smtp://user:pass@host:587 (STARTTLS on 587, "
        "?starttls=off|on to change) or smtps://user:pass@host:465 (TLS); unset = no mail. "
        "A secret: never logged or shown",
    )
    smtp_from: str = Field("kith@localhost", description="The From address of digest mails")
    smtp_timeout_seconds: float = Field(30.0, gt=0, description="Deadline per SMTP command")
    public_url: str = Field(
        "http://localhost:8000",
        description="Kith's address as people reach it (the unsubscribe links in digest mails)",
    )
    digest_mail_attempts: int = Field(
        5, ge=1, description="SMTP attempts per digest mail (with backoff) before it is failed"
    )

    def bluesky_options(self) -> BlueskyOptions:
        """The plain values :mod:`ingest.bluesky` takes."""
        return BlueskyOptions(
            appview=self.bluesky_appview,
            identity=IdentityOptions(plc_url=self.bluesky_plc_url),
            backfill=self.bluesky_backfill,
        )

    def fetch_policy(self) -> FetchPolicy:
        """The plain-value policy :mod:`ingest.fetch` takes."""
        return FetchPolicy(
            guard=GuardPolicy(
                allow_private=self.allow_private_networks,
                allowed_hosts=frozenset(h.lower() for h in self.allowed_hosts),
            ),
            deadline_seconds=self.fetch_deadline_seconds,
            max_body_bytes=self.fetch_max_bytes,
            max_redirects=self.fetch_max_redirects,
            max_connections=max(self.fetch_concurrency, 1),
        )


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
