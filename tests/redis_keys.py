"""Test isolation on the shared Redis server: a unique key prefix per test, removed after it."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis


def delete_prefix(url: str, prefix: str) -> int:
    """Delete every key under `prefix` (never FLUSHDB: other tests share the server)."""
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        return int(client.delete(*keys)) if keys else 0
    finally:
        client.close()


@contextmanager
def unique_prefix(url: str) -> Iterator[str]:
    prefix = f"test:{uuid.uuid4().hex}:"
    try:
        yield prefix
    finally:
        delete_prefix(url, prefix)
