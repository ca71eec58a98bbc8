"""Contact centres built programmatically: N queues, M agents, S skills, one flow per queue.

Every queue requires one or two skills drawn from S skills (level 1); every agent holds four to
six skills (levels 1-5) and serves every queue whose skills it holds (`queues` empty). Each queue
has its own dialled number (DNIS `7<queue index>`) whose flow is a single queue node, so a caller
reaches the queue after one AsyncAGI round (no prompt, no menu).

Beside them, for calls that arrive to ready agents (the call-first decision): a queue of its
own (ARRIVAL_QUEUE, skill ARRIVAL_SKILL that no other queue or agent has, DNIS ARRIVAL_DNIS)
and `arrival_agents(sizes)` agents who serve it alone and answer their calls (bench/simproc.py).
No other call ever waits there, so an arriving call finds an agent ready.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Sizes:
    calls: int
    agents: int
    queues: int
    skills: int = 50

    def scaled(self, factor: int) -> Sizes:
        """The same centre `factor` times smaller (at least 2 queues and 2 agents)."""
        return Sizes(calls=max(1, self.calls // factor), agents=max(2, self.agents // factor),
                     queues=max(2, self.queues // factor), skills=self.skills)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def parse_sizes(text: str) -> Sizes:
    """`CALLS,AGENTS,QUEUES` as the command lines take them (an argparse `type`: a bad value
    is the command's usage error, naming it)."""
    try:
        calls, agents, queues = (int(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"sizes must be three whole numbers such as 1000,500,100, not {text!r}") from None
    return Sizes(calls=calls, agents=agents, queues=queues)


FULL = Sizes(calls=10_000, agents=5_000, queues=1_000, skills=50)
QUICK = Sizes(calls=1_000, agents=500, queues=100, skills=50)


def skill_name(i: int) -> str:
    return f"s{i:02d}"


def queue_name(i: int) -> str:
    return f"q{i:04d}"


def dnis_of(i: int) -> str:
    return f"7{i:04d}"


def agent_ext(i: int) -> str:
    return f"{20000 + i}"


ARRIVAL_QUEUE, ARRIVAL_SKILL, ARRIVAL_DNIS, ARRIVAL_FLOW = "arrive", "arrive", "79999", "arrive"


def arrival_agents(sizes: Sizes) -> int:
    return max(4, sizes.agents // 50)


def arrival_ext(i: int) -> str:
    return f"{ARRIVAL_EXT0 + i}"


def is_arrival_ext(ext: str) -> bool:
    return ext.isdigit() and int(ext) >= ARRIVAL_EXT0


ARRIVAL_EXT0 = 90000  # (the other agents' are 20000 + i, below it at every size)


# Every queue's callers told their place and EWT every this many seconds (0: never; the
# default, as the runs in BENCHMARKS.md's table): `python -m bench --announce-every S`.
ANNOUNCE_EVERY_S = 0.0


def build(sizes: Sizes, *, seed: int = 7, login_at_start: bool = False,
          wrapup_s: float = 0.0, ring_timeout_s: float = 300.0,
          snapshot_interval_s: float = 1.0, own_process: bool = False) -> dict[str, Any]:
    """The config dict of a centre of `sizes` (every agent can serve at least one queue)."""
    rnd = random.Random(seed)
    skills = [skill_name(i) for i in range(sizes.skills)]
    queue_skills: list[dict[str, int]] = []
    for _ in range(sizes.queues):
        picked = rnd.sample(skills, 1 if rnd.random() < 0.6 else 2)
        queue_skills.append({s: 1 for s in picked})
    queues = {
        queue_name(i): {"skills": req, "wrapup_s": wrapup_s, "ring_timeout_s": ring_timeout_s,
                        "max_wait_s": 7 * 86_400.0}
        for i, req in enumerate(queue_skills)
    }
    if ANNOUNCE_EVERY_S > 0:
        for q in queues.values():
            q["announce"] = {"every_s": ANNOUNCE_EVERY_S, "on_entry": False}
    agents: dict[str, Any] = {}
    for i in range(sizes.agents):
        # Start from one queue's requirements, so no agent is useless, then add skills.
        held = dict.fromkeys(queue_skills[i % sizes.queues], 3)
        for s in rnd.sample(skills, rnd.randint(3, 5)):
            held.setdefault(s, rnd.randint(1, 5))
        agents[f"a{i:05d}"] = {"interface": f"PJSIP/{agent_ext(i)}", "extension": agent_ext(i),
                               "skills": held, "login_at_start": login_at_start}
    for i in range(arrival_agents(sizes)):
        agents[f"arrive{i:03d}"] = {"interface": f"PJSIP/{arrival_ext(i)}",
                                    "extension": arrival_ext(i), "skills": {ARRIVAL_SKILL: 1},
                                    "login_at_start": login_at_start}
    queues[ARRIVAL_QUEUE] = {"skills": {ARRIVAL_SKILL: 1}, "wrapup_s": 0.0,
                             "ring_timeout_s": ring_timeout_s, "max_wait_s": 7 * 86_400.0}
    flows = {
        f"f{i:04d}": {"dnis": [dnis_of(i)], "start": "q",
                      "nodes": {"q": {"type": "queue", "queue": queue_name(i)}}}
        for i in range(sizes.queues)
    }
    flows[ARRIVAL_FLOW] = {"dnis": [ARRIVAL_DNIS], "start": "q",
                           "nodes": {"q": {"type": "queue", "queue": ARRIVAL_QUEUE}}}
    return {
        "pbx": {"name": "bench", "ping_interval_s": 5},
        "http": {"anonymous_read": True, "snapshot_interval_s": snapshot_interval_s,
                 "own_process": own_process},
        "queues": queues, "agents": agents, "flows": flows,
    }
