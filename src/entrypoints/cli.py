"""The `payment-service` command line."""

import argparse
import base64
import json
import os
import secrets
import shutil
import signal
import sys
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt

from application.causes import caused_by
from application.causes import command as cli_command
from application.reconcile import SHORTEST_OLDER_THAN
from entrypoints import audit_cli, events_cli, operations
from entrypoints.settings import ConfigError, Settings, load_dotenv

APP = "entrypoints.http.app:app_from_env"
LOOPS = {  # `serve --loop` to uvicorn's loop setting
    "auto": "entrypoints.greedy_accept:new_event_loop",
    "uvloop": "uvloop",
    "asyncio": "asyncio",
}


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _metrics_dir(settings: Settings) -> tuple[Path, bool]:
    """Where every worker writes its metric samples (prometheus-client multiprocess mode).

    Set before anything imports prometheus-client: it picks its mode at import time.
    """
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    path = Path(given or settings.data_dir / f"metrics-{os.getpid()}").resolve()
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):  # samples of an earlier run would be added to ours
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    return path, given is None


def serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE

    from entrypoints import reuseport
    from entrypoints.logs import configure_logging

    # uvicorn shuts down gracefully, then re-raises the signal with the handler it found:
    # this one, so that a SIGTERM after a clean drain ends with exit status 0.
    signal.signal(signal.SIGTERM, _exit_cleanly)

    with operations.opened(settings) as container:
        # a wrong encryption key fails here, in one line, not at the first request
        if settings.database_url is None:
            # SQLite: the read models' tables are made here, once, before the workers start,
            # so that several workers do not race to make them
            operations.make_embedded_views(container)
    configure_logging()
    metrics_dir, made_here = _metrics_dir(settings)
    from entrypoints.http import serving_protocol  # imports prometheus-client: after its dir

    os.environ["PAYMENTS_RUN_PROJECTIONS"] = "0" if args.no_projections else "1"
    if not settings.stripe_secret_key and not os.environ.get("PAYMENTS_SIMULATED_WEBHOOK_URL"):
        # the simulated gateway sends Stripe's webhooks to this very server
        loopback = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host  # noqa: S104
        loopback = f"[{loopback}]" if ":" in loopback else loopback
        url = f"http://{loopback}:{args.port}/api/webhooks/stripe"
        os.environ["PAYMENTS_SIMULATED_WEBHOOK_URL"] = url
    options: dict[str, Any] = {
        "factory": True,
        "host": args.host,
        "port": args.port,
        "workers": args.workers,
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": 20,
        "loop": LOOPS[args.loop],
        **serving_protocol.uvicorn_options(),
    }
    try:
        if args.workers > 1:
            try:
                reuseport.run(uvicorn.Config(APP, **options))
            except reuseport.CannotListen as error:
                raise operations.Unusable(f"serve: {error}") from None
            except reuseport.WorkerFailedToStart as error:
                # the status a single worker's failed start ends with too (uvicorn's)
                print(f"serve: {error}", file=sys.stderr)
                return STARTUP_FAILURE
        else:
            uvicorn.run(APP, **options)
    finally:
        if made_here:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def migrate(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.database_url:
        print("SQLite (embedded default): its tables are made at start; nothing to migrate.")
        return 0
    import psycopg

    from adapters.migrations import MigrationsMissing, shipped_migrations
    from entrypoints.schema import migrate_schema

    try:
        shipped = shipped_migrations()
    except MigrationsMissing as error:
        raise operations.Unusable(f"migrate: {error}") from None
    try:
        applied = migrate_schema(settings, shipped, waiting=_another_migrate)
    except psycopg.OperationalError as error:
        raise operations.unusable("migrate: cannot reach PostgreSQL", error) from None
    newest = shipped[-1].version
    if applied:
        print(f"applied {len(applied)} migration(s): {', '.join(applied)}; schema at {newest}")
    else:
        print(f"nothing to apply: all {len(shipped)} migration(s) up to {newest} were applied")
    return 0


def _another_migrate() -> None:
    print("migrate: waiting for another migrate of this database to finish", file=sys.stderr)
    sys.stderr.flush()


def reconcile(args: argparse.Namespace, settings: Settings) -> int:
    from entrypoints.reconcile_command import run_reconcile

    return run_reconcile(settings, older_than=args.older_than)


def token(args: argparse.Namespace, settings: Settings) -> int:
    now = int(time.time())
    claims = {"sub": args.user, "roles": args.role, "iat": now, "exp": now + args.ttl}
    claims |= {"aud": settings.jwt_audience} if settings.jwt_audience else {}
    claims |= {"iss": settings.jwt_issuer} if settings.jwt_issuer else {}
    print(jwt.encode(claims, settings.jwt_secret, algorithm="HS256"))
    return 0


def keygen(args: argparse.Namespace, settings: Settings) -> int:
    print(base64.b64encode(secrets.token_bytes(32)).decode())
    return 0


def keys(args: argparse.Namespace, settings: Settings) -> int:
    """The configured encryption keys and those that wrote events, by fingerprint."""
    from adapters.key_registry import KeyRegistry, fingerprint

    configured = dict.fromkeys(map(fingerprint, settings.decrypt_only_keys), "decrypts only")
    if settings.encryption_key:
        configured[fingerprint(settings.encryption_key)] = "encrypts"
    with operations.opened(settings, decrypts=False) as container:
        known = KeyRegistry(container.payment_store().app.recorder).known()
    for name in sorted(configured.keys() | known.keys()):
        seen = known.get(name)
        line = {
            "fingerprint": name,
            "configured": configured.get(name),
            "wroteEvents": bool(seen and seen.wrote),
            "since": seen.since if seen else None,
        }
        print(json.dumps(line))
    return 0


def duration(value: str) -> timedelta:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = value[:-1], value[-1:]
    if unit not in units or not number.isdigit():
        raise argparse.ArgumentTypeError(f"'{value}' is not a duration such as 30s, 15m, 2h or 1d")
    return timedelta(seconds=int(number) * units[unit])


def reconcile_window(value: str) -> timedelta:
    """A duration no shorter than a charge or refund can be in flight (`SHORTEST_OLDER_THAN`)."""
    window = duration(value)
    if window < SHORTEST_OLDER_THAN:
        shortest = f"{SHORTEST_OLDER_THAN // timedelta(minutes=1)}m"
        raise argparse.ArgumentTypeError(
            f"'{value}' is shorter than {shortest}: a charge or refund may still be in flight, "
            "and reconcile would cancel or fail it"
        )
    return window


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="payment-service", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)

    p = commands.add_parser("serve", help="run the HTTP API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--no-projections", action="store_true", help="leave read models to `project`")
    p.add_argument(
        "--loop",
        choices=["auto", "uvloop", "asyncio"],
        default="auto",
        help="each worker's event loop. auto: uvloop, accepting every waiting connection "
        "each time the socket is ready; uvloop: as it is, one new connection per pass of the "
        "loop (a busy worker takes a storm of new connections in seconds); asyncio: the "
        "standard library's, some 8%% slower",
    )
    p.set_defaults(run=serve)

    p = commands.add_parser("migrate", help="apply the SQL migrations to PostgreSQL")
    p.set_defaults(run=migrate)

    p = commands.add_parser("reconcile", help="settle pending payments and refunds from Stripe")
    p.add_argument(
        "--older-than",
        type=reconcile_window,
        default=timedelta(minutes=15),
        help="only payments unchanged for this long, e.g. 15m, 2h, 1d (default 15m, at least 5m)",
    )
    p.set_defaults(run=reconcile)

    p = commands.add_parser("token", help="print a bearer token signed with the configured secret")
    p.add_argument("--user", required=True)
    p.add_argument("--role", action="append", default=[], choices=["admin"])
    p.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")
    p.set_defaults(run=token)

    p = commands.add_parser("keygen", help="print a new PAYMENTS_ENCRYPTION_KEY")
    p.set_defaults(run=keygen)
    p = commands.add_parser(
        "keys", help="encryption keys by fingerprint: configured, and those that wrote events"
    )
    p.set_defaults(run=keys)
    operations.add_commands(commands)
    audit_cli.add_commands(commands)
    events_cli.add_commands(commands)
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
