"""`kith digest send`: the e-mail digests that are due, sent now (what the scheduler does
every few minutes), for everyone or one user."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer


def register(cli: typer.Typer) -> None:
    digest_cli = typer.Typer(help="The digest by e-mail.", no_args_is_help=True)
    cli.add_typer(digest_cli, name="digest")

    @digest_cli.command("send")
    def send(
        user: Annotated[str | None, typer.Option("--user", help="Only this user's")] = None,
        now: Annotated[
            bool, typer.Option("--now", help="Send the current period's even before its hour")
        ] = False,
    ) -> None:
        """Send the digest mails that are due (once per user and period, as ever)."""
        from app import cli as base
        from app.jobs.digest_mail import send_due_digests

        settings = base._settings()
        if settings.smtp_url is None:
            raise base._fail(
                "smtp_not_configured", "set KITH_SMTP_URL (smtp://user:pass@host:587)", 2
            )
        base.upgrade_database(settings.database_url)
        engine = base.get_engine(settings.database_url)
        user_id = None
        if user is not None:
            with base.session_scope(engine) as session:
                user_id = base._user_id(session, user)
        report = send_due_digests(engine, settings, datetime.now(UTC), user_id=user_id, force=now)
        typer.echo(f"sent={report.sent} failed={report.failed} skipped={report.skipped}")
        if report.failed:
            raise typer.Exit(1)
