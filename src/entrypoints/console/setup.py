"""Everything the app needs to serve the console: routes, templates, static files, CSRF."""

from pathlib import Path
from typing import Any

from litestar import Router
from litestar.config.csrf import CSRFConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ControllerRouterHandler, Middleware

from entrypoints.console.formatting import cause_text, money, when
from entrypoints.console.pages import ConsoleController
from entrypoints.console.session import SignInRequired, csrf_config, session_config
from entrypoints.console.sign_in import SignInController
from entrypoints.settings import Settings

HERE = Path(__file__).resolve().parent


def _filters(engine: JinjaTemplateEngine) -> None:
    engine.engine.filters.update(money=money, cause=cause_text, when=when)


def templates() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(
        directory=HERE / "templates", engine=JinjaTemplateEngine, engine_callback=_filters
    )


def _to_sign_in(_: Any, __: Exception) -> Redirect:
    return Redirect("/console/login", status_code=303)


def console_routes(settings: Settings) -> list[ControllerRouterHandler]:
    pages = Router(
        path="/",
        route_handlers=[SignInController, ConsoleController],
        exception_handlers={SignInRequired: _to_sign_in},
        include_in_schema=False,
    )
    static = create_static_files_router(
        path="/console/static", directories=[HERE / "static"], include_in_schema=False
    )
    return [pages, static]


def console_middleware(settings: Settings) -> list[Middleware]:
    """The session cookie, read and written on console pages only."""
    return [session_config(settings.jwt_secret).middleware]


def console_csrf(settings: Settings) -> CSRFConfig:
    return csrf_config(settings.jwt_secret)
