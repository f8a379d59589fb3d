"""`haocha staff`: the workbench's staff accounts (工作人员账号) — administrators only."""

from __future__ import annotations

import sys

import typer

from haocha_cli.commands._common import FORMAT_OPTION, Format, render, say, state

app = typer.Typer(help="Staff accounts of the workbench (工作人员账号): add, list, passwords, disable, enable.",
                  no_args_is_help=True)

PASSWORD_STDIN = typer.Option(False, "--password-stdin",
                              help="Read the password from the first line of standard input (for scripts).")


def _password(from_stdin: bool) -> str:
    """The new password: the first line of stdin, or asked twice at the terminal (never echoed)."""
    from haocha_cli.errors import InvalidInput

    if from_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    if not sys.stdin.isatty():
        raise InvalidInput("there is no terminal to ask for the password", "give --password-stdin and pipe it in")
    return typer.prompt("新密码 (new password)", hide_input=True, confirmation_prompt=True, err=True)


@app.command("add")
def add(
    ctx: typer.Context,
    username: str = typer.Argument(..., help="The login name: letters, digits, . - _ (e.g. zhangsan)."),
    name: str = typer.Option(..., "--name", help="The person's name (姓名), e.g. 张三."),
    role: str = typer.Option(..., "--role", help="admin, city or county:<code>, e.g. county:370213."),
    password_stdin: bool = PASSWORD_STDIN,
) -> None:
    """Add a staff account. The password (at least 10 characters) is asked twice, or read with
    --password-stdin; only its argon2id hash is kept.

    Example:

        haocha staff add zhangsan --name 张三 --role county:370213
        printf '%s\\n' "$PASSWORD" | haocha staff add lisi --name 李四 --role city --password-stdin
    """
    from haocha_cli.accounts import add as add_account

    c = state(ctx).context()
    c.require_admin("adding a staff account")
    row = add_account(c, username, name, role, _password(password_stdin))
    say(f"added staff account {row['username']} ({row['name']}, {row['role']})")


@app.command("list")
def list_(ctx: typer.Context, fmt: Format = FORMAT_OPTION) -> None:
    """List the staff accounts: username, name, role, enabled or not, last login. Never a password.

    Example:

        haocha staff list --format csv
    """
    from haocha_cli.accounts import list_accounts

    render(list_accounts(state(ctx).context()), fmt,
           columns=["username", "name", "role", "role_name", "状态", "must_change", "locked_until", "last_login"])


@app.command("passwd")
def passwd(
    ctx: typer.Context,
    username: str = typer.Argument(..., help="The account's username."),
    password_stdin: bool = PASSWORD_STDIN,
) -> None:
    """Set a staff account's password (it also lifts a lock after too many wrong passwords).

    Example:

        haocha staff passwd zhangsan
    """
    from haocha_cli.accounts import set_password

    c = state(ctx).context()
    c.require_admin(f"changing the password of {username}")
    row = set_password(c, username, _password(password_stdin))
    say(f"password of {row['username']} changed")


@app.command("disable")
def disable(ctx: typer.Context, username: str = typer.Argument(..., help="The account's username.")) -> None:
    """Disable an account: it can no longer log in and its open sessions end. Its history stays.

    Example:

        haocha staff disable zhangsan
    """
    from haocha_cli.accounts import set_active

    row = set_active(state(ctx).context(), username, False)
    say(f"staff account {row['username']} disabled")


@app.command("enable")
def enable(ctx: typer.Context, username: str = typer.Argument(..., help="The account's username.")) -> None:
    """Enable a disabled account again.

    Example:

        haocha staff enable zhangsan
    """
    from haocha_cli.accounts import set_active

    row = set_active(state(ctx).context(), username, True)
    say(f"staff account {row['username']} enabled")
