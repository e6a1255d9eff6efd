"""The composition root: every adapter is built here and nowhere else."""

from dependency_injector import containers, providers

from adapters.audit_trail import EventStoreAuditTrail
from adapters.awaited_event_store import (
    AwaitedEventStore,
    AwaitedPaymentStore,
    AwaitedWalletStore,
)
from adapters.clock import SystemClock
from adapters.eventstore import DATABASE_THREADS, EventSourcedPaymentStore, persistence_env
from adapters.hash_chain import HashChainFollower
from adapters.history_views import hash_chain_view, history_view, operator_view, projection_lock
from adapters.idempotency_memory import InProcessIdempotencyStore
from adapters.idempotency_redis import RedisIdempotencyStore, body_cipher
from adapters.pending_scan import EventLogPendingPayments
from adapters.projection_runner import PollingProjectionRunner
from adapters.redis_probe import RedisProbe, redis_probes
from adapters.schema_version import schema_probe
from adapters.simulated_gateway import SimulatedGateway
from adapters.simulated_webhooks import webhook_sender
from adapters.stripe_gateway import StripeGateway
from adapters.wallet_store import EventSourcedWalletStore
from application.awaited import AwaitedStores, EventStoreSteps
from application.history import PaymentHistoryProjection
from application.idempotency import IdempotentRequests
from application.operator_projection import OperatorProjection
from application.ports import IdempotencyStore
from entrypoints.console.chain import ChainState
from entrypoints.outbound_wiring import OutboundEvents
from entrypoints.readiness import Readiness
from entrypoints.settings import Settings


def event_store_steps_for(
    store: EventSourcedPaymentStore,
    wallets: EventSourcedWalletStore,
    awaited: AwaitedEventStore | None,
) -> EventStoreSteps:
    """Steps awaited on the event loop where the event store allows it (PostgreSQL)."""
    stores = (
        AwaitedStores(payments=AwaitedPaymentStore(awaited), wallets=AwaitedWalletStore(awaited))
        if awaited is not None
        else None
    )
    return EventStoreSteps(store=store, wallets=wallets, awaited=stores)


def idempotency_store_for(
    redis_url: str | None,
    probe: RedisProbe | None,
    encryption_key: str | None,
    decrypt_only_keys: tuple[str, ...] = (),
) -> IdempotencyStore:
    """Redis when configured (answers encrypted with the events' key), else in-process."""
    if not redis_url:
        return InProcessIdempotencyStore()
    return RedisIdempotencyStore.from_url(
        redis_url,
        breaker=probe.breaker if probe is not None else None,
        cipher=body_cipher(encryption_key, decrypt_only_keys),
    )


def redis_probe_for(redis_url: str | None) -> RedisProbe | None:
    """One per process: its breaker is shared by every Redis client of the process."""
    if not redis_url:
        return None
    # imported here: `serve` points prometheus_client at its multiprocess directory first
    from entrypoints import metrics

    def changed(opened: bool) -> None:
        metrics.redis_circuit_changes_total.labels(state="open" if opened else "closed").inc()

    return RedisProbe(redis_url, on_change=changed, on_skip=metrics.redis_skipped_calls_total.inc)


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    create_tables = providers.Dependency(instance_of=bool, default=True)

    event_store_env = providers.Callable(
        persistence_env,
        database_url=settings.provided.database_url,
        sqlite_file=settings.provided.events_file,
        encryption_key=settings.provided.encryption_key,
        decrypt_only_keys=settings.provided.decrypt_only_keys,
        max_connections=DATABASE_THREADS,
        create_tables=create_tables,
    )
    view_env = providers.Callable(
        persistence_env,
        database_url=settings.provided.database_url,
        sqlite_file=settings.provided.views_file,
        max_connections=DATABASE_THREADS,
        create_tables=create_tables,
    )

    clock = providers.Singleton(SystemClock)
    payment_store = providers.Singleton(EventSourcedPaymentStore.from_env, env=event_store_env)
    history = providers.Singleton(history_view, env=view_env)
    wallets = providers.Singleton(EventSourcedWalletStore, app=payment_store.provided.app)
    awaited_event_store = providers.Singleton(AwaitedEventStore.of, app=payment_store.provided.app)
    event_store_steps = providers.Singleton(
        event_store_steps_for, payment_store, wallets, awaited_event_store
    )
    pending_payments = providers.Singleton(EventLogPendingPayments, app=payment_store.provided.app)
    simulated_webhooks = providers.Singleton(
        webhook_sender,
        url=settings.provided.simulated_webhook_url,
        secret=settings.provided.webhook_secrets[0],
    )
    gateway = providers.Selector(
        providers.Callable(lambda s: "stripe" if s.stripe_secret_key else "simulated", settings),
        stripe=providers.Singleton(
            StripeGateway,
            secret_key=settings.provided.stripe_secret_key,
            api_base=settings.provided.stripe_api_base,
            connect_timeout=settings.provided.stripe_connect_timeout,
            read_timeout=settings.provided.stripe_read_timeout,
            max_network_retries=settings.provided.stripe_max_network_retries,
            connections=settings.provided.admitted_in_flight,
        ),
        simulated=providers.Singleton(SimulatedGateway, webhooks=simulated_webhooks),
    )

    redis_probe = providers.Singleton(redis_probe_for, settings.provided.redis_url)
    probes = providers.Singleton(redis_probes, redis_probe)

    idempotency_store = providers.Singleton(
        idempotency_store_for,
        settings.provided.redis_url,
        redis_probe,
        settings.provided.encryption_key,
        settings.provided.decrypt_only_keys,
    )
    # With Redis down, each process keeps its own locks until Redis answers again.
    idempotency = providers.Singleton(
        IdempotentRequests,
        store=idempotency_store,
        fallback=providers.Singleton(InProcessIdempotencyStore),
    )

    history_projection = providers.Singleton(PaymentHistoryProjection, view=history)
    history_runner = providers.Singleton(
        PollingProjectionRunner,
        app=payment_store.provided.app,
        projection=history_projection,
        view=history,
        lock=providers.Factory(
            projection_lock, settings.provided.database_url, settings.provided.data_dir, "history"
        ),
    )
    outbound = providers.Container(
        OutboundEvents,
        settings=settings,
        app=payment_store.provided.app,
        clock=clock,
        create_tables=create_tables,
    )
    readiness = providers.Singleton(
        Readiness,
        store=payment_store,
        history_runner=history_runner,
        probes=probes,
        schema=providers.Singleton(schema_probe, settings.provided.database_url),
        outbound=outbound.health,
    )

    audit_trail = providers.Singleton(EventStoreAuditTrail, app=payment_store.provided.app)
    chain_env = providers.Callable(
        persistence_env,
        database_url=settings.provided.database_url,
        sqlite_file=settings.provided.chain_file,
        pool_size=2,
        create_tables=create_tables,
    )
    hash_chain = providers.Singleton(hash_chain_view, env=chain_env)
    chain_runner = providers.Singleton(
        PollingProjectionRunner,
        app=payment_store.provided.app,
        projection=providers.Factory(
            HashChainFollower, app=payment_store.provided.app, view=hash_chain
        ),
        lock=providers.Factory(
            projection_lock,
            settings.provided.database_url,
            settings.provided.data_dir,
            HashChainFollower.name,
        ),
    )
    operator_env = providers.Callable(
        persistence_env,
        database_url=settings.provided.database_url,
        sqlite_file=providers.Callable(lambda s: s.data_dir / "operator.db", settings),
        pool_size=1,  # grows to 2 while the console searches during a write
        create_tables=create_tables,
    )
    operator_view = providers.Singleton(operator_view, env=operator_env)
    operator_runner = providers.Singleton(
        PollingProjectionRunner,
        app=payment_store.provided.app,
        projection=providers.Singleton(OperatorProjection, view=operator_view),
        view=operator_view,
        lock=providers.Factory(
            projection_lock, settings.provided.database_url, settings.provided.data_dir, "operator"
        ),
    )
    chain_state = providers.Singleton(ChainState, app=payment_store.provided.app, chain=hash_chain)
    # Every projection by name: `project` runs them, `replay --projection NAME` rebuilds one.
    runners = providers.Callable(
        lambda *parts: {name: runner for part in parts for name, runner in part.items()},
        providers.Dict(
            {
                "history": history_runner,
                HashChainFollower.name: chain_runner,
                OperatorProjection.name: operator_runner,
            }
        ),
        outbound.projection_runners,
    )


def build_container(settings: Settings, *, create_tables: bool | None = None) -> Container:
    """On PostgreSQL the library's tables come from `migrate`; SQLite makes them at start."""
    if create_tables is None:
        create_tables = settings.database_url is None
    return Container(settings=settings, create_tables=create_tables)
