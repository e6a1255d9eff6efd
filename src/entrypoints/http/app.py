"""The Litestar application factory."""

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController

from entrypoints.container import Container, build_container
from entrypoints.http.audit import AuditController
from entrypoints.http.auth import jwt_auth
from entrypoints.http.errors import handle_exception
from entrypoints.http.health import HealthController
from entrypoints.http.payments import PaymentController
from entrypoints.http.request_id import request_cause_middleware
from entrypoints.http.strict_body import strict_json_body
from entrypoints.settings import Settings, load_dotenv

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 64 * 1024


class MetricsController(PrometheusController):
    path = "/metrics"


def create_app(container: Container, *, run_projections: bool = True) -> Litestar:
    settings: Settings = container.settings()
    auth = jwt_auth(settings.jwt_secret)
    prometheus = PrometheusConfig(app_name="payments", group_path=True)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        runners = container.runners().values() if run_projections else []
        for runner in runners:
            runner.start()
        try:
            yield
        finally:
            for runner in runners:
                runner.stop()
            container.payment_store().close()

    def provide(provider: Any) -> Provide:
        return Provide(lambda: provider(), sync_to_thread=False, use_cache=True)

    return Litestar(
        route_handlers=[PaymentController, AuditController, HealthController, MetricsController],
        dependencies={
            "store": provide(container.payment_store),
            "gateway": provide(container.gateway),
            "history": provide(container.history),
            "history_runner": provide(container.history_runner),
            "audit": provide(container.audit_trail),
        },
        guards=[strict_json_body],
        exception_handlers={Exception: handle_exception},
        on_app_init=[auth.on_app_init],
        middleware=[prometheus.middleware, request_cause_middleware],
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(
            title="Payment service",
            version="1.0.0",
            path="/schema",
            render_plugins=[ScalarRenderPlugin()],
        ),
        request_max_body_size=MAX_BODY_BYTES,
    )


def app_from_env() -> Litestar:
    """Factory for `uvicorn --factory`: reads .env and the environment."""
    load_dotenv()
    run_projections = os.environ.get("PAYMENTS_RUN_PROJECTIONS", "1") != "0"
    return create_app(build_container(Settings.from_env()), run_projections=run_projections)
