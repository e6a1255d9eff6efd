"""Readiness probes: what the service depends on, each checked on its own."""

from typing import Protocol, runtime_checkable


@runtime_checkable
class DependencyProbe(Protocol):
    """Checks one dependency; raises when it does not answer."""

    name: str

    def check(self) -> None: ...
