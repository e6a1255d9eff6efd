"""localstripe's aiohttp app served on 127.0.0.1 from a thread (its CLI binds every interface)."""

import asyncio
import threading

from aiohttp import web
from localstripe import resources, server


class LocalStripe:
    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(server.app, access_log=None)
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.url = ""

    def start(self) -> "LocalStripe":
        # localstripe pickles its whole store to one file in /tmp on every write; shared by
        # everyone on the machine and not needed here: keep the store in memory only.
        resources.store.dump_to_disk = lambda: None
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._runner.setup(), self._loop).result(10)
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        asyncio.run_coroutine_threadsafe(site.start(), self._loop).result(10)
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
