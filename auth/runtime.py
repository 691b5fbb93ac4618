"""What authentication keeps for the server's lifetime: settings, signing keys and the password hasher."""

from __future__ import annotations

from dataclasses import dataclass

import anyio

from auth.passwords import PasswordHasher
from auth.tokens import SigningKeys
from common.settings import Settings


@dataclass(frozen=True)
class AuthRuntime:
    """The long-lived pieces authentication needs: settings, signing keys and the password hasher."""

    settings: Settings
    keys: SigningKeys
    hasher: PasswordHasher

    @classmethod
    def from_settings(cls, settings: Settings, keys: SigningKeys) -> AuthRuntime:
        return cls(
            settings=settings,
            keys=keys,
            hasher=PasswordHasher(
                time_cost=settings.argon2_time_cost,
                memory_cost_kib=settings.argon2_memory_kib,
                parallelism=settings.argon2_parallelism,
            ),
        )

    async def hash(self, password: str) -> str:
        # argon2 is deliberately slow; keep it off the event loop.
        return await anyio.to_thread.run_sync(self.hasher.hash, password)

    async def verify(self, encoded: str | None, password: str) -> bool:
        if encoded is None:
            await anyio.to_thread.run_sync(self.hasher.verify_dummy, password)
            return False
        return await anyio.to_thread.run_sync(self.hasher.verify, encoded, password)
