"""Staff accounts on the command line (``lotse staff …``): the first administrator, and a way back in.

* ``add NAME --role admin [--role editor …] [--name "Display Name"] [--password-stdin]`` — the
  password is asked twice at a prompt, or read from standard input (one line), never an argument;
* ``list`` — accounts, roles, active or not;
* ``password NAME [--password-stdin]`` — set a new password (ends the account's sessions);
* ``disable NAME`` / ``enable NAME``.

Each change is an audit row recorded as ``cli:<os user>``. Everything else is done in the console.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from cli.audit import cli_actor
from lotse.runtime import Runtime
from services.staff import ROLES, StaffError


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    staff = subparsers.add_parser("staff", help="console accounts (the first administrator)")
    sub = staff.add_subparsers(dest="staff_action", required=True)
    add = sub.add_parser("add", help="create an account (password from a prompt or stdin)")
    add.add_argument("username")
    add.add_argument("--role", action="append", choices=ROLES, required=True, dest="roles")
    add.add_argument("--name", default="", help="display name (default: the user name)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    sub.add_parser("list", help="accounts and their roles")
    pw = sub.add_parser("password", help="set a new password")
    pw.add_argument("username")
    pw.add_argument("--password-stdin", action="store_true")
    for name in ("disable", "enable"):
        sub.add_parser(name, help=f"{name} an account").add_argument("username")


def _password(from_stdin: bool) -> str | None:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Passwort: ")
    if getpass.getpass("Passwort wiederholen: ") != first:
        _err("Die Passwörter sind nicht gleich.")
        return None
    return first


def run(args: argparse.Namespace, runtime: Runtime) -> int:
    staff, actor = runtime.staff, cli_actor()
    action = args.staff_action
    if action == "list":
        for account, active in staff.accounts():
            state = "aktiv" if active else "gesperrt"
            print(f"{account.username}\t{account.display_name}\t{','.join(account.roles)}\t{state}")
        return 0
    try:
        if action == "add":
            password = _password(args.password_stdin)
            if password is None:
                return 1
            account = staff.create(args.username, args.name, password, args.roles, actor=actor)
            print(f"Konto {account.username} angelegt ({', '.join(account.roles)})")
            return 0
        found = staff.by_username(args.username)
        if found is None:
            _err(f"Das Konto {args.username} gibt es nicht.")
            return 1
        if action == "password":
            password = _password(args.password_stdin)
            if password is None:
                return 1
            staff.set_password(found.id, password, actor=actor)
            print(f"Neues Passwort für {found.username} gesetzt; alle Sitzungen sind beendet.")
            return 0
        staff.set_active(found.id, action == "enable", actor=actor)
        print(f"Konto {found.username} {'entsperrt' if action == 'enable' else 'gesperrt'}")
        return 0
    except StaffError as exc:
        _err(str(exc))
        return 1
