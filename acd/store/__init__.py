"""Redis store of live calls, agents, queues and events. The only package that imports redis."""

from acd.store.agents import StateChange
from acd.store.base import BackendError, Prepared, interval_start, stats_ttl
from acd.store.keys import Keys
from acd.store.results import ClaimReason, ClaimResult, EndResult, StoreError
from acd.store.store import Store

__all__ = ["BackendError", "ClaimReason", "ClaimResult", "EndResult", "Keys", "Prepared",
           "StateChange", "Store", "StoreError", "interval_start", "stats_ttl"]
