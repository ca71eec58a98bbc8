"""A simulated Asterisk 20 PBX speaking AMI over TCP (for tests, demos and load runs).

Public API: :class:`PbxSim`, :class:`CallerSpec`, :class:`AgentPhone`, :class:`Traffic`,
:class:`RealClock`, :class:`ManualClock`.
"""

from acd.pbxsim.clock import Clock, ManualClock, RealClock
from acd.pbxsim.model import AgentPhone, CallerSpec
from acd.pbxsim.sim import PbxSim
from acd.pbxsim.traffic import Traffic

__all__ = ["AgentPhone", "CallerSpec", "Clock", "ManualClock", "PbxSim", "RealClock", "Traffic"]
