"""The `kith` command line (typer). Each command is a thin shell over app functions."""

from __future__ import annotations

import logging
import sys
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from app.errors import AppError
from ingest.errors import IngestError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlmodel import Session

    from app.config import Settings

# Start-up: `kith --help` and every command load only what they use. The database,
# settings and storage layers (SQLAlchemy, SQLModel, pydantic-settings, aiohttp) are
# imported on first use below, and commands import their jobs (FastAPI, scikit-learn)
# inside themselves. Check with `python -X importtime -c "import app.cli"`.


class _Lazy:
    """A module imported on first attribute access."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(import_module(self._name), attr)


user_store: Any = _Lazy("app.storage.users")


def get_settings() -> Settings:
    from app.config import get_settings as settings

    return settings()


def get_engine(url: str) -> Engine:
    from app.db import get_engine as engine

    return engine(url)


def session_scope(engine: Engine) -> AbstractContextManager[Session]:
    from app.db import session_scope as scope

    return scope(engine)


def upgrade_database(url: str) -> None:
    """Every command's start-up: the key set of secrets at rest (app.secrets), the
    migrations (0017 encrypts plain-text secrets with it), then one check that the key
    opens every stored secret: a wrong key stops here, naming the setting."""
    from app import secrets
    from app.db import upgrade_database as upgrade

    keys = secrets.install(get_settings())
    upgrade(url)
    try:
        secrets.check_keys(get_engine(url), keys)
    except secrets.KeyMismatch as exc:
        raise _fail(exc.code, exc.message, 2) from None


cli = typer.Typer(
    help="Kith: a people-centred feed service.", no_args_is_help=True, add_completion=False
)
user_cli = typer.Typer(help="Manage users.", no_args_is_help=True)
source_cli = typer.Typer(help="Manage sources.", no_args_is_help=True)
db_cli = typer.Typer(help="Database maintenance.", no_args_is_help=True)
cli.add_typer(user_cli, name="user")
cli.add_typer(source_cli, name="source")
cli.add_typer(db_cli, name="db")

# what `kith serve` passes to uvicorn besides the app, host and port; bench/api_app.py
# starts its plain reference endpoint through run_server too, so the two are served alike
UVICORN_OPTIONS: dict[str, Any] = {"log_level": "info", "proxy_headers": False}
# each accepted connection's kernel send buffer: a timeline page (50 items of 1-3 KB of
# HTML, about 140 KB) goes to the kernel in one write, where the default buffer (16 KB,
# grown by autotuning) left uvicorn waiting to be woken to write the rest
SEND_BUFFER_BYTES = 1 << 20


def run_server(app: Any, *, host: str, port: int) -> None:
    """Serve ``app`` with uvicorn (one process) as ``kith serve`` does."""
    import socket

    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, **UVICORN_OPTIONS)
    sock = config.bind_socket()
    # set on the listening socket: the connections it accepts inherit it
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
    uvicorn.Server(config).run(sockets=[sock])


def _fail(code: str, message: str, exit_code: int = 1) -> typer.Exit:
    typer.echo(f"error: {code}: {message}", err=True)
    return typer.Exit(exit_code)


def _user_id(session: object, name: str) -> int:
    user = user_store.get_user_by_name(session, name=name)  # type: ignore[arg-type]
    if user is None or user.id is None:
        raise _fail("not_found", f"no user named {name!r}; create one with `kith user add {name}`")
    return user.id


def _settings() -> Settings:
    for noisy in ("alembic", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return get_settings()


@cli.command("rotate-key")
def rotate_key() -> None:
    """Re-encrypt every stored secret with the current key (KITH_ENCRYPTION_KEY, else
    KITH_SECRET_KEY); the previous key goes in KITH_ENCRYPTION_OLD_KEYS for this run."""
    from app import secrets

    settings = _settings()
    upgrade_database(settings.database_url)
    keys = secrets.current()
    count = secrets.rotate(get_engine(settings.database_url), keys)
    typer.echo(f"rotated={count} key={keys.origin}")


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply every database migration."""
    settings = _settings()
    upgrade_database(settings.database_url)
    typer.echo(f"database at {settings.database_url} is up to date")


@user_cli.command("add")
def user_add(
    name: str,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read a password from standard input")
    ] = False,
    admin: Annotated[bool, typer.Option("--admin", help="Give the user the admin role")] = False,
) -> None:
    """Create a user and print a new API token as the last line."""
    settings = _settings()
    upgrade_database(settings.database_url)
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    if password_stdin and not password:
        raise _fail("invalid_input", "an empty password was given on standard input", 2)
    try:
        with session_scope(get_engine(settings.database_url)) as session:
            user = user_store.create_user(session, name=name, password=password, is_admin=admin)
            assert user.id is not None
            _, token = user_store.create_token(session, user_id=user.id)
    except AppError as exc:
        raise _fail(exc.code, exc.message) from None
    typer.echo(f"created user {name}; API token (shown once):", err=True)
    typer.echo(token)


@source_cli.command("add")
def source_add(
    url: str,
    user: Annotated[str, typer.Option("--user", help="The user who subscribes")],
    kind: Annotated[
        str | None,
        typer.Option("--kind", help="feed | comments | mastodon | bluesky (found if omitted)"),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token", help="Mastodon access token, or a Bluesky app password (own account)"
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option("--check/--no-check", help="Fetch the URL first; a site URL finds its feeds"),
    ] = True,
) -> None:
    """Subscribe a user to a source; a refused URL exits non-zero with the error code."""
    import asyncio

    from app.jobs.subscriptions import add_source, default_kind, discover

    settings = _settings()
    if kind not in (None, "feed", "comments", "mastodon", "bluesky"):
        raise _fail("invalid_input", "--kind is one of feed, comments, mastodon, bluesky", 2)
    upgrade_database(settings.database_url)
    policy = settings.fetch_policy()
    try:
        found_url, found_kind = url, kind or default_kind(url, token)
        if check and not token:
            (first, *others) = asyncio.run(discover(url, policy))
            found_url, found_kind = first.url, kind or first.kind
            for other in others:
                typer.echo(f"also found: {other.url} ({other.kind})", err=True)
        with session_scope(get_engine(settings.database_url)) as session:
            source = add_source(
                session,
                user_id=_user_id(session, user),
                url=found_url,
                kind=found_kind,
                token=token,
                guard=policy.guard,
                now=datetime.now(UTC),
            )
    except (AppError, IngestError) as exc:
        raise _fail(exc.code, exc.message) from None
    typer.echo(f"source {source.id} added: {source.url} ({source.kind})")


@cli.command("import-opml")
def import_opml_cmd(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    user: Annotated[str, typer.Option("--user")],
) -> None:
    """Subscribe a user to every feed in an OPML file."""
    from app.jobs.subscriptions import import_opml

    settings = _settings()
    upgrade_database(settings.database_url)
    try:
        with session_scope(get_engine(settings.database_url)) as session:
            result = import_opml(
                session,
                user_id=_user_id(session, user),
                content=file.read_bytes(),
                guard=settings.fetch_policy().guard,
                now=datetime.now(UTC),
            )
    except IngestError as exc:
        line = getattr(exc, "line", None)
        where = f" (line {line})" if line else ""
        raise _fail(exc.code, exc.message + where) from None
    for url, code, message in result.skipped:
        typer.echo(f"skipped {url}: {code}: {message}", err=True)
    typer.echo(f"imported={len(result.added)} skipped={len(result.skipped)}")


@cli.command("export-opml")
def export_opml_cmd(user: Annotated[str, typer.Option("--user")]) -> None:
    """Print a user's sources as OPML."""
    from app.jobs.subscriptions import export_opml

    settings = _settings()
    with session_scope(get_engine(settings.database_url)) as session:
        sys.stdout.write(export_opml(session, user_id=_user_id(session, user)).decode("utf-8"))
        sys.stdout.write("\n")


@cli.command("import-vcard")
def import_vcard_cmd(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    user: Annotated[str, typer.Option("--user")],
) -> None:
    """Import people from an address book (a vCard file); a refused file exits non-zero."""
    from app.people.vcard import import_vcards
    from ingest.vcard import MAX_BYTES

    settings = _settings()
    upgrade_database(settings.database_url)
    with file.open("rb") as handle:
        content = handle.read(MAX_BYTES + 1)  # one byte over the cap is enough to refuse
    try:
        with session_scope(get_engine(settings.database_url)) as session:
            report = import_vcards(
                session, user_id=_user_id(session, user), content=content, now=datetime.now(UTC)
            )
    except AppError as exc:
        raise _fail(exc.code, exc.message) from None
    for skipped in report.skipped:
        typer.echo(f"skipped {skipped.code}: {skipped.message}", err=True)
    typer.echo(
        f"created={len(report.created)} updated={len(report.updated)} skipped={len(report.skipped)}"
    )


@cli.command("ingest")
def ingest_cmd(
    once: Annotated[
        bool, typer.Option("--once", help="One pass over due sources, then exit")
    ] = False,
    all_: Annotated[bool, typer.Option("--all", help="Every source, due or not")] = False,
) -> None:
    """Refresh due sources; prints sources=N new_items=N updated=N errors=N seconds=S."""
    import asyncio

    from app.jobs.refresh import refresh_due
    from app.jobs.scheduler import refresh_options, run_scheduler
    from app.jobs.scoring import rank_all_pending

    settings = _settings()
    upgrade_database(settings.database_url)
    if once:
        engine = get_engine(settings.database_url)
        if sys.stderr.isatty():  # a progress bar on a terminal; plain output otherwise
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                task = bar.add_task("refreshing sources", total=None)
                stats = refresh_due(
                    engine,
                    refresh_options(settings),
                    include_all=all_,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
        else:
            stats = refresh_due(engine, refresh_options(settings), include_all=all_)
        rank_all_pending(engine, now=datetime.now(UTC))
        typer.echo(stats.line())
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(run_scheduler(settings, asyncio.Event()))


@cli.command("serve")
def serve(
    demo: Annotated[bool, typer.Option("--demo", help="Seed a demo user and sample feeds")] = False,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    scheduler: Annotated[
        bool,
        typer.Option(
            "--scheduler/--no-scheduler",
            help="Schedule refreshes (and, with no KITH_BROKER_URL, run them here)",
        ),
    ] = True,
    no_ingest: Annotated[
        bool, typer.Option("--no-ingest", help="API and reader only (same as --no-scheduler)")
    ] = False,
) -> None:
    """Serve the API and web reader, with in-process ingest; migrates the database first."""
    from app.main import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = _settings()
    upgrade_database(settings.database_url)
    if demo:
        from app.demo import DemoServer, seed_demo, seed_demo_contacts
        from app.jobs.refresh import refresh_due
        from app.jobs.scheduler import refresh_options
        from app.jobs.scoring import rank_all_pending

        server = DemoServer().start()
        settings = settings.model_copy(
            update={"allowed_hosts": [*settings.allowed_hosts, f"{server.host}:{server.port}"]}
        )
        seed = seed_demo(
            get_engine(settings.database_url),
            base_url=server.base_url,
            guard=settings.fetch_policy().guard,
        )
        stats = refresh_due(get_engine(settings.database_url), refresh_options(settings))
        seed_demo_contacts(get_engine(settings.database_url))
        rank_all_pending(get_engine(settings.database_url), now=datetime.now(UTC))
        typer.echo(f"demo feeds ingested: {stats.line()}")
        typer.echo(f"demo login: user {seed.user!r}, password {seed.password!r}")
        typer.echo(f"demo API token: {seed.token}")
    typer.echo(f"Kith is serving at http://{host}:{port}/  (API docs: http://{host}:{port}/docs)")
    run_server(
        create_app(settings, run_scheduler_loop=scheduler and not no_ingest), host=host, port=port
    )


@cli.command("train")
def train(
    user: Annotated[str | None, typer.Option("--user", help="Only this user")] = None,
) -> None:
    """Retrain the ranking models now from all feedback, and rescore the timelines."""
    import time

    from app.jobs.scoring import retrain_all

    settings = _settings()
    upgrade_database(settings.database_url)
    engine = get_engine(settings.database_url)
    ids = None
    if user is not None:
        with session_scope(engine) as session:
            ids = [_user_id(session, user)]
    started = time.monotonic()
    reports = retrain_all(engine, now=datetime.now(UTC), user_ids=ids)
    for r in reports:
        typer.echo(f"user={r.user_id} events={r.events} items_scored={r.items}")
    typer.echo(f"models={len(reports)} seconds={time.monotonic() - started:.2f}")


@cli.command("worker")
def worker(
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, help="Tasks run at once by this process")
    ] = 2,
    metrics_port: Annotated[
        int | None, typer.Option("--metrics-port", help="Serve Prometheus metrics on this port")
    ] = None,
) -> None:
    """Run refresh and ranking tasks from the broker (KITH_BROKER_URL) until SIGTERM."""
    import asyncio
    import os

    from app.jobs.worker import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = _settings()
    if not settings.broker_url:
        raise _fail("no_broker", "set KITH_BROKER_URL (e.g. redis://127.0.0.1:6379/0)", 2)
    upgrade_database(settings.database_url)
    if metrics_port is not None:
        from app.metrics import serve_metrics

        serve_metrics(metrics_port)
    left = asyncio.run(run_worker(settings, concurrency=concurrency, stop=asyncio.Event()))
    if left:  # tasks still running past the grace period: their leases are released
        os._exit(1)


@cli.command("scheduler")
def scheduler_cmd() -> None:
    """Only the scheduler: claim due sources in leased batches and enqueue them (with
    KITH_BROKER_URL) or run them here (without), plus the ranking tasks."""
    import asyncio
    import signal

    from app.jobs.scheduler import run_scheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = _settings()
    upgrade_database(settings.database_url)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_scheduler(settings, stop)

    asyncio.run(run())


from app.cli_data import register as _register_data_commands  # noqa: E402

_register_data_commands(cli, user_cli)  # prune, export, import-export, user delete

from app.cli_digest import register as _register_digest_commands  # noqa: E402

_register_digest_commands(cli)  # digest send


def main() -> None:
    cli()
