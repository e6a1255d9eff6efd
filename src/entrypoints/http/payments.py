"""Payment routes: thin translations between HTTP and the use cases."""

import asyncio
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter

from application.actors import Actor
from application.errors import NotFound, PaymentDeclined, PaymentMethodRejected
from application.idempotency import Outcome
from application.ports import PaymentHistory, PaymentStore
from application.process_payment import (
    ProcessPayment,
    identity_needs_wallet,
    process_payment,
    request_identity,
)
from application.queries import get_payment, payment_history
from application.refund_payment import RefundPayment
from entrypoints.http import audit_log
from entrypoints.http.idempotency import (
    error_outcome,
    idempotent_response,
    json_outcome,
    optional_key,
    while_payment_unchanged,
)
from entrypoints.http.openapi_docs import API, WITH_BODY, error_responses
from entrypoints.http.refunds import refund_response
from entrypoints.http.schemas import (
    HistoryResponse,
    PaymentDetailsResponse,
    PaymentSummary,
    ProcessPaymentBody,
    ProcessPaymentResponse,
    RefundBody,
    RefundResponse,
    StatusName,
    details_response,
)
from entrypoints.http.services import Services

AnyRequest = Request[Actor, Any, Any]
# Checked by optional_key, whose error names the header rather than the Python parameter.
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(name="Idempotency-Key", description="1-255 printable characters"),
]


def parse_payment_id(value: str) -> UUID:
    """An id that is not a UUID names no payment: 404, like any unknown id."""
    try:
        return UUID(value)
    except ValueError:
        raise NotFound("payment not found") from None


class PaymentController(Controller):
    path = "/api/payments"
    tags = ["payments"]

    @post(
        "/process",
        operation_id="processPayment",
        status_code=201,
        responses=error_responses(*WITH_BODY, 402, 409, 422, 503),
    )
    async def process(
        self,
        request: AnyRequest,
        data: JSONBody[ProcessPaymentBody],
        services: NamedDependency[Services],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[ProcessPaymentResponse]:
        store, gateway, wallets = services.store, services.gateway, services.wallets
        async with services.admission.admitted("process") as deadline:
            cmd = ProcessPayment(
                user_id=request.user.user_id,
                amount=data.amount,
                currency=data.currency,
                payment_method_id=data.payment_method_id,
                course_id=data.course_id,
                metadata=data.metadata or {},
                idempotency_key=optional_key(idempotency_key),
            )

            async def handle() -> Outcome:
                try:
                    receipt = await audit_log.charge(
                        lambda: process_payment(
                            cmd,
                            store=store,
                            gateway=gateway,
                            wallets=wallets,
                            deadline=deadline,
                            steps=services.steps,
                        ),
                        user_id=cmd.user_id,
                        amount=cmd.amount,
                        currency=cmd.currency,
                    )
                except (PaymentDeclined, PaymentMethodRejected) as declined:
                    if declined.payment_id is None:
                        raise
                    # A decline answers an explicit key; a derived key is released.
                    return error_outcome(declined, keep=idempotency_key is not None)
                response = ProcessPaymentResponse(
                    success=True,
                    payment_id=receipt.payment_id,
                    stripe_payment_intent_id=receipt.intent_id,
                    status=receipt.status,
                    client_secret=receipt.client_secret,
                )
                return json_outcome(response, 201)

            key, fingerprint = (
                await asyncio.to_thread(request_identity, cmd, wallets)
                if identity_needs_wallet(cmd)
                else request_identity(cmd, wallets)  # no wallet to read: no trip to a thread
            )
            return await idempotent_response(
                services.idempotency,
                route="process",
                user_id=cmd.user_id,
                key=key,
                fingerprint=fingerprint,
                handle=handle,
                revalidate=None if idempotency_key else while_payment_unchanged(store),
            )

    @get(
        "/history",
        operation_id="paymentHistory",
        sync_to_thread=True,
        responses=error_responses(*API),
    )
    def history(
        self,
        request: AnyRequest,
        history: NamedDependency[PaymentHistory],
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        offset: Annotated[int, QueryParameter(ge=0, le=1_000_000_000)] = 0,
        status: FromQuery[StatusName | None] = None,
    ) -> HistoryResponse:
        page = payment_history(
            request.user, limit=limit, offset=offset, status=status, history=history
        )
        return HistoryResponse(
            payments=[
                PaymentSummary(
                    id=str(row.id),
                    user_id=row.user_id,
                    amount=row.amount,
                    currency=row.currency,
                    status=row.status,
                    refunded_amount=row.refunded_amount,
                    course_id=row.course_id,
                    created_at=row.created_at,
                    updated_at=row.updated_at,
                )
                for row in page.items
            ],
            total=page.total,
            limit=limit,
            offset=offset,
        )

    @post(
        "/refund",
        operation_id="refundPayment",
        status_code=200,
        responses=error_responses(*WITH_BODY, 403, 404, 409, 422, 503),
    )
    async def refund(
        self,
        request: AnyRequest,
        data: JSONBody[RefundBody],
        services: NamedDependency[Services],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[RefundResponse]:
        cmd = RefundPayment(
            actor=request.user,
            payment_id=parse_payment_id(data.payment_id),
            amount=data.amount,
            reason=data.reason,
            idempotency_key=optional_key(idempotency_key),
        )
        return await refund_response(
            cmd,
            store=services.store,
            gateway=services.gateway,
            idempotency=services.idempotency,
            admission=services.admission,
        )

    @get(
        "/{payment_id:str}",
        operation_id="getPayment",
        sync_to_thread=True,
        responses=error_responses(*API, 404),
    )
    def details(
        self, request: AnyRequest, payment_id: FromPath[str], store: NamedDependency[PaymentStore]
    ) -> PaymentDetailsResponse:
        payment = get_payment(request.user, parse_payment_id(payment_id), store=store)
        return details_response(payment)
