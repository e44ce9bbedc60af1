"""Operator commands against the cloud tables: `python -m watershed.admin create-org NAME`."""

from __future__ import annotations

import argparse
import uuid
from dataclasses import dataclass

from watershed.services import keys
from watershed.store import catalog as store
from watershed.timefmt import now_ms


@dataclass
class CreatedOrg:
    org_id: str
    key: str
    key_id: str


def create_org(name: str) -> CreatedOrg:
    """An organisation and its first admin key (shown once)."""
    org_id = str(uuid.uuid4())
    store.create("org", {"id": org_id, "org": org_id, "name": name, "created": now_ms()}, None)
    doc, secret = keys.issue_key(org_id, f"{name} admin", ["admin"], [])
    return CreatedOrg(org_id, secret, doc["id"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m watershed.admin")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-org", help="create an organisation and print its admin key")
    create.add_argument("name")
    args = parser.parse_args(argv)
    if args.command == "create-org":
        created = create_org(args.name)
        print(f"organisation: {created.org_id}\nadmin key:    {created.key}\n(the key is shown only this once)")


if __name__ == "__main__":
    main()
