"""The composition root: every adapter is built here and nowhere else."""

from dependency_injector import containers, providers

from adapters.clock import SystemClock
from adapters.eventstore import EventSourcedPaymentStore, persistence_env
from adapters.history_views import history_view
from adapters.projection_runner import PollingProjectionRunner
from adapters.redis_probe import redis_probes
from adapters.simulated_gateway import SimulatedGateway
from application.history import PaymentHistoryProjection
from entrypoints.readiness import Readiness
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

    probes = providers.Singleton(redis_probes, url=settings.provided.redis_url)

    history_projection = providers.Singleton(PaymentHistoryProjection, view=history)
    history_runner = providers.Singleton(
        PollingProjectionRunner,
        app=payment_store.provided.app,
        projection=history_projection,
        view=history,
    )
    readiness = providers.Singleton(
        Readiness, store=payment_store, history_runner=history_runner, probes=probes
    )


def build_container(settings: Settings) -> Container:
    return Container(settings=settings)
