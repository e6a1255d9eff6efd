"""One way to run a refund over HTTP, for the API and the console alike."""

from typing import Any

from litestar import Response

from application.idempotency import IdempotentRequests, Outcome
from application.ports import PaymentGateway, PaymentStore
from application.refund_payment import RefundPayment, refund_payment, refund_request_hash
from entrypoints.http import audit_log
from entrypoints.http.admission import Admission
from entrypoints.http.idempotency import idempotent_response, json_outcome, json_response
from entrypoints.http.schemas import RefundResponse


async def refund_response(
    cmd: RefundPayment,
    *,
    store: PaymentStore,
    gateway: PaymentGateway,
    idempotency: IdempotentRequests,
    admission: Admission,
) -> Response[Any]:
    """Run the refund use case, admitted and behind the idempotency layer; its answer as JSON."""
    async with admission.admitted("refund") as deadline:

        async def handle() -> Outcome:
            receipt = await audit_log.refund(
                lambda: refund_payment(cmd, store=store, gateway=gateway, deadline=deadline),
                user_id=cmd.actor.user_id,
                payment_id=str(cmd.payment_id),
            )
            response = RefundResponse(
                success=True,
                payment_id=receipt.payment_id,
                refund_id=receipt.refund_id,
                amount=receipt.amount,
                status=receipt.status,
            )
            return json_outcome(response, 200)

        if cmd.idempotency_key is None:
            return json_response((await handle()).response)
        return await idempotent_response(
            idempotency,
            route="refund",
            user_id=cmd.actor.user_id,
            key=cmd.idempotency_key,
            fingerprint=refund_request_hash(cmd),
            handle=handle,
        )
