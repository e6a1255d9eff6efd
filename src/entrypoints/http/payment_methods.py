"""Payment-method routes: the user's own wallet of saved cards."""

from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from application.actors import Actor
from application.payment_methods import (
    AddPaymentMethod,
    ChooseDefaultPaymentMethod,
    RemovePaymentMethod,
    add_payment_method,
    choose_default_payment_method,
    remove_payment_method,
)
from application.ports import Clock, PaymentGateway, WalletStore
from application.wallet_queries import WalletEntry, list_payment_methods
from entrypoints.http.openapi_docs import API, WITH_BODY, error_responses
from entrypoints.http.wallet_schemas import (
    AddPaymentMethodBody,
    PaymentMethodOut,
    PaymentMethodsResponse,
)

AnyRequest = Request[Actor, Any, Any]


def method_out(entry: WalletEntry) -> PaymentMethodOut:
    card = entry.card
    return PaymentMethodOut(
        id=card.payment_method_id,
        brand=card.brand,
        last4=card.last4,
        exp_month=card.exp_month,
        exp_year=card.exp_year,
        is_default=entry.is_default,
        is_expired=entry.is_expired,
        created_at=card.created_at,
    )


class PaymentMethodController(Controller):
    path = "/api/payment-methods"
    tags = ["payment methods"]

    @get(
        "/",
        operation_id="listPaymentMethods",
        sync_to_thread=True,
        responses=error_responses(*API),
    )
    def list_methods(
        self,
        request: AnyRequest,
        wallets: NamedDependency[WalletStore],
        clock: NamedDependency[Clock],
    ) -> PaymentMethodsResponse:
        entries = list_payment_methods(request.user.user_id, wallets=wallets, clock=clock)
        return PaymentMethodsResponse(payment_methods=[method_out(e) for e in entries])

    @post(
        "/",
        operation_id="addPaymentMethod",
        status_code=201,
        responses=error_responses(*WITH_BODY, 402, 404),
    )
    async def add(
        self,
        request: AnyRequest,
        data: JSONBody[AddPaymentMethodBody],
        wallets: NamedDependency[WalletStore],
        gateway: NamedDependency[PaymentGateway],
        clock: NamedDependency[Clock],
    ) -> PaymentMethodOut:
        entry = await add_payment_method(
            AddPaymentMethod(
                user_id=request.user.user_id,
                payment_method_id=data.payment_method_id,
                set_default=data.set_default,
            ),
            wallets=wallets,
            gateway=gateway,
            clock=clock,
        )
        return method_out(entry)

    @delete(
        "/{payment_method_id:str}",
        operation_id="removePaymentMethod",
        responses=error_responses(*API, 404),
    )
    async def remove(
        self,
        request: AnyRequest,
        payment_method_id: FromPath[str],
        wallets: NamedDependency[WalletStore],
        gateway: NamedDependency[PaymentGateway],
    ) -> None:
        await remove_payment_method(
            RemovePaymentMethod(user_id=request.user.user_id, payment_method_id=payment_method_id),
            wallets=wallets,
            gateway=gateway,
        )

    @post(
        "/{payment_method_id:str}/default",
        operation_id="choosePaymentMethodAsDefault",
        status_code=200,
        responses=error_responses(*API, 404),
        sync_to_thread=True,
    )
    def choose_default(
        self,
        request: AnyRequest,
        payment_method_id: FromPath[str],
        wallets: NamedDependency[WalletStore],
        clock: NamedDependency[Clock],
    ) -> PaymentMethodOut:
        entry = choose_default_payment_method(
            ChooseDefaultPaymentMethod(
                user_id=request.user.user_id, payment_method_id=payment_method_id
            ),
            wallets=wallets,
            clock=clock,
        )
        return method_out(entry)
