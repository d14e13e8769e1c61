"""`kith prune`, `kith export`, `kith import-export` and `kith user delete`: retention and
your data, as thin shells over :mod:`app.jobs.prune`, :mod:`app.jobs.export`,
:mod:`app.jobs.import_export` and :mod:`app.storage.accounts` (registered on the `kith`
command by :func:`register`)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer


def register(cli: typer.Typer, user_cli: typer.Typer) -> None:
    from app.cli import _fail, _settings, _user_id  # the database layers load on first use

    @cli.command("prune")
    def prune_cmd(
        older_than: Annotated[
            int | None,
            typer.Option("--older-than", min=1, help="Days (default: KITH_RETENTION_DAYS)"),
        ] = None,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Count what would go; delete nothing")
        ] = False,
        user: Annotated[str | None, typer.Option("--user", help="Only this user")] = None,
    ) -> None:
        """Delete items published more than N days ago (saved items, items the ranker
        needs and followed threads' posts stay); tombstoned, so they never come back."""
        from app.db import get_engine, upgrade_database
        from app.errors import AppError
        from app.jobs.prune import prune

        settings = _settings()
        upgrade_database(settings.database_url)
        days = older_than if older_than is not None else settings.retention_days
        if days <= 0:
            raise _fail(
                "invalid_input", "KITH_RETENTION_DAYS=0 turns pruning off; give --older-than"
            )
        try:
            report = prune(
                get_engine(settings.database_url),
                days=days,
                now=datetime.now(UTC),
                user_name=user,
                dry_run=dry_run,
            )
        except AppError as exc:
            raise _fail(exc.code, exc.message) from None
        typer.echo(report.line())

    @cli.command("export")
    def export_cmd(
        user: Annotated[str, typer.Option("--user")],
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="Write here instead of stdout")
        ] = None,
    ) -> None:
        """Write all of a user's data as one JSON document (no tokens or secrets)."""
        from app.db import get_engine, session_scope, upgrade_database
        from app.jobs.export import export_chunks

        settings = _settings()
        upgrade_database(settings.database_url)
        engine = get_engine(settings.database_url)
        with session_scope(engine) as session:
            user_id = _user_id(session, user)
        out = output.open("wb") if output else sys.stdout.buffer
        try:
            for chunk in export_chunks(engine, user_id=user_id, now=datetime.now(UTC)):
                out.write(chunk)
        finally:
            if output:
                out.close()
            else:
                out.flush()

    @cli.command("import-export")
    def import_export_cmd(
        file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
        user: Annotated[str, typer.Option("--user", help="An empty account to restore into")],
    ) -> None:
        """Restore a `kith export` file into an empty account (new ids; tokens not
        included: a Mastodon account with one comes back paused)."""
        from sqlalchemy.exc import SQLAlchemyError

        from app.db import get_engine, session_scope, upgrade_database
        from app.errors import AppError
        from app.jobs.import_export import import_export

        settings = _settings()
        upgrade_database(settings.database_url)
        try:
            document = json.loads(file.read_bytes())
        except (ValueError, UnicodeDecodeError) as exc:
            raise _fail("invalid_input", f"{file} is not JSON: {exc}") from None
        try:
            with session_scope(get_engine(settings.database_url)) as session:
                report = import_export(
                    session,
                    user_id=_user_id(session, user),
                    document=document,
                    now=datetime.now(UTC),
                )
        except AppError as exc:
            raise _fail(exc.code, exc.message) from None
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", exc)).splitlines()[0]
            raise _fail("invalid_input", f"the export could not be stored: {reason}") from None
        typer.echo(report.line())

    @user_cli.command("delete")
    def user_delete(
        name: str,
        yes: Annotated[
            bool, typer.Option("--yes", help="Really delete the account and all its data")
        ] = False,
    ) -> None:
        """Delete a user and everything they own (sources, items, people, contact ...)."""
        from app.db import get_engine, session_scope, upgrade_database
        from app.storage.accounts import delete_account

        settings = _settings()
        upgrade_database(settings.database_url)
        if not yes:
            raise _fail(
                "confirmation_required",
                f"this deletes user {name!r} and everything they own for good; "
                "add --yes to go ahead",
                2,
            )
        with session_scope(get_engine(settings.database_url)) as session:
            counts = delete_account(session, user_id=_user_id(session, name))
        typer.echo(" ".join(f"{table}={n}" for table, n in sorted(counts.items())))
        typer.echo(f"deleted user {name}", err=True)
