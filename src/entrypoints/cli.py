"""The `payment-service` command line."""

import argparse
import base64
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import jwt

from application.causes import caused_by
from application.causes import command as cli_command
from entrypoints import audit_cli, operations
from entrypoints.settings import ConfigError, Settings, load_dotenv

MIGRATIONS_DIR = Path(
    os.environ.get("PAYMENTS_MIGRATIONS_DIR", Path(__file__).resolve().parents[2] / "migrations")
)


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    # uvicorn shuts down gracefully, then re-raises the signal with the handler it found:
    # this one, so that a SIGTERM after a clean drain ends with exit status 0.
    signal.signal(signal.SIGTERM, _exit_cleanly)

    with operations.opened(settings):
        pass  # a wrong encryption key fails here, in one line, not at the first request
    os.environ["PAYMENTS_RUN_PROJECTIONS"] = "0" if args.no_projections else "1"
    uvicorn.run(
        "entrypoints.http.app:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        timeout_graceful_shutdown=20,
    )
    return 0


def migrate(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.database_url:
        print("SQLite (embedded default): its tables are made at start; nothing to migrate.")
        return 0
    from adapters.migrations import apply_migrations

    applied = apply_migrations(settings.database_url, MIGRATIONS_DIR / "postgres")
    print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'already up to date'}")
    return 0


def token(args: argparse.Namespace, settings: Settings) -> int:
    now = int(time.time())
    claims = {"sub": args.user, "roles": args.role, "iat": now, "exp": now + args.ttl}
    print(jwt.encode(claims, settings.jwt_secret, algorithm="HS256"))
    return 0


def keygen(args: argparse.Namespace, settings: Settings) -> int:
    print(base64.b64encode(secrets.token_bytes(32)).decode())
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="payment-service", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)

    p = commands.add_parser("serve", help="run the HTTP API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--no-projections", action="store_true", help="leave read models to `project`")
    p.set_defaults(run=serve)

    p = commands.add_parser("migrate", help="apply migrations/ to PostgreSQL")
    p.set_defaults(run=migrate)

    p = commands.add_parser("token", help="print a bearer token signed with the configured secret")
    p.add_argument("--user", required=True)
    p.add_argument("--role", action="append", default=[], choices=["admin"])
    p.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")
    p.set_defaults(run=token)

    p = commands.add_parser("keygen", help="print a new PAYMENTS_ENCRYPTION_KEY")
    p.set_defaults(run=keygen)
    operations.add_commands(commands)
    audit_cli.add_commands(commands)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    load_dotenv()
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    command: Callable[[argparse.Namespace, Settings], int] = args.run
    try:
        with caused_by(cli_command(f"payment-service {args.command}")):
            return command(args, settings)
    except operations.Unusable as error:
        print(error, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
