"""The Litestar application factory."""

import asyncio
import functools
import logging
import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, MediaType, Response, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController

from adapters.eventstore import DATABASE_THREADS
from entrypoints import metrics
from entrypoints.console.session import secure_cookies_over_https
from entrypoints.console.setup import (
    console_csrf,
    console_middleware,
    console_routes,
    templates,
)
from entrypoints.container import Container, build_container
from entrypoints.heap import freeze_startup_objects
from entrypoints.http import auth_failures, header_limits, request_context
from entrypoints.http.admission import ADMISSION_STATE_KEY, Admission, shed_when_full
from entrypoints.http.audit import AuditController
from entrypoints.http.auth import jwt_auth
from entrypoints.http.errors import handle_exception
from entrypoints.http.hardening import add_security_headers, cors_config
from entrypoints.http.health import HealthController
from entrypoints.http.openapi_docs import refine_document
from entrypoints.http.payment_methods import PaymentMethodController
from entrypoints.http.payments import PaymentController
from entrypoints.http.rate_limits import (
    STORE_NAME,
    rate_limit_store,
    rate_limits,
    read_webhook_body,
)
from entrypoints.http.request_id import request_cause_middleware
from entrypoints.http.schemas import ProcessPaymentBody, RefundBody
from entrypoints.http.services import Services
from entrypoints.http.strict_body import strict_json_body
from entrypoints.http.webhooks import StripeWebhookController
from entrypoints.logs import configure_logging
from entrypoints.settings import Settings, load_dotenv

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 64 * 1024


class MetricsController(PrometheusController):
    path = "/metrics"
    security = [{}]  # public to the scraper; keep /metrics off the public network

    @get(operation_id="metrics", media_type=MediaType.TEXT, tags=["operations"])
    async def get(self) -> Response[bytes]:  # type: ignore[override]
        """Prometheus text format; with several workers, the sum over all of them."""
        exposition: Response[bytes] = await PrometheusController.get.fn(self)
        return exposition


def create_app(container: Container, *, run_projections: bool = True) -> Litestar:
    settings: Settings = container.settings()
    auth = jwt_auth(
        settings.jwt_secret,
        max_lifetime=settings.jwt_max_lifetime,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
    )
    prometheus = PrometheusConfig(app_name="payments", group_path=True)
    admission = Admission(
        settings.admitted_in_flight, settings.request_timeout, max_lag=settings.max_loop_lag
    )
    limits = rate_limits(
        settings.rate_limit_per_minute,
        settings.webhook_rate_limit_per_minute,
        settings.webhook_secrets,
    )
    redis_probe = container.redis_probe()
    breaker = redis_probe.breaker if redis_probe is not None else None

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        # Event-store steps and sync handlers run here: as many threads as database connections.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(DATABASE_THREADS, thread_name_prefix="blocking")
        )
        runners = container.runners().values() if run_projections else []
        dispatchers = container.outbound.dispatchers() if run_projections else []
        for runner in [*runners, *dispatchers]:
            runner.start()
        watching = asyncio.get_running_loop().create_task(admission.watch())
        try:
            yield
        finally:
            watching.cancel()
            for runner in runners:
                # waits for the batch in hand, then takes in what the drained requests wrote
                runner.stop(catch_up=True)
            for dispatcher in dispatchers:
                dispatcher.stop()
            awaited = container.awaited_event_store()
            if awaited is not None:
                await awaited.aclose()  # this loop's connections
            container.payment_store().close()
            await container.idempotency().aclose()  # this loop's Redis connections
            close_gateway = getattr(container.gateway(), "aclose", None)
            if close_gateway is not None:
                await close_gateway()
            if breaker is not None:
                breaker.stop()  # no more probing of Redis from a process that is leaving
            metrics.forget_this_process()

    def provide(provider: Any) -> Provide:
        return Provide(lambda: provider(), sync_to_thread=False, use_cache=True)

    services = functools.cache(  # made at the first request, not when the app is built
        lambda: Services(
            store=container.payment_store(),
            gateway=container.gateway(),
            wallets=container.wallets(),
            steps=container.event_store_steps(),
            idempotency=container.idempotency(),
            admission=admission,
            webhook_secrets=settings.webhook_secrets,
        )
    )

    app = Litestar(
        route_handlers=[
            PaymentController,
            PaymentMethodController,
            StripeWebhookController,
            AuditController,
            HealthController,
            MetricsController,
            *console_routes(settings),
        ],
        dependencies={
            "store": provide(container.payment_store),
            "gateway": provide(container.gateway),
            "wallets": provide(container.wallets),
            "history": provide(container.history),
            "history_runner": provide(container.history_runner),
            "clock": provide(container.clock),
            "readiness": provide(container.readiness),
            "idempotency": provide(container.idempotency),
            "audit": provide(container.audit_trail),
            "admission": Provide(lambda: admission, sync_to_thread=False),
            "operator_search": provide(container.operator_view),
            "chain_state": provide(container.chain_state),
            "settings": Provide(lambda: settings, sync_to_thread=False),
            "services": Provide(services, sync_to_thread=False, use_cache=True),
        },
        guards=[strict_json_body],
        exception_handlers={Exception: handle_exception},
        on_app_init=[
            auth.on_app_init,
            auth_failures.install(settings.auth_failures_per_minute, STORE_NAME),
            request_context.install,
            header_limits.install,
            shed_when_full(admission),  # last: outermost, before authentication
        ],
        middleware=[
            prometheus.middleware,
            request_cause_middleware,
            read_webhook_body,
            *console_middleware(settings),
            *(limit.middleware for limit in limits),
        ],
        stores={STORE_NAME: rate_limit_store(settings.redis_url, breaker)},
        before_send=[
            request_context.log_and_tag_response,
            add_security_headers,
            secure_cookies_over_https,
        ],
        csrf_config=console_csrf(settings),
        template_config=templates(),
        cors_config=cors_config(settings.cors_origins),
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(
            title="Payment service",
            version="1.0.0",
            path="/schema",
            render_plugins=[ScalarRenderPlugin()],
        ),
        request_max_body_size=MAX_BODY_BYTES,
        state=State({ADMISSION_STATE_KEY: admission}),  # `serve`'s protocol refuses with it
        logging_config=None,  # entrypoints.logs configures JSON lines for the whole process
    )
    refine_document(app.openapi_schema, strict_bodies=(ProcessPaymentBody, RefundBody))
    return app


def app_from_env() -> Litestar:
    """Factory for `uvicorn --factory`: reads .env and the environment."""
    load_dotenv()
    configure_logging()
    run_projections = os.environ.get("PAYMENTS_RUN_PROJECTIONS", "1") != "0"
    app = create_app(build_container(Settings.from_env()), run_projections=run_projections)
    freeze_startup_objects()  # one worker process serves this app until it stops
    return app
