"""Who or what made a change: a staff user, an API key, or the system (a task, a CLI command)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Actor:
    label: str
    user: Any = None

    @classmethod
    def for_user(cls, user) -> Actor:
        return cls(label=f"user:{user.pk}", user=user)

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(label=name)

    @property
    def display(self) -> str:
        if self.user is not None:
            return self.user.get_full_name() or self.user.get_username()
        return self.label


SYSTEM = Actor.system()
