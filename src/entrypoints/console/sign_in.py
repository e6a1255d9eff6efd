"""Signing in with an admin token, and out again."""

from typing import Any

import structlog
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from entrypoints.console.session import (
    TokenRefused,
    end_session,
    new_session,
    session_of,
    verified_admin,
)
from entrypoints.settings import Settings

audit = structlog.get_logger("payments.audit")


class SignInController(Controller):
    path = "/console"
    include_in_schema = False

    @get("/login", name="console:login")
    async def form(self) -> Template:
        return Template("login.html", context={"message": None})

    @post("/login", status_code=HTTP_303_SEE_OTHER)
    async def sign_in(
        self, request: Request[Any, Any, Any], settings: NamedDependency[Settings]
    ) -> Response[Any] | Template:
        form = await request.form()
        try:
            actor, expiry = verified_admin(str(form.get("token", "")), settings.jwt_secret)
        except TokenRefused as refused:
            audit.info("console.sign_in", outcome="refused", reason=str(refused))
            request.scope["session"] = {}
            return Template("login.html", context={"message": str(refused)}, status_code=403)
        request.set_session(new_session(actor, expiry))
        audit.info("console.sign_in", outcome="signed_in", user_id=actor.user_id)
        return Redirect("/console", status_code=HTTP_303_SEE_OTHER)

    @post("/logout", status_code=HTTP_303_SEE_OTHER)
    async def sign_out(self, request: Request[Any, Any, Any]) -> Redirect:
        operator = session_of(request).get("operator")
        await end_session(request)
        audit.info("console.sign_out", user_id=operator)
        return Redirect("/console/login", status_code=HTTP_303_SEE_OTHER)
