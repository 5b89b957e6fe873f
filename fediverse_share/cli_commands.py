"""The instance commands: init, serve, worker, user."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fediverse_share import cli, setup
from fediverse_share.errors import ConfigError
from fediverse_share.settings import CONFIG_FILE_NAME, Settings

Subparsers = Any  # argparse's _SubParsersAction is private


def register_init(sub: Subparsers) -> None:
    p = sub.add_parser("init", help="create (or upgrade) an instance and its community")
    p.add_argument("--domain", required=True, help="the host name peers reach, e.g. krz.example")
    p.add_argument("--community", required=True, help="the community's username, e.g. kreuzberg")
    p.add_argument("--community-name", default="", help="display name (default: the username)")
    p.add_argument("--currency", required=True, help="currency code, e.g. KRZ")
    p.add_argument("--currency-name", default="", help="currency name (default: the code)")
    p.add_argument("--scale", type=int, default=2, help="decimal places of the currency")
    p.add_argument("--database-url", help="default: an SQLite file in the data directory")
    p.add_argument("--allow-http", action="store_true", help="serve and fetch over plain http")
    p.add_argument(
        "--allow-private-addresses", action="store_true", help="federate with loopback/private"
    )
    p.set_defaults(handler=_init)


def _init(args: argparse.Namespace) -> int:
    settings = _write_config_once(args)
    spec = setup.CommunitySpec(args.community, args.community_name or args.community)
    created = cli.run(_initialise(settings, spec, args))
    verb = "created" if created else "is up to date"
    print(f"{settings.domain}: community @{args.community}@{settings.domain} {verb}")
    print(f"next: fediverse-share --data-dir {settings.data_dir} serve")
    return 0


async def _initialise(settings: Settings, spec: setup.CommunitySpec, args: Any) -> bool:
    from fediverse_share import ledger

    created = await setup.initialise(settings, spec)
    await ledger.ensure_currency(
        settings, args.currency, args.currency_name or args.currency, args.scale
    )
    return created


def _write_config_once(args: argparse.Namespace) -> Settings:
    """Keep what init was told in the data directory, so serve needs no flags."""
    data_dir: Path = args.data_dir or Path("data")
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / CONFIG_FILE_NAME
    if not path.exists():
        lines = [
            f'domain = "{args.domain}"',
            f'secret_key = "{setup.new_secret_key()}"',
            f"allow_http = {str(args.allow_http).lower()}",
            f"allow_private_addresses = {str(args.allow_private_addresses).lower()}",
        ]
        if args.database_url:
            lines.append(f'database_url = "{args.database_url}"')
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        path.chmod(0o600)
    settings = Settings.load(data_dir=data_dir)
    if settings.domain != args.domain:
        raise ConfigError(f"{path} is for {settings.domain!r}, not {args.domain!r}")
    return settings


def register_serve(sub: Subparsers) -> None:
    p = sub.add_parser("serve", help="run the web server (with the worker, unless told not to)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="web processes")
    p.add_argument("--no-worker", action="store_true", help="run background work elsewhere")
    p.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    settings = cli.load_settings(args)
    if args.data_dir:
        os.environ["FEDIVERSE_SHARE_DATA_DIR"] = str(args.data_dir)
    if args.no_worker or args.workers > 1:
        # With several web processes, one separate `worker` process does the work.
        os.environ["FEDIVERSE_SHARE_RUN_WORKER"] = "false" if args.no_worker else "true"
    print(f"serving {settings.base_url} on http://{args.host}:{args.port}")
    uvicorn.run(
        "fediverse_share.asgi:app_from_environment",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=True,
        log_level="info",
    )
    return 0


def register_worker(sub: Subparsers) -> None:
    p = sub.add_parser("worker", help="run background work (delivery, expiries, demurrage)")
    p.set_defaults(handler=_worker)


def _worker(args: argparse.Namespace) -> int:
    from fediverse_share import worker

    settings = cli.load_settings(args, run_worker=False)
    return cli.run(worker.run_standalone(settings))


def register_user(sub: Subparsers) -> None:
    p = sub.add_parser("user", help="manage members")
    users = p.add_subparsers(title="user commands", metavar="ACTION")
    add = users.add_parser("add", help="create a member and their ledger account")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="may operate the instance")
    add.add_argument("--display-name", default="")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    add.set_defaults(handler=_user_add)


def _user_add(args: argparse.Namespace) -> int:
    from fediverse_share import standalone

    settings = cli.load_settings(args)
    password = cli.read_password(args)

    async def add() -> int:
        from fediverse_share import members

        async with standalone.runtime(settings) as runtime:
            member = await members.add_member(
                runtime, args.name, password, display_name=args.display_name, is_admin=args.admin
            )
        print(f"created @{member.username}@{settings.domain}")
        return 0

    return cli.run(add())


def _registrars() -> list[Any]:
    from fediverse_share import cli_ledger, cli_peers, demo

    return [
        register_init,
        register_serve,
        register_worker,
        register_user,
        cli_ledger.register_ledger,
        cli_ledger.register_demurrage,
        cli_peers.register_peer,
        cli_peers.register_rates,
        demo.register,
    ]


REGISTRARS = _registrars
