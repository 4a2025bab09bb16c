"""Operator CLI, run against whichever DynamoDB the environment names (local or AWS).

python -m devtools.manage create-user alice --role admin   # password: prompt or ECG_NEW_USER_PASSWORD
python -m devtools.manage create-tables                    # local development only
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

import msgspec

from chalicelib.auth.tokens import Role
from chalicelib.errors import ServiceError
from chalicelib.rules import readable


def create_user(username: str, role: Role) -> int:
    from chalicelib.accounts import NewUser, register

    password = os.environ.get("ECG_NEW_USER_PASSWORD") or getpass.getpass(f"password for {username}: ")
    try:
        register(msgspec.convert({"username": username, "password": password, "role": role}, NewUser))
    except msgspec.ValidationError as error:
        print(f"error: {readable(str(error))}", file=sys.stderr)
        return 1
    except ServiceError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    print(f"created {role} {username!r}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.manage", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-user", help="register an account")
    create.add_argument("username")
    create.add_argument("--role", choices=[role.value for role in Role], default=Role.USER.value)
    commands.add_parser(
        "create-tables", help="create any missing table and the signals bucket (local development)"
    )
    args = parser.parse_args(argv)
    if args.command == "create-user":
        return create_user(args.username, Role(args.role))
    from devtools.tables import create_tables

    create_tables()
    print("tables and bucket ready")
    return 0


if __name__ == "__main__":
    sys.exit(main())
