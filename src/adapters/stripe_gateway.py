"""The payment gateway on Stripe: stripe-python's StripeClient (v1 API), async over aiohttp."""

import asyncio
import logging
import ssl
import weakref
from datetime import datetime
from typing import Any
from uuid import UUID

import aiohttp
import stripe

from adapters.stripe_errors import declined, raise_for
from adapters.stripe_objects import intent_outcome, metadata_of, refund_outcome
from adapters.stripe_payment_methods import attach, detach
from application.ports import ChargeOutcome, ChargeRequest, RefundOutcome, RefundRequest
from domain.saved_card import SavedCard

log = logging.getLogger(__name__)

# Stripe's own refund reasons; anything else the caller says goes into metadata only.
Client = tuple[stripe.StripeClient, stripe.AIOHTTPClient]
STRIPE_REFUND_REASONS = {"duplicate", "fraudulent", "requested_by_customer"}
MAX_METADATA_VALUE = 500


class StripeGateway:
    """PaymentIntents and Refunds at Stripe; every mutating call but a cancel carries an
    idempotency key."""

    def __init__(
        self,
        secret_key: str,
        *,
        api_base: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        max_network_retries: int = 2,
        connections: int = 100,
    ) -> None:
        def client() -> Client:
            # Made inside the running event loop, which aiohttp's connection pool belongs to.
            connector = aiohttp.TCPConnector(
                limit=connections, ssl=ssl.create_default_context(cafile=stripe.ca_bundle_path)
            )
            timeout = aiohttp.ClientTimeout(connect=connect_timeout, sock_read=read_timeout)
            http = stripe.AIOHTTPClient(timeout=timeout, connector=connector)
            api = stripe.StripeClient(
                secret_key,
                base_addresses={"api": api_base} if api_base else None,
                max_network_retries=max_network_retries,
                http_client=http,
            )
            return api, http

        self._new_client = client
        # One client per event loop (a worker has one): its connections belong to that loop.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Client]
        self._clients = weakref.WeakKeyDictionary()

    @property
    def _v1(self) -> Any:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = self._new_client()
        return client[0].v1

    async def aclose(self) -> None:
        """Close this event loop's connections (a worker's, at shutdown)."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client[1].close_async()  # type: ignore[no-untyped-call]

    async def create_customer(self, user_id: str, idempotency_key: str) -> str:
        try:
            customer = await self._v1.customers.create_async(
                {"metadata": {"user_id": user_id}}, {"idempotency_key": idempotency_key}
            )
        except stripe.StripeError as error:
            raise_for(error, "creating a customer")
        return str(customer.id)

    async def charge(self, request: ChargeRequest) -> ChargeOutcome:
        metadata = {"payment_id": str(request.payment_id), "user_id": request.user_id}
        if request.course_id:
            metadata["course_id"] = request.course_id
        params: dict[str, Any] = {
            "amount": request.amount,
            "currency": request.currency,
            "payment_method": request.payment_method_id,
            "payment_method_types": ["card"],
            "confirm": True,
            "metadata": metadata,
        }
        if request.customer_id:
            params["customer"] = request.customer_id
        try:
            intent = await self._v1.payment_intents.create_async(
                params, {"idempotency_key": request.idempotency_key}
            )
        except stripe.CardError as error:
            return declined(error)
        except stripe.StripeError as error:
            raise_for(error, "creating a PaymentIntent", charging=True)
        return intent_outcome(intent)

    async def retrieve_charge(self, intent_id: str) -> ChargeOutcome:
        return intent_outcome(await self._intent(intent_id))

    async def cancel_charge(self, intent_id: str) -> ChargeOutcome:
        try:
            # No key of ours: Stripe would replay a first "cannot cancel now" for a day, while
            # cancelling is safe to repeat (stripe-python keys its own retries of this call).
            intent = await self._v1.payment_intents.cancel_async(intent_id)
        except stripe.InvalidRequestError as error:
            if error.http_status == 404:  # not at Stripe (another account or mode): nobody pays it
                log.warning("Stripe has no PaymentIntent %s to cancel", intent_id)
                return ChargeOutcome(intent_id=intent_id, status="canceled")
            if error.http_status != 400:
                raise_for(error, "canceling a PaymentIntent")
            # payment_intent_unexpected_state: nothing was canceled; the intent says why.
            log.info("Stripe did not cancel %s (%s): reading it", intent_id, error.code)
            return await self.retrieve_charge(intent_id)
        except stripe.StripeError as error:
            raise_for(error, "canceling a PaymentIntent")
        return intent_outcome(intent)

    async def client_secret(self, intent_id: str) -> str | None:
        return intent_outcome(await self._intent(intent_id)).client_secret

    async def _intent(self, intent_id: str) -> Any:
        try:
            return await self._v1.payment_intents.retrieve_async(intent_id)
        except stripe.StripeError as error:
            raise_for(error, "retrieving a PaymentIntent")

    async def find_charge(
        self, payment_id: UUID, customer_id: str, created_after: datetime
    ) -> ChargeOutcome | None:
        params = {
            "customer": customer_id,
            "created": {"gte": int(created_after.timestamp())},
            "limit": 100,
        }
        try:
            listed = await self._v1.payment_intents.list_async(params)
            async for intent in listed.auto_paging_iter():
                if metadata_of(intent).get("payment_id") == str(payment_id):
                    return intent_outcome(intent)
        except stripe.StripeError as error:
            raise_for(error, "listing PaymentIntents")
        return None

    async def refund(self, request: RefundRequest) -> RefundOutcome:
        metadata = {"payment_id": str(request.payment_id)}
        if request.number is not None:
            metadata["refund_number"] = str(request.number)
        if request.reason:
            metadata["reason"] = request.reason[:MAX_METADATA_VALUE]
        params: dict[str, Any] = {
            "payment_intent": request.intent_id,
            "amount": request.amount,
            "metadata": metadata,
        }
        if request.reason in STRIPE_REFUND_REASONS:
            params["reason"] = request.reason
        try:
            refund = await self._v1.refunds.create_async(
                params, {"idempotency_key": request.idempotency_key}
            )
        except stripe.StripeError as error:
            raise_for(error, "creating a refund")
        return refund_outcome(refund)

    async def find_refund(
        self, intent_id: str, payment_id: UUID, number: int
    ) -> RefundOutcome | None:
        try:
            refunds = await self._v1.refunds.list_async({"payment_intent": intent_id, "limit": 100})
            async for refund in refunds.auto_paging_iter():
                metadata = metadata_of(refund)
                ours = (metadata.get("payment_id"), metadata.get("refund_number"))
                if ours == (str(payment_id), str(number)):
                    return refund_outcome(refund)
        except stripe.StripeError as error:
            raise_for(error, "listing refunds")
        return None

    # Payment methods: the calls live in adapters/stripe_payment_methods.py.
    async def attach_payment_method(self, payment_method_id: str, customer_id: str) -> SavedCard:
        return await attach(self._v1, payment_method_id, customer_id)

    async def detach_payment_method(self, payment_method_id: str) -> None:
        await detach(self._v1, payment_method_id)
