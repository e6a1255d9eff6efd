"""The console's pages: find payments, read one, refund it."""

import secrets
from typing import Any

import anyio
import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from application.actors import Actor
from application.audit import payment_audit_trail
from application.causes import api_request, caused_by
from application.errors import NotFound
from application.idempotency import IdempotentRequests
from application.operator_search import (
    OperatorPage,
    PaymentSearch,
    find_payments,
    payment_query,
)
from application.ports import AuditTrail, PaymentGateway, PaymentStore
from application.queries import get_payment
from application.refund_payment import RefundPayment
from domain.errors import InvalidInput
from domain.payment_status import PaymentStatus
from entrypoints.console.chain import ChainState
from entrypoints.console.formatting import day, minor_units, money
from entrypoints.console.session import operator_guard
from entrypoints.http.admission import Admission
from entrypoints.http.errors import api_error
from entrypoints.http.payments import parse_payment_id
from entrypoints.http.refunds import refund_response
from entrypoints.http.request_context import request_id_of
from entrypoints.http.schemas import RefundResponse

ConsoleRequest = Request[Actor, Any, Any]
PAGE_SIZE = 25
MAX_PAGE = 100_000
STATUSES = [s.value for s in PaymentStatus]


def take_flash(request: ConsoleRequest) -> dict[str, str] | None:
    flash = request.session.pop("flash", None) if request.session else None
    return flash if isinstance(flash, dict) else None


class ConsoleController(Controller):
    path = "/console"
    guards = [operator_guard]
    include_in_schema = False

    @get("/", sync_to_thread=True)
    def search(
        self, request: ConsoleRequest, operator_search: NamedDependency[PaymentSearch]
    ) -> Template:
        args = request.query_params
        form = {k: args.get(k, "") for k in ("q", "status", "from", "to")}
        page_text = args.get("page", "")
        page_number = min(max(int(page_text), 1), MAX_PAGE) if page_text.isdigit() else 1
        flash = take_flash(request)
        try:
            query = payment_query(
                form["q"],
                status=form["status"] or None,
                created_from=day(form["from"], "from"),
                created_to=day(form["to"], "to"),
                limit=PAGE_SIZE,
                offset=(page_number - 1) * PAGE_SIZE,
            )
            result = find_payments(request.user, query, search=operator_search)
        except InvalidInput as problem:
            flash, result = {"kind": "error", "text": str(problem)}, None
        return Template(
            "search.html",
            context={
                "form": form,
                "statuses": STATUSES,
                "result": result,
                "page": page_number,
                "older": result is not None and _has_older(result, page_number),
                "flash": flash,
                "operator": request.user.user_id,
            },
        )

    @get("/chain", sync_to_thread=True)
    def chain(self, chain_state: NamedDependency[ChainState]) -> Template:
        return Template("chain.html", context={"chain": chain_state.current()})

    @get("/payments/{payment_id:str}", sync_to_thread=True)
    def payment(
        self,
        request: ConsoleRequest,
        payment_id: FromPath[str],
        store: NamedDependency[PaymentStore],
        audit: NamedDependency[AuditTrail],
    ) -> Template:
        try:
            wanted = parse_payment_id(payment_id)
            details = get_payment(request.user, wanted, store=store)
        except NotFound:
            return Template("missing.html", context={"payment_id": payment_id}, status_code=404)
        return Template(
            "payment.html",
            context={
                "payment": details,
                "events": payment_audit_trail(request.user, wanted, trail=audit),
                "refund_key": secrets.token_urlsafe(24),  # one refund per rendered form
                "flash": take_flash(request),
                "operator": request.user.user_id,
            },
        )

    @post("/payments/{payment_id:str}/refund", status_code=HTTP_303_SEE_OTHER)
    async def refund(
        self,
        request: ConsoleRequest,
        payment_id: FromPath[str],
        store: NamedDependency[PaymentStore],
        gateway: NamedDependency[PaymentGateway],
        idempotency: NamedDependency[IdempotentRequests],
        admission: NamedDependency[Admission],
    ) -> Redirect:
        wanted = parse_payment_id(payment_id)
        form = await request.form()
        here = f"/console/payments/{wanted}"
        try:
            payment = await anyio.to_thread.run_sync(lambda: store.find(wanted))
            currency = payment.currency if payment else "usd"
            cmd = RefundPayment(
                actor=request.user,
                payment_id=wanted,
                amount=minor_units(str(form.get("amount", "")), currency),
                reason=str(form.get("reason", "")).strip() or None,
                idempotency_key=str(form.get("idempotency_key", "")) or None,
            )
            cause = api_request(request_id_of(request.scope), request.user.user_id)

            with caused_by(cause):  # the operator, not the anonymous request
                response = await refund_response(
                    cmd, store=store, gateway=gateway, idempotency=idempotency, admission=admission
                )
            answer = msgspec.json.decode(response.content, type=RefundResponse)
            flash = {"kind": "ok", "text": _refunded(answer, currency)}
        except Exception as error:  # the contract's answer, as the API would give it
            problem = api_error(error)
            if problem.code == "INTERNAL_ERROR":
                raise
            flash = {"kind": "error", "text": f"{problem.code}: {problem.message}"}
        request.session["flash"] = flash
        return Redirect(here, status_code=HTTP_303_SEE_OTHER)


def _has_older(result: OperatorPage, page: int) -> bool:
    if result.more:
        return len(result.items) == PAGE_SIZE
    return page * PAGE_SIZE < result.total


def _refunded(answer: RefundResponse, currency: str) -> str:
    amount, refund = money(answer.amount, currency), answer.refund_id or "no id yet"
    if answer.status in ("refunded", "partially_refunded"):
        return f"Refunded {amount} (refund {refund}); the payment is now {answer.status}"
    return f"Refund of {amount} sent (refund {refund}); Stripe has not settled it yet"
