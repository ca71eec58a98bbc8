"""Request bodies and answers of the wrap-up and transfer commands (issue 9). The OpenAPI
document is generated from these classes."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

Code = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


class WrapupBody(_Model):
    codes: list[Code] = Field(default_factory=list, max_length=10, description="wrap-up codes "
                              "of the call's queue (they replace those given before)")
    resolved: StrictBool | None = Field(None, description="was the caller's need resolved? "
                                        "(null: not said, or unchanged)")
    done: StrictBool = Field(False, description="end the wrap-up now (the agent is ready); "
                             "a queue in `until_code` mode ends it as soon as a code is given")


class WrapupOut(_Out):
    agent_id: str
    state: str = Field(description="the agent's state after the command")
    call_id: str = Field(description="the call being wrapped up (empty once the wrap-up "
                         "ended)")
    codes: list[str] = Field(description="codes given so far in this wrap-up")
    resolved: bool | None


class TransferBody(_Model):
    queue: Code | None = Field(None, description="send the call to this queue")
    agent: Code | None = Field(None, description="... or to this agent (rung like a normal "
                               "connect)")
    mode: Literal["blind", "warm"] = Field(
        "blind", description="blind: the call goes at once, the agent wraps up; warm: the "
        "agent first talks to the target (an agent, or the best ready agent of the queue) "
        "while the caller holds, then completes or cancels")

    @model_validator(mode="after")
    def _one_target(self) -> TransferBody:
        if (self.queue is None) == (self.agent is None):
            raise ValueError("give exactly one of queue, agent")
        return self


TransferKind = Literal["blind", "warm", "escalation"]


class TransferOut(_Out):
    call_id: str
    kind: TransferKind
    state: str = Field(description="the call's state: waiting (in the target queue), ringing "
                       "(the target agent), connected, or consulting (warm, not completed)")
    queue: str
    agent_id: str = Field(description="the agent the call is with or rings (empty: waiting)")
    consult_agent: str = Field(description="warm transfer in progress: the agent consulted")
    transfers: int = Field(description="transfers of this call so far")
