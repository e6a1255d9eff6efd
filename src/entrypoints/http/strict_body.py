"""Strict JSON bodies: Litestar converts leniently ("100" -> 100); a payment API must not."""

import re
from typing import Any

import msgspec
from litestar.connection import ASGIConnection
from litestar.exceptions import ValidationException
from litestar.handlers import BaseRouteHandler

_PATH = re.compile(r" - at `\$\.?([^`]*)`$")


def problem(error: msgspec.ValidationError | msgspec.DecodeError) -> dict[str, str]:
    text = str(error)
    match = _PATH.search(text)
    if not isinstance(error, msgspec.ValidationError):
        return {"key": "", "message": "the request body is not valid JSON"}
    if match is None:
        return {"key": "", "message": text}
    return {"key": match.group(1), "message": text[: match.start()]}


async def strict_json_body(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Guard: decode the body with strict types against the handler's `data` annotation."""
    field = handler.parsed_fn_signature.parameters.get("data")
    if field is None:
        return
    content_type = connection.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise ValidationException("send the body as application/json", status_code=415)
    body = await connection.body()  # type: ignore[attr-defined]
    try:
        msgspec.json.decode(body, type=field.annotation, strict=True)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise ValidationException(extra=[problem(error)]) from None
