"""`haocha notify`: notifications (通知) to the counties and the city — send, the working morning, a test, the
outbox. docs/notifications.md."""

from __future__ import annotations

import typer

from haocha_cli.commands._common import FORMAT_OPTION, Format, render, say, state

app = typer.Typer(help="Notifications (通知) to the counties and the city: WeCom and DingTalk robots, e-mail, "
                  "webhooks (docs/notifications.md).", no_args_is_help=True)

QUIET_OPTION = typer.Option(False, "--quiet", "-q", help="For cron: print nothing when everything went out, and warn "
                            "only of messages that failed for the first time.")


def _report(delivery, quiet: bool) -> None:
    warning = delivery.warning()
    if warning and (delivery.first_failures or not quiet):
        say(warning)
    if not quiet:
        if delivery.messages:
            say(f"sent {delivery.messages} message(s), carrying {delivery.sent} notification(s)")
        elif not warning:
            say("nothing to send")


@app.command("send")
def send_command(ctx: typer.Context, quiet: bool = QUIET_OPTION) -> None:
    """Send what waits in the outbox: new messages and those that failed before.

    A send that fails is recorded on the message (attempts, last error) and tried again at the next run;
    the command warns on stderr (with --quiet: only of a message's first failure, so that cron mails once)
    and still exits 0. Run it from cron every few minutes (docs/cron.md).

    Example:

        haocha notify send --quiet
    """
    from haocha_cli import notify

    c = state(ctx).context()
    c.require_city("sending notifications")
    notify.check_channels(c)
    _report(notify.deliver_pending(c), quiet)


@app.command("daily")
def daily_command(
    ctx: typer.Context,
    force: bool = typer.Option(False, "--force", help="Send on a non-working day too."),
    quiet: bool = QUIET_OPTION,
) -> None:
    """The working morning's messages: each county its overdue and due-soon cases, the city a summary.

    A county with neither gets nothing that day. Each target gets one morning message a day: running it
    again sends nothing new. On a non-working day (China's official calendar and the bureau's own entries)
    it sends nothing unless --force.

    Example:

        haocha notify daily --quiet
    """
    from haocha_cli import notify

    c = state(ctx).context()
    c.require_city("sending the morning notifications")
    result = notify.queue_daily(c, force=force)
    if not result["workday"] and not force:
        if not quiet:
            say(f"{result['day']} is not a working day: nothing sent (--force sends anyway)")
        return
    if not quiet:
        if result["queued"]:
            say(f"{result['day']}: queued for {', '.join(result['queued'])}")
        if result["already"]:
            say(f"{result['day']}: already queued before for {', '.join(result['already'])}")
        if result["quiet"]:
            say(f"{result['day']}: nothing overdue or due soon in {', '.join(result['quiet'])}")
    _report(notify.deliver_pending(c), quiet)


@app.command("test")
def test_command(
    ctx: typer.Context,
    county: str | None = typer.Option(None, "--county", help="The county whose channels get the test, e.g. 370213."),
    city: bool = typer.Option(False, "--city", help="The city's channels (notify.city) instead."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Send a test message now to every channel of a county (or of the city).

    Nothing is queued: a channel that fails is an error (exit 1) naming it, its URL masked.

    Example:

        haocha notify test --county 370213
    """
    from haocha_cli import notify

    c = state(ctx).context()
    rows = notify.send_test(c, county, city)
    render(rows, fmt, columns=["target", "channel", "sent", "error"])


@app.command("list")
def list_command(
    ctx: typer.Context,
    status: str | None = typer.Option(None, "--status", help="all (the default), waiting (pending or failed), "
                                      "pending, sent, failed or cancelled."),
    county: str | None = typer.Option(None, "--county", help="One county's messages (a county sees its own only)."),
    limit: int = typer.Option(50, "--limit", min=1, max=100_000, help="At most this many, newest first."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """The outbox: every message, its status, attempts and last error.

    Example:

        haocha notify list --status waiting
    """
    from haocha_cli import notify

    c = state(ctx).context()
    rows = notify.list_notifications(c, status, county, limit)
    render(rows, fmt, columns=["id", "kind", "target", "case", "status", "attempts", "last_error", "created_at",
                               "sent_at", "title"])
