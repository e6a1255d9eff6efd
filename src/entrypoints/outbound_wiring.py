"""Outbound events wired together: the outbox projection, its dispatchers and their sinks."""

from collections.abc import Callable
from functools import partial
from typing import Any

from dependency_injector import containers, providers
from eventsourcing.application import Application

from adapters.background_loop import BackgroundLoop
from adapters.event_dispatcher import DispatcherRunner
from adapters.eventstore import persistence_env
from adapters.history_views import outbox_view, projection_lock
from adapters.nats_sink import NatsSink
from adapters.outbox_view import OutboundEventsFollower, OutboxView
from adapters.payment_versions import EventStorePaymentVersions
from adapters.projection_runner import PollingProjectionRunner
from adapters.webhook_sink import WebhookSink
from application.dispatch_events import dispatch_one
from application.outbound_events import NATS_ENDPOINT, OutboxHealth
from application.outbox_ports import EventSink
from application.ports import Clock
from application.retry_schedule import RetrySchedule
from entrypoints.outbound_body import render_event
from entrypoints.settings import Settings

WORKERS = 4
IDLE_IN_TRANSACTION_SECONDS = "30"  # a claimed row is held while it is sent (10 s at most)


def outbox_env(settings: Settings, create_tables: bool) -> dict[str, str]:
    env = persistence_env(
        settings.database_url, settings.outbox_file, pool_size=WORKERS + 2,
        create_tables=create_tables,
    )  # fmt: skip
    env["POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT"] = IDLE_IN_TRANSACTION_SECONDS
    return env


def sinks_for(settings: Settings, loop: BackgroundLoop) -> dict[str, EventSink]:
    events = settings.events
    sinks: dict[str, EventSink] = {
        url: WebhookSink(url, events.signing_secret or "", loop) for url in events.webhook_urls
    }
    if events.nats_url:
        nats = NatsSink(events.nats_url, loop)
        sinks[nats.endpoint] = nats
    return sinks


def configured_endpoints(settings: Settings) -> list[str]:
    """The endpoints `sinks_for` sends to, named without opening any connection."""
    events = settings.events
    return [*events.webhook_urls, *([NATS_ENDPOINT] if events.nats_url else [])]


# entrypoints.metrics is imported when first used: `serve` picks prometheus-client's
# multiprocess mode after the container is built, and the library decides at import time.


def _observe(event_type: str, outcome: str) -> None:
    from entrypoints import metrics

    metrics.outbound_events_total.labels(type=event_type, outcome=outcome).inc()


def _report_lag(health: Callable[[], OutboxHealth]) -> None:
    from entrypoints import metrics

    now = health()
    metrics.outbound_event_lag_seconds.set(now.lag_seconds)
    metrics.outbound_events_stranded.set(now.stranded)


def dispatcher(
    settings: Settings,
    outbox: OutboxView,
    sinks: dict[str, EventSink],
    versions: EventStorePaymentVersions,
    clock: Clock,
    loop: BackgroundLoop,
) -> DispatcherRunner:
    """On SQLite one process dispatches (a file lock); on PostgreSQL every one may."""
    dispatch = partial(
        dispatch_one,
        outbox,
        sinks,
        render=partial(render_event, versions=versions),
        schedule=RetrySchedule(base=settings.events_retry_base),
        clock=clock,
        observe=_observe,
    )
    lock = None
    if settings.database_url is None:
        lock = projection_lock(None, settings.data_dir, DispatcherRunner.name)
    health = partial(outbox_health, outbox, sinks, clock)
    closers = [s.close for s in sinks.values() if isinstance(s, NatsSink)]
    return DispatcherRunner(
        dispatch,
        lock=lock,
        workers=WORKERS,
        report=partial(_report_lag, health),
        on_stop=[*closers, loop.close],
    )


def outbox_health(outbox: OutboxView, sinks: dict[str, EventSink], clock: Clock) -> OutboxHealth:
    return outbox.health(list(sinks), clock.now())


def _enabled(settings: Settings) -> str:
    return "on" if settings.events.webhook_urls or settings.events.nats_url else "off"


class OutboundEvents(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    app: providers.Dependency[Application[Any]] = providers.Dependency()
    clock: providers.Dependency[Clock] = providers.Dependency()
    create_tables = providers.Dependency(instance_of=bool)

    outbox = providers.Singleton(
        outbox_view, env=providers.Callable(outbox_env, settings, create_tables)
    )
    loop = providers.Singleton(BackgroundLoop)
    sinks = providers.Singleton(sinks_for, settings, loop)
    versions = providers.Singleton(EventStorePaymentVersions, app=app)
    projection_runner = providers.Singleton(
        PollingProjectionRunner,
        app=app,
        projection=providers.Factory(
            OutboundEventsFollower, app=app, view=outbox, endpoints=providers.Callable(list, sinks)
        ),
        lock=providers.Factory(
            projection_lock,
            settings.provided.database_url,
            settings.provided.data_dir,
            OutboundEventsFollower.name,
        ),
    )
    dispatcher = providers.Singleton(dispatcher, settings, outbox, sinks, versions, clock, loop)
    enabled = providers.Callable(_enabled, settings)
    # nothing runs, and nothing is put in the outbox, while no endpoint is configured
    projection_runners = providers.Selector(
        enabled,
        on=providers.Dict({OutboundEventsFollower.name: projection_runner}),
        off=providers.Dict(),
    )
    dispatchers = providers.Selector(enabled, on=providers.List(dispatcher), off=providers.List())
    health = providers.Selector(
        enabled,
        on=providers.Callable(partial, outbox_health, outbox, sinks, clock),
        off=providers.Object(None),
    )
