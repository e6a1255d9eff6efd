"""The baseline: the smallest Litestar endpoint, served the same way as the service."""

from litestar import Litestar, get


@get("/ping", sync_to_thread=False)
def ping() -> dict[str, bool]:
    return {"ok": True}


app = Litestar(route_handlers=[ping])
