"""The Lua scripts of the store, loaded from `lua/*.lua` and registered with one client."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

# Prepended to every script: Redis scripts cannot import each other.
_LIB = "_lib.lua"


def _source(name: str) -> str:
    return (resources.files("acd.store") / "lua" / name).read_text(encoding="utf-8")


@dataclass(frozen=True, slots=True)
class Scripts:
    create_call: AsyncScript
    update_call: AsyncScript
    enqueue: AsyncScript
    claim: AsyncScript
    answer: AsyncScript
    requeue: AsyncScript
    end_call: AsyncScript
    sync_agent: AsyncScript
    remove_agent: AsyncScript
    set_agent_state: AsyncScript

    @classmethod
    def register(cls, client: Redis) -> Scripts:
        """Register (no round trip): redis-py sends EVALSHA and loads on NOSCRIPT."""
        lib = _source(_LIB)
        loaded = {
            name: client.register_script(lib + "\n" + _source(f"{name}.lua"))
            for name in cls.__dataclass_fields__
        }
        return cls(**loaded)
