"""Every Redis key name of the store, and nowhere else.

Each key carries the PBX name as a hash tag (`acd:{pbx1}:call:abc`), so all keys of one PBX share
one Redis Cluster slot and any Lua script may touch several of them.
"""

from __future__ import annotations

from dataclasses import dataclass

_FORBIDDEN = frozenset("{}: \t\r\n")


def _check_part(kind: str, value: str) -> str:
    # A brace would break the hash tag; a colon or blank would make names ambiguous.
    if not value or _FORBIDDEN & set(value):
        raise ValueError(f"invalid {kind} for Redis keys: {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = "acd"
    pbx: str = "default"

    def __post_init__(self) -> None:
        _check_part("prefix", self.prefix)
        _check_part("pbx", self.pbx)

    @property
    def base(self) -> str:
        return f"{self.prefix}:{{{self.pbx}}}"

    def call(self, call_id: str) -> str:
        """Hash: one call, fields mirror `Call`."""
        return f"{self.base}:call:{call_id}"

    @property
    def live_calls(self) -> str:
        """Set: ids of calls not yet ended."""
        return f"{self.base}:calls"

    def lease(self, call_id: str) -> str:
        """String: the id of the service instance that drives the call. Another instance
        may take it once that instance's `instance` key has lapsed (it died). Deleted when
        the call ends (end_call.lua); its own TTL (an hour, stamped again now and then) is
        only a backstop for a lease that outlives its call."""
        return f"{self.base}:lease:{call_id}"

    @property
    def instance_prefix(self) -> str:
        """`instance` keys without the id (the lease scripts read a holder's key)."""
        return f"{self.base}:instance:"

    def instance(self, instance_id: str) -> str:
        """String with a TTL: the instance is alive while it renews this (one key for all
        its calls' leases: renewing 10,000 per-call leases held Redis every 1.5 s)."""
        return f"{self.instance_prefix}{instance_id}"

    @property
    def instances(self) -> str:
        """Set: ids of the instances that have held leases. The others look through the live
        calls for orphans when one of these has lapsed (and only now and then otherwise)."""
        return f"{self.base}:instances"

    def agent(self, agent_id: str) -> str:
        """Hash: one agent, fields mirror `Agent`."""
        return f"{self.base}:agent:{agent_id}"

    @property
    def agents(self) -> str:
        """Set: ids of known agents."""
        return f"{self.base}:agents"

    def queue(self, name: str) -> str:
        """Sorted set: waiting call ids of one queue, best first (see lua/_lib.lua)."""
        return f"{self.base}:queue:{name}"

    @property
    def events(self) -> str:
        """Stream: one entry per state change, capped."""
        return f"{self.base}:events"

    @property
    def offsets(self) -> str:
        """String (JSON): the service-objective offsets per queue that the figures process
        computed, for the routing process to apply (`acd run` with http.own_process)."""
        return f"{self.base}:offsets"

    @property
    def handle_times(self) -> str:
        """String (JSON): each queue's handle time over the last hour (talk + wrap-up per call
        handled), from the figures, for the routing process's wait estimates."""
        return f"{self.base}:aht"

    # --- statistics (written by the same scripts as the state change they count)

    def queue_interval(self, queue: str, start: int) -> str:
        """Hash: a queue's counts in the 15-minute interval starting at `start` (epoch s).

        Fields: the `QueueCounts` names; histograms as `aw:<bucket>` (answered waits) and
        `bw:<bucket>` (abandoned waits). Expires after the history is kept.
        """
        return f"{self.base}:qstat:{queue}:{start}"

    def queue_recent(self, queue: str) -> str:
        """Sorted set: a queue's facts of the last hour (+ margin), scored by their time.

        Members `<kind>|<id>[|...]|<value>`: see acd/store/stats.py.
        """
        return f"{self.base}:qrecent:{queue}"

    def agent_interval(self, agent_id: str, start: int) -> str:
        """Hash: an agent's `AgentCounts` fields in one 15-minute interval."""
        return f"{self.base}:astat:{agent_id}:{start}"

    def funnel_interval(self, flow: str, start: int) -> str:
        """Hash: an IVR flow's funnel in one interval: `r:<node>` callers who reached the node,
        `l:<node>:<exit>` callers who left the IVR there."""
        return f"{self.base}:funnel:{flow}:{start}"

    def last_answer(self, caller_num: str) -> str:
        """Hash: a caller number's last answered call: call, at, queue, agent, reason, repeated
        ("1" once a later call counted it as repeated). Expires after the longest window that
        reads it (last-agent routing, repeat calls)."""
        return f"{self.base}:lastans:{caller_num}"

    def crm_cache(self, by: str, key: str) -> str:
        """String (JSON, expires): a CRM lookup's answer by `by` (caller_num or account),
        found or not (acd/store/crm.py)."""
        return f"{self.base}:crm:{by}:{key}"

    @property
    def vip_numbers(self) -> str:
        return f"{self.base}:vip:numbers"

    @property
    def vip_accounts(self) -> str:
        return f"{self.base}:vip:accounts"
