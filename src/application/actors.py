"""Who is asking: the authenticated caller of a use case."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: str
    roles: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def may_see(self, owner_id: str) -> bool:
        return self.is_admin or self.user_id == owner_id
