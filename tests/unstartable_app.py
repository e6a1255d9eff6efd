"""An ASGI app whose start-up fails, as ours does when a dependency it needs at start is broken:
a worker serving it exits before it serves."""

from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await receive()  # lifespan.startup
        await send({"type": "lifespan.startup.failed", "message": "this app cannot start"})
