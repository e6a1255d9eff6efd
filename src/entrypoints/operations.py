"""Operations on read models: `project` (run them as a worker) and `replay` (rebuild them)."""

import argparse
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import Progress

from adapters.encryption import UnreadableEvents, check_events_readable
from adapters.hash_chain import HashChainFollower
from adapters.history_views import close_view
from adapters.key_registry import KeyRegistry, KeysNotUsable, check_keys
from adapters.migrations import MigrationsMissing
from adapters.outbox_view import OutboundEventsFollower
from adapters.projection_runner import PollingProjectionRunner
from adapters.schema_version import SchemaNotReady, SchemaUnknown
from entrypoints.container import Container, build_container
from entrypoints.heap import freeze_startup_objects
from entrypoints.schema import require_current_schema
from entrypoints.settings import Settings


class Unusable(Exception):
    """The command cannot start; the message is the one line to show."""


def unusable(what: str, error: BaseException) -> Unusable:
    """`what` and the first line of `error` (a driver's message runs over several lines)."""
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return Unusable(f"{what}: {first_line}")


@contextmanager
def opened(settings: Settings, *, decrypts: bool = True) -> Iterator[Container]:
    """The container, once the schema is current and the key is known to read the events."""
    try:
        require_current_schema(settings)
    except (MigrationsMissing, SchemaNotReady) as error:
        raise Unusable(f"configuration error: {error}") from None
    except SchemaUnknown as error:
        raise Unusable(str(error)) from None
    container = build_container(settings)
    try:
        if decrypts:
            app = container.payment_store().app
            check_events_readable(app)
            if settings.encryption_key:
                check_keys(
                    KeyRegistry(app.recorder),
                    settings.encryption_key,
                    settings.decrypt_only_keys,
                    next_position=(app.recorder.max_notification_id() or 0) + 1,
                )
    except (UnreadableEvents, KeysNotUsable) as error:
        container.payment_store().close()
        raise Unusable(f"configuration error: {error}") from None
    try:
        yield container
    finally:
        container.payment_store().close()


def make_embedded_views(container: Container) -> None:
    """Make the read models' tables (history, audit chain, operator view, outbox) and close."""
    for view in (
        container.history(),
        container.hash_chain(),
        container.operator_view(),
        container.outbound.outbox(),
    ):
        close_view(view)


def selected(
    container: Container, name: str | None, *, read_models_only: bool = False
) -> list[PollingProjectionRunner]:
    runners: dict[str, PollingProjectionRunner] = container.runners()
    if read_models_only:  # the hash chain is evidence, the outbox is what was announced:
        kept = (HashChainFollower.name, OutboundEventsFollower.name)  # never recomputed
        runners = {k: v for k, v in runners.items() if k not in kept}
    if name is None:
        return list(runners.values())
    if name not in runners:
        raise Unusable(f"unknown projection {name!r}: choose one of {', '.join(runners)}")
    return [runners[name]]


def _state(runner: PollingProjectionRunner) -> str:
    if runner.active:
        return f"active, resuming from position {runner.resumed_from}"
    return f"standby at position {runner.position}"


def project(args: argparse.Namespace, settings: Settings) -> int:
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    with opened(settings) as container:
        runners = selected(container, args.projection)
        dispatchers = container.outbound.dispatchers() if args.projection is None else []
        freeze_startup_objects()
        for runner in [*runners, *dispatchers]:
            runner.start()
        shown: dict[str, bool | None] = {r.name: None for r in runners}

        def report() -> None:
            for runner in runners:
                if runner.decided and shown[runner.name] != runner.active:
                    shown[runner.name] = runner.active
                    print(f"{runner.name}: {_state(runner)}", flush=True)

        try:
            while not stopping.wait(0.1):
                report()
        except KeyboardInterrupt:
            pass
        finally:
            report()
            for runner in runners:
                runner.stop()
            for dispatcher in dispatchers:
                dispatcher.stop()
    return 0


def _rebuild_with_bar(runner: PollingProjectionRunner) -> int:
    with Progress(transient=True) as bar:
        task = bar.add_task(f"rebuilding {runner.name}", total=runner.lag() or None)
        return runner.rebuild(
            lambda done, left: bar.update(task, completed=done, total=done + left)
        )


def replay(args: argparse.Namespace, settings: Settings) -> int:
    with opened(settings) as container:
        for runner in selected(container, args.projection, read_models_only=True):
            started = time.monotonic()
            try:
                count = _rebuild_with_bar(runner) if sys.stdout.isatty() else runner.rebuild()
            except TimeoutError as error:
                raise Unusable(str(error)) from None
            print(
                f"{runner.name}: rebuilt from {count} events in "
                f"{time.monotonic() - started:.1f}s, now at position {runner.position}",
                flush=True,
            )
    return 0


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = commands.add_parser("project", help="run the projections (read models, audit chain)")
    p.add_argument("--projection", help="only this one (default: all)")
    p.set_defaults(run=project)

    p = commands.add_parser("replay", help="drop read models and rebuild them from the event log")
    p.add_argument("--projection", help="only this read model (default: all)")
    p.set_defaults(run=replay)
