"""The composition root: every adapter is built here and nowhere else."""

from dependency_injector import containers, providers

from adapters.audit_trail import EventStoreAuditTrail
from adapters.clock import SystemClock
from adapters.eventstore import EventSourcedPaymentStore, persistence_env
from adapters.hash_chain import HashChainFollower
from adapters.history_views import hash_chain_view, history_view, projection_lock
from adapters.projection_runner import PollingProjectionRunner
from adapters.simulated_gateway import SimulatedGateway
from application.history import PaymentHistoryProjection
from entrypoints.settings import Settings


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)

    event_store_env = providers.Callable(
        persistence_env,
        database_url=settings.provided.database_url,
        sqlite_file=settings.provided.events_file,
        encryption_key=settings.provided.encryption_key,
    )
    view_env = providers.Callable(
        persistence_env,
        database_url=settings.provided.database_url,
        sqlite_file=settings.provided.views_file,
    )

    clock = providers.Singleton(SystemClock)
    payment_store = providers.Singleton(EventSourcedPaymentStore.from_env, env=event_store_env)
    history = providers.Singleton(history_view, env=view_env)
    gateway = providers.Singleton(SimulatedGateway)

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

    audit_trail = providers.Singleton(EventStoreAuditTrail, app=payment_store.provided.app)
    chain_env = providers.Callable(
        persistence_env,
        database_url=settings.provided.database_url,
        sqlite_file=settings.provided.chain_file,
        pool_size=2,
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
    # Every projection by name: `project` runs them, `replay --projection NAME` rebuilds one.
    runners = providers.Dict({"history": history_runner, HashChainFollower.name: chain_runner})


def build_container(settings: Settings) -> Container:
    return Container(settings=settings)
