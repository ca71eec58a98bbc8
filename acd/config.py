"""The configuration: one TOML file, validated at start with every error reported at once.

pydantic (extra="forbid") names each bad key by its path; `load_config` turns its errors into
`ConfigError` lines like ``queues.sales.sla.threshold_s: must be > 0``.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from acd.config_policies import (
    AdmissionConfig,
    AnnounceConfig,
    CallbackConfig,
    SurveyConfig,
    policy_problems,
)

Level = Annotated[int, Field(ge=1, le=5)]
SkillMap = dict[str, Level]
_NAME = r"^[A-Za-z0-9_.-]+$"
Name = Annotated[str, Field(pattern=_NAME, min_length=1, max_length=64)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PbxConfig(_Model):
    name: Name = Field("default", description="the PBX's name, carried by its calls and "
                       "agents and in the Redis keys")
    host: str = Field("127.0.0.1", description="AMI host")
    port: int = Field(5038, ge=1, le=65535, description="AMI port")
    username: str = Field("acd", min_length=1, description="the AMI user (manager_acd.conf)")
    secret: SecretStr | None = Field(None, description="the AMI secret itself: prefer "
                                     "secret_env or secret_file, keep secrets out of files")
    secret_env: str | None = Field(None, description="name of the environment variable that "
                                   "holds the AMI secret")
    secret_file: Path | None = Field(None, description="file that holds the AMI secret")
    fallback_queue: str | None = Field(None, description="the Asterisk queue (queues.conf) "
                                       "that takes calls while acd is away: acd sets the "
                                       "dialplan's global ACD_FALLBACK_QUEUE to it at every "
                                       "login (a PBX reads only the first [globals] section, "
                                       "so the include's default may be ignored)")
    ping_interval_s: float = Field(5.0, gt=0, description="AMI Ping period; a Ping unanswered "
                                   "in 5 s drops the link, which then reconnects (unless the "
                                   "PBX is still sending: up to 6 such Pings in a row)")
    reconnect_max_s: float = Field(30.0, gt=0, description="cap of the reconnect backoff")

    @model_validator(mode="after")
    def _one_secret_source(self) -> PbxConfig:
        given = [s for s in (self.secret, self.secret_env, self.secret_file) if s is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of secret, secret_env, secret_file")
        return self

    def resolve_secret(self, where: str = "pbx") -> str:
        """The AMI secret; raises ConfigError naming the source (never the value). `where`: the
        key path of this table in the file (`pbx`, or `pbxs.NAME`, see Config.pbx_key)."""
        if self.secret is not None:
            return self.secret.get_secret_value()
        if self.secret_env is not None:
            value = os.environ.get(self.secret_env)
            if not value:
                raise ConfigError([f"{where}.secret_env: environment variable "
                                   f"{self.secret_env} is not set"])
            return value
        assert self.secret_file is not None
        try:
            return self.secret_file.read_text().strip()
        except OSError as exc:
            raise ConfigError([f"{where}.secret_file: cannot read {self.secret_file}: "
                               f"{exc.strerror}"]) from None


class RedisConfig(_Model):
    url: str | None = Field(None, description="redis://, rediss:// or unix:// URL; required "
                            "by `acd run` (`acd demo` starts a private redis-server without it)")
    prefix: Name = Field("acd", description="first part of every Redis key")


Role = Literal["viewer", "supervisor", "admin", "agent"]


class TokenConfig(_Model):
    """An API bearer token, kept as its SHA-256 hex digest (never in clear):
    `printf %s "$TOKEN" | sha256sum`. Role `agent` (an agent desktop) names its `agent`: such a
    token reads only that agent's push stream and pauses/resumes only that agent's recording."""

    name: Name
    role: Role
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    agent: Name | None = Field(None, description="with role agent: the agent (a key of "
                               "[agents]) this token belongs to")

    @model_validator(mode="after")
    def _agent_with_role(self) -> TokenConfig:
        if (self.role == "agent") != (self.agent is not None):
            raise ValueError("a token of role agent names its agent, and only such a token")
        return self


class HttpConfig(_Model):
    host: str = Field("127.0.0.1", description="listen address (loopback by default: "
                      "expose it on purpose)")
    port: int = Field(8080, ge=0, le=65535, description="listen port (0: any free port)")
    tokens: list[TokenConfig] = Field(default_factory=list, description="bearer tokens")
    anonymous_read: bool = Field(False, description="read-only routes and the wallboard "
                                 "without a token")
    snapshot_interval_s: float = Field(1.0, gt=0, le=60, description="the figures are "
                                       "recomputed this often, whatever the number of readers")
    own_process: bool = Field(False, description="serve the HTTP API, the wallboard and the "
                              "figures (and run the integrations) from a second process that "
                              "`acd run` starts and watches, so that neither pollers nor "
                              "figures take time from routing (needs two cores to pay off)")


SlaFormula = Literal["ignore_abandoned", "abandoned_count_against", "short_abandons_excluded",
                     "abandoned_within_t_positive"]


class SlaConfig(_Model):
    """Service level: target_pct % of calls answered within threshold_s (see METRICS.md)."""

    target_pct: float = Field(80.0, gt=0, le=100)
    threshold_s: int = Field(20, gt=0, le=3600)  # whole seconds: waits are counted per second
    extra_thresholds_s: list[Annotated[int, Field(gt=0, le=3600)]] = Field(default_factory=list)
    formula: SlaFormula = "short_abandons_excluded"

    @property
    def thresholds_s(self) -> list[int]:
        return sorted({self.threshold_s, *self.extra_thresholds_s})


PopEvent = Literal["ringing", "answered"]
_POP_FIELDS = frozenset({"agent", "caller_num", "queue", "call_id", "account", "language",
                         "pbx", "event", "dnis"})


class ScreenPopConfig(_Model):
    """A CRM screen pop: a signed JSON POST when a call of the queue rings an agent and/or is
    answered (see acd/integrations/webhooks.py). Never delays routing."""

    url_template: str = Field(pattern=r"^https?://", description="the URL posted to; "
                              "{agent}, {caller_num}, {queue}, {call_id}, {account}, "
                              "{language}, {dnis}, {pbx} and {event} are replaced "
                              "(URL-encoded), e.g. https://crm.example/pop?agent={agent}")
    secret_env: str | None = Field(None, description="name of the environment variable "
                                   "holding the HMAC-SHA256 key: the body is signed in the "
                                   "header X-Acd-Signature: sha256=<hex> (unset: not signed)")
    timeout_s: float = Field(5.0, gt=0, le=60, description="per attempt")
    retries: int = Field(2, ge=0, le=10, description="further attempts after a failure "
                         "(connection error, timeout or a 5xx/429 answer)")
    backoff_s: float = Field(0.5, ge=0, le=60, description="wait before the first retry, "
                             "doubled for each next one")
    events: list[PopEvent] = Field(
        default_factory=lambda: list[PopEvent](["ringing"]), min_length=1,
        description="when to post: the agent's phone rings, and/or the agent answered")

    @model_validator(mode="after")
    def _known_fields(self) -> ScreenPopConfig:
        import string

        try:
            names = {f for _, f, _, _ in string.Formatter().parse(self.url_template) if f}
        except ValueError as exc:
            raise ValueError(f"url_template: {exc}") from None
        unknown = names - _POP_FIELDS
        if unknown:
            raise ValueError(f"url_template: unknown field(s) {', '.join(sorted(unknown))} "
                             f"(known: {', '.join(sorted(_POP_FIELDS))})")
        return self


class ExpandStep(_Model):
    """One step of skill expansion: after `after_s` of waiting, the queue's own skills may also
    be met by these (a lower level, a backup skill). Skills the call brought (its language)
    stay required."""

    after_s: float = Field(gt=0, le=86400, description="seconds of waiting before this step")
    skills: SkillMap = Field(description="replaces the queue's skills from this step on, as an "
                             "alternative (skill -> minimum level)")


class QueueRoutingConfig(_Model):
    """Routing policies that read the clock and the live figures (all off by default)."""

    priority_step_s: float | None = Field(
        None, gt=0, le=3600, description="priority aging: one priority point is worth this "
        "many seconds of waiting, so a VIP call (priority 10) goes before normal calls that "
        "waited up to 10 x this longer, never more (the bound on how long VIP traffic holds a "
        "normal caller back). Unset: strict classes, a VIP call always goes first")
    expand: list[ExpandStep] = Field(
        default_factory=list, description="skill expansion (\"bullseye\"): steps by wait; the "
        "caller keeps its place")
    vip_expert_s: float = Field(0.0, ge=0, le=3600, description="for this long a VIP call is "
                                "offered only to experts (expert_level on every queue skill)")
    expert_level: Level = Field(5, description="the level that makes an agent an expert")
    last_agent_s: float = Field(0.0, ge=0, le=600, description="a caller who called within "
                                "last_agent_within_h is held this long for the agent who took "
                                "its previous call, while that agent is about to be free")
    last_agent_within_h: float = Field(24.0, gt=0, le=720, description="how recent the "
                                       "previous call must be for last-agent routing")
    objective_boost_s: float = Field(0.0, ge=0, le=3600, description="service objective: "
                                     "while the queue is behind its SL target its callers' "
                                     "waits count up to this much longer (ahead: shorter), "
                                     "for agents who serve several queues")
    objective_full_at_pp: float = Field(10.0, gt=0, le=100, description="the gap to the "
                                        "target (percentage points) that gives the full boost")

    @model_validator(mode="after")
    def _steps_ascending(self) -> QueueRoutingConfig:
        waits = [step.after_s for step in self.expand]
        if waits != sorted(set(waits)):
            raise ValueError("expand: steps must have increasing after_s")
        return self


_RECORDING_FIELDS = frozenset({"call_id", "uniqueid", "queue", "agent", "caller_num", "date",
                               "time", "pbx"})
_TAG_FIELDS = frozenset({"vip", "queue", "language", "customer_name", "account", "reason"})


def _template_fields(template: str, known: frozenset[str], what: str) -> None:
    import string

    try:
        names = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None
    unknown = names - known
    if unknown:
        raise ValueError(f"{what}: unknown field(s) {', '.join(sorted(unknown))} "
                         f"(known: {', '.join(sorted(known))})")


class RecordingConfig(_Model):
    """Record the conversation: on answer acd sends AMI MixMonitor on the caller channel
    (the AMI user then needs `system` in its write privileges, see the admin guide)."""

    enabled: bool = Field(True, description="false: configured but off")
    file_template: str = Field(
        "{date}/{queue}-{time}-{call_id}", min_length=1, max_length=200,
        description="file name without extension; {call_id}, {uniqueid}, {queue}, {agent}, "
        "{caller_num}, {pbx}, {date} (YYYYMMDD) and {time} (HHMMSS, both in the centre's time "
        "zone) are replaced, unsafe characters becoming '_'. Relative names land in "
        "Asterisk's monitor directory (/var/spool/asterisk/monitor)")
    format: Literal["wav", "WAV", "wav16", "gsm", "ulaw", "alaw", "g722", "sln", "ogg"] = Field(
        "wav", description="audio format: the file name's extension")
    options: Annotated[str, Field(pattern=r"^[A-Za-z0-9().:_-]*$", max_length=64)] = Field(
        "b", description="MixMonitor options (e.g. b: only while bridged; B(15): a beep every "
        "15 s); the command option is not offered")

    @model_validator(mode="after")
    def _check(self) -> RecordingConfig:
        _template_fields(self.file_template, _RECORDING_FIELDS, "file_template")
        if ".." in self.file_template or "\\" in self.file_template:
            raise ValueError("file_template: no '..' and no backslash")
        return self


WrapupMode = Literal["timeout", "until_code"]
NONE_CODE = "none"  # the wrap-up code of a wrap-up that ended without one (time-out, logout)
_DIGITS = r"^[0-9]{1,4}$"


class WrapupCodeConfig(_Model):
    """One wrap-up code an agent may set after a call of the queue (several per call)."""

    label: str = Field("", max_length=80, description="shown to agents and in reports")
    digits: Annotated[str, Field(pattern=_DIGITS)] | None = Field(
        None, description="what the agent keys after *55 on the phone to set this code "
        "(1-4 digits, unique in the queue); none: API only")


class QueueConfig(_Model):
    skills: SkillMap = Field(default_factory=dict, description="required skill -> minimum "
                             "level (1-5); language and dialect are skills too")
    sla: SlaConfig = SlaConfig()
    wrapup_s: float = Field(10.0, ge=0, description="after-call work before the agent is "
                            "ready again")
    ring_timeout_s: float = Field(15.0, gt=0, le=300, description="ring-no-answer after this "
                                  "long: the agent goes not ready, the call keeps its place")
    max_wait_s: float = Field(900.0, gt=0, description="after this long in the queue the "
                              "caller is handed to the PBX's own queue")
    music_class: str = Field("default", description="music on hold class")
    screen_pop: ScreenPopConfig | None = Field(None, description="CRM screen pop webhook "
                                               "(integrations)")
    routing: QueueRoutingConfig = Field(default_factory=QueueRoutingConfig,
                                        description="routing policies (issue #4)")
    recording: RecordingConfig | None = Field(None, description="record answered calls "
                                              "(MixMonitor)")
    phone_tag: str = Field("{vip}{queue}", max_length=200, description="the caller name "
                           "shown on the agent's phone: {vip} ('VIP ' or nothing), {queue}, "
                           "{language}, {customer_name}, {account}, {reason}; characters that "
                           "break a caller id are dropped")
    phone_tag_max: int = Field(24, ge=1, le=80, description="the tag is cut to this length")

    @model_validator(mode="after")
    def _check_tag(self) -> QueueConfig:
        _template_fields(self.phone_tag, _TAG_FIELDS, "phone_tag")
        return self
    # --- caller-facing policies (acd/config_policies.py); each off unless its table is given
    assumed_aht_s: float | None = Field(None, gt=0, description="handle time (talk + wrap-up) "
                                        "assumed by the estimated wait while none was measured "
                                        "in the last hour")
    admission: AdmissionConfig | None = Field(None, description="admission and overflow: "
                                              "refuse callers over an EWT limit, a length cap "
                                              "or with no agent logged in")
    announce: AnnounceConfig | None = Field(None, description="position and estimated wait "
                                            "announced in the hold loop")
    survey: SurveyConfig | None = Field(None, description="post-call survey (CSAT and/or NPS "
                                        "by DTMF)")
    callback: CallbackConfig | None = Field(None, description="callback that keeps the "
                                            "caller's place")
    wrapup_codes: dict[Name, WrapupCodeConfig] = Field(
        default_factory=dict, description="wrap-up codes of this queue's calls: code -> "
        "{label, digits}; the code `none` is kept for a wrap-up that ended without one")
    wrapup_mode: WrapupMode = Field(
        "timeout", description="`timeout`: wrap-up ends after wrapup_s (code `none` unless "
        "the agent gave one) or when the agent is ready; `until_code`: wrap-up lasts until "
        "the agent gives a code (ready / not ready are refused before)")
    escalation_queue: Name | None = Field(
        None, description="where an agent's one-action escalation sends this queue's calls "
        "(default: the centre-wide escalation_queue)")
    transfer_code: Annotated[str, Field(pattern=_DIGITS)] | None = Field(
        None, description="digits that name this queue in a transfer from the phone (*56 / "
        "*57 then these digits); unique, and never an agent's extension")


class AgentConfig(_Model):
    interface: str = Field(pattern=r"^[A-Za-z0-9]+/\S+$", description="dial string of the "
                           "agent's phone, e.g. PJSIP/1001")
    extension: str = Field(pattern=r"^\S+$", description="the phone's CALLERID(num): feature "
                           "codes find the agent by it")
    name: str = Field("", description="display name")
    skills: SkillMap = Field(default_factory=dict, description="skill -> level 1-5")
    queues: list[Name] = Field(default_factory=list, description="queues served; empty: every "
                               "queue whose skills the agent holds")
    login_at_start: bool = Field(False, description="ready when acd starts (else log in with "
                                 "*51 or the API)")
    pbx: Name | None = Field(None, description="the PBX the agent's phone is on (a name of "
                             "[pbxs.NAME]): required when there are several PBXs; the agent "
                             "only takes calls of that PBX")


class QueueLogConfig(_Model):
    """An Asterisk-compatible queue_log file (the format app_queue writes), for reporting
    tools that read it."""

    path: Path = Field(description="the file appended to (one line per fact, flushed)")
    agent_name: Literal["interface", "id", "name"] = Field(
        "interface", description="what goes in the agent column: the agent's dial interface "
        "(like app_queue's default member name), its acd id, or its display name")


class RecordsConfig(_Model):
    """One call record per ended call, kept in a capped Redis Stream per PBX and served by
    GET /api/v1/records."""

    maxlen: int = Field(1_000_000, ge=1000, description="records kept per PBX (approximate "
                        "cap, oldest dropped first)")


_CRM_URL_FIELDS = frozenset({"caller_num", "account", "dnis", "flow", "key"})
JsonPath = Annotated[str, Field(min_length=1, max_length=200,
                                pattern=r"^(/([^/~]|~[01])*)+$|^[^/.][^.]*(\.[^.]+)*$")]


class CrmMapConfig(_Model):
    """Where each value is in the CRM's JSON answer: a JSON pointer (`/customer/vip`) or a
    dotted path (`customer.vip`, list items by index: `accounts.0.id`). Unset: not read."""

    found: JsonPath | None = Field(None, description="a false value here means not found "
                                   "(else a 200 answer means found)")
    vip: JsonPath | None = Field(None, description="true, 1, \"yes\"...: the caller is a VIP")
    language: JsonPath | None = Field(None, description="the caller's language (prompts, "
                                      "and the lookup node's language_skills)")
    queue: JsonPath | None = Field(None, description="the queue to use (a name of [queues]; "
                                   "another name is ignored and logged)")
    customer_name: JsonPath | None = Field(None, description="shown in screen pops, records "
                                           "and the phone tag")
    account: JsonPath | None = Field(None, description="the account (when the caller typed "
                                     "none)")
    reason: JsonPath | None = Field(None, description="a free text kept with the call (e.g. "
                                    "an open case), for routing rules")


class CrmConfig(_Model):
    """CRM lookup from the IVR (`type = "lookup"` nodes): one HTTP GET, bounded in time and
    cached in Redis. A slow, down or garbled CRM never stops a call: the node's defaults apply
    and the result is counted (IVR funnel, /metrics)."""

    url_template: str = Field(pattern=r"^https?://", max_length=500, description="the URL "
                              "asked; {key} (what the node looks up by), {caller_num}, "
                              "{account}, {dnis} and {flow} are replaced (URL-encoded), e.g. "
                              "https://crm.example/api/callers/{caller_num}")
    method: Literal["GET"] = Field("GET", description="HTTP method")
    headers: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,64}$")],
                  Annotated[str, Field(pattern=r"^[^\r\n]{0,500}$")]] = Field(
        default_factory=dict, description="extra request headers (no secrets here: see "
        "token_env)")
    token_env: str | None = Field(None, description="environment variable holding the API "
                                  "token (never logged)")
    token_file: Path | None = Field(None, description="file holding the API token")
    token_header: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,64}$")] = Field(
        "Authorization", description="header that carries the token")
    token_prefix: str = Field("Bearer ", max_length=32, description="put before the token")
    timeout_ms: int = Field(1000, ge=50, le=10_000, description="hard limit for the whole "
                            "lookup; then the call goes on with the node's defaults")
    cache_ttl_s: int = Field(300, ge=0, le=86_400, description="a found caller is cached this "
                             "long (0: not cached)")
    negative_ttl_s: int = Field(60, ge=0, le=86_400, description="a caller the CRM does not "
                                "know is cached this long (0: not cached)")
    map: CrmMapConfig = Field(default_factory=CrmMapConfig, description="where the values "
                              "are in the answer")

    @model_validator(mode="after")
    def _check(self) -> CrmConfig:
        _template_fields(self.url_template, _CRM_URL_FIELDS, "url_template")
        if self.token_env is not None and self.token_file is not None:
            raise ValueError("give at most one of token_env, token_file")
        return self

    def resolve_token(self) -> str | None:
        """The token, or None when none is configured; ConfigError naming the source."""
        where = "integrations.crm"
        if self.token_env is not None:
            value = os.environ.get(self.token_env)
            if not value:
                raise ConfigError([f"{where}.token_env: environment variable "
                                   f"{self.token_env} is not set"])
            return value
        if self.token_file is not None:
            try:
                return self.token_file.read_text().strip()
            except OSError as exc:
                raise ConfigError([f"{where}.token_file: cannot read {self.token_file}: "
                                   f"{exc.strerror}"]) from None
        return None


class IntegrationsConfig(_Model):
    """Consumers of the store's event stream (acd/integrations): queue_log, call records and
    screen pops (queues.NAME.screen_pop). Each event is handled once across all service
    instances (a Redis consumer group), apart from routing."""

    queue_log: QueueLogConfig | None = Field(None, description="write an Asterisk queue_log")
    records: RecordsConfig | None = Field(None, description="keep call records")
    group: Name = Field("acd-integrations", description="the Redis consumer group")
    webhook_workers: int = Field(4, ge=1, le=64, description="screen pops posted at once")
    webhook_queue_size: int = Field(1000, ge=1, le=100_000, description="screen pops waiting "
                                    "to be posted; beyond that new ones are dropped (counted)")
    history_per_number: int = Field(10, ge=1, le=100, description="previous calls remembered "
                                    "per caller number (for screen pops)")
    history_days: int = Field(90, ge=1, le=3650, description="how long a caller number's "
                              "previous calls are remembered")
    crm: CrmConfig | None = Field(None, description="CRM lookup for the IVR's lookup nodes")
    agent_push: bool = Field(False, description="screen pops also on each agent's stream "
                             "GET /api/v1/agents/{id}/stream")
    agent_push_maxlen: int = Field(10_000, ge=100, le=1_000_000, description="screen pops "
                                   "kept for agent streams per PBX (a reconnecting desktop "
                                   "catches up from them)")


class ReasonConfig(_Model):
    """A call reason: what the caller needs. Queues and reasons are apart: one queue can serve
    several reasons; the IVR (menu options, set nodes) or a CRM lookup names the reason."""

    label: str = Field("", max_length=80, description="shown on the wallboard and the API")
    skills: SkillMap = Field(default_factory=dict, description="skills (minimum levels) the "
                             "reason needs on top of its queue's, e.g. an authority level "
                             "{ refund_authority = 2 }: such calls go to agents who hold it")
    queue: Name | None = Field(None, description="its default queue: a queue node with "
                               "use_reason_queue = true sends the call there")


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class HoursConfig(_Model):
    timezone: str = "UTC"
    weekly: dict[Weekday, list[Annotated[str, Field(pattern=r"^\d\d:\d\d-\d\d:\d\d$")]]]
    holidays: list[Annotated[str, Field(pattern=r"^\d{4}-\d\d-\d\d$")]] = Field(
        default_factory=list)


class VipConfig(_Model):
    numbers: list[str] = Field(default_factory=list)
    accounts: list[str] = Field(default_factory=list)
    priority: int = Field(10, ge=1, le=99)


# --- IVR flow nodes: each has a `type`; `next`-style fields name other nodes of the flow ---

class PlayNode(_Model):
    type: Literal["play"]
    prompt: str
    next: Name


class MenuNode(_Model):
    type: Literal["menu"]
    prompt: str
    options: dict[Annotated[str, Field(pattern=r"^[0-9*#]$")], Name]
    timeout_s: float = Field(5.0, gt=0, le=60)
    retries: int = Field(2, ge=0, le=10)
    invalid_prompt: str = "invalid"
    timeout_prompt: str = ""  # played before a retry after no input (default: none)
    default: Name | None = None  # where to go when retries run out (else: hang up)
    reasons: dict[Annotated[str, Field(pattern=r"^[0-9*#]$")], Name] = Field(
        default_factory=dict, description="digit -> call reason recorded when the caller "
        "chooses that option")


class CollectNode(_Model):
    type: Literal["collect"]
    prompt: str
    variable: Name  # stored as the call's data; "account" also feeds the VIP lookup
    min_digits: int = Field(1, ge=1, le=32)
    max_digits: int = Field(8, ge=1, le=32)
    pattern: str | None = None  # regular expression the digits must match
    timeout_s: float = Field(6.0, gt=0, le=60)
    retries: int = Field(2, ge=0, le=10)
    invalid_prompt: str = "invalid"
    next: Name
    on_fail: Name | None = None  # retries exhausted (else: hang up)

    @model_validator(mode="after")
    def _check(self) -> CollectNode:
        if self.min_digits > self.max_digits:
            raise ValueError("min_digits must be <= max_digits")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern is not a valid regular expression: {exc}") from None
        return self


class SetNode(_Model):
    type: Literal["set"]
    language: str | None = None
    skills: SkillMap = Field(default_factory=dict)  # added to the call's required skills
    reason: Name | None = Field(None, description="the call reason to record (a name of "
                                "[reasons.NAME])")
    next: Name


class HoursNode(_Model):
    type: Literal["hours"]
    hours: Name
    open: Name
    closed: Name


class VipNode(_Model):
    type: Literal["vip"]
    vip: Name
    normal: Name


class LookupDefaults(_Model):
    language: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,16}$")
    queue: Name | None = None
    vip: bool = False


class LookupNode(_Model):
    """Ask the CRM ([integrations.crm]) about the caller: it may mark a VIP, pick the
    language (and its skills) or the queue (the queue node that ends the flow then uses it)."""

    type: Literal["lookup"]
    by: Literal["caller_num", "account"] = "caller_num"  # account: collected before
    next: Name
    on_failure: Name | None = None  # the CRM timed out or failed (default: next)
    defaults: LookupDefaults = LookupDefaults()  # when not found, timed out or failed
    language_skills: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,16}$")],
                          SkillMap] = Field(default_factory=dict)  # language -> skills added


class QueueNode(_Model):
    type: Literal["queue"]
    queue: Name
    prompt: str = ""
    use_reason_queue: bool = Field(False, description="a call whose reason has a default "
                                   "queue goes there instead of `queue`")


class HangupNode(_Model):
    type: Literal["hangup"]
    prompt: str = ""


IvrNode = Annotated[
    PlayNode | MenuNode | CollectNode | SetNode | HoursNode | VipNode | QueueNode | HangupNode
    | LookupNode,
    Field(discriminator="type"),
]


class FlowConfig(_Model):
    dnis: list[str] = Field(min_length=1)  # dialled numbers, or Asterisk patterns (_1XXX, _X.)
    start: Name
    escape_digit: Annotated[str, Field(pattern=r"^[0-9*#]$")] | None = "0"
    escape_queue: Name | None = None  # "press 0 for an agent" in any menu or collect
    nodes: dict[Name, IvrNode]


_BOTH_PBX_FORMS = "give either [pbx] (one PBX) or [pbxs.NAME] tables (several), not both"


def _pbx_optional_in_schema(schema: dict[str, Any]) -> None:
    # `pbx` is filled from [pbxs.NAME] when those are given: not required in the file.
    schema["required"] = [key for key in schema.get("required", []) if key != "pbx"]


class Config(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True,
                              json_schema_extra=_pbx_optional_in_schema)

    pbx: PbxConfig = Field(description="the Asterisk to attach to (one PBX); with several, "
                           "give [pbxs.NAME] tables instead (then this holds the first of them)")
    pbxs: dict[Name, PbxConfig] = Field(
        default_factory=dict, description="several Asterisks, by name (the table key is the "
        "PBX's name; same keys as [pbx]): instead of [pbx]. Every agent then names its PBX "
        "(agents.NAME.pbx); queues, flows and figures are shared, and a call is only ever "
        "given to an agent of its own PBX")
    redis: RedisConfig = RedisConfig()
    http: HttpConfig = HttpConfig()
    timezone: str = "UTC"
    queues: dict[Name, QueueConfig] = Field(min_length=1)
    agents: dict[Name, AgentConfig] = Field(default_factory=dict)
    hours: dict[Name, HoursConfig] = Field(default_factory=dict)
    vip: VipConfig = VipConfig()
    flows: dict[Name, FlowConfig] = Field(min_length=1)
    short_abandon_s: int = Field(5, ge=0, le=600)  # whole seconds, like the SL thresholds
    history_days: int = Field(35, ge=1, le=400)  # 15-minute intervals are kept this long
    repeat_window_h: float = Field(24.0, gt=0, le=720, description="a caller who calls again "
                                   "within this many hours of an answered call makes it a "
                                   "repeat call (repeat-call rate, FCR proxy)")
    integrations: IntegrationsConfig = Field(
        default_factory=IntegrationsConfig, description="queue_log, call records, screen pops")
    reasons: dict[Name, ReasonConfig] = Field(
        default_factory=dict, description="call reasons, by name (figures by reason)")
    escalation_queue: Name | None = Field(
        None, description="the supervisors' queue an agent escalates a call to with one "
        "action (a queue may name its own: queues.NAME.escalation_queue)")

    @model_validator(mode="before")
    @classmethod
    def _pbxs_name_and_first(cls, data: Any) -> Any:
        """[pbxs.NAME]: each table's name is its key, and `pbx` is the first of them."""
        if not isinstance(data, dict) or not isinstance(data.get("pbxs"), dict) \
                or not data["pbxs"]:
            return data
        if "pbx" in data:
            raise ValueError(_BOTH_PBX_FORMS)
        named = {key: {"name": key, **table} if isinstance(table, dict) else table
                 for key, table in data["pbxs"].items()}
        return {**data, "pbxs": named, "pbx": next(iter(named.values()))}

    def pbx_list(self) -> list[PbxConfig]:
        """Every PBX to attach to, in config order (one with [pbx])."""
        return list(self.pbxs.values()) if self.pbxs else [self.pbx]

    def pbx_names(self) -> list[str]:
        return list(self.pbxs) if self.pbxs else [self.pbx.name]

    def pbx_key(self, name: str) -> str:
        """The key path of a PBX's table, for messages: `pbx` or `pbxs.NAME`."""
        return f"pbxs.{name}" if self.pbxs else "pbx"

    def agent_pbx(self, agent_id: str) -> str:
        """The name of the PBX an agent's phone is on: with one PBX, that one; with several,
        the agent's `pbx` ("" for an agent not in the config)."""
        if not self.pbxs:
            return self.pbx.name
        agent = self.agents.get(agent_id)
        return agent.pbx if agent is not None and agent.pbx is not None else ""

    def for_pbx(self, name: str) -> Config:
        """The config one PBX's engine runs with: `pbx` is that PBX, `pbxs` is empty, `agents`
        are only its agents; queues, flows and the rest are shared. KeyError if unknown."""
        pbx = self.pbxs.get(name) if self.pbxs else (self.pbx if name == self.pbx.name else None)
        if pbx is None:
            raise KeyError(name)
        agents = {aid: a for aid, a in self.agents.items() if self.agent_pbx(aid) == name}
        return self.model_copy(update={"pbx": pbx, "pbxs": {}, "agents": agents})

    def as_data(self) -> dict[str, Any]:
        """The config as data that parse_config takes back (the figures process gets it so
        when there is no file): JSON types, secrets masked (SecretStr shows as stars), and
        with [pbxs] only, not also the [pbx] that is derived from its first table."""
        data: dict[str, Any] = self.model_dump(mode="json")
        if data.get("pbxs"):
            data.pop("pbx", None)
        return data


class ConfigError(Exception):
    """Every problem found in a config, one line each: ``key.path: what is wrong``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


_NODE_TAGS = {"play", "menu", "collect", "set", "hours", "vip", "queue", "hangup", "lookup"}


_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_*#+-]+$")


def _key(part: int | str) -> str:
    # A key that could break the one-line `path: message` form is quoted.
    text = str(part)
    if _PLAIN_KEY.match(text):
        return text
    return json.dumps(text).replace(": ", ":\\u0020")


def _loc(loc: tuple[int | str, ...]) -> str:
    # pydantic puts the union tag in the path (nodes.x.menu.timeout_s): drop it for readers.
    parts = [_key(p) for i, p in enumerate(loc)
             if not (i >= 2 and loc[i - 2] == "nodes" and p in _NODE_TAGS)]
    return ".".join(parts) or "(top level)"


def _pydantic_problems(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key is missing"
        msg = msg.removeprefix("Value error, ")
        out.append(f"{_loc(tuple(err['loc']))}: {msg}")
    return out


def _cross_check(cfg: Config) -> list[str]:
    """What a schema cannot see: references between sections."""
    out: list[str] = []
    for aname, agent in cfg.agents.items():
        for i, q in enumerate(agent.queues):
            if q not in cfg.queues:
                out.append(f"agents.{aname}.queues.{i}: unknown queue {q!r}")
    out += _check_pbxs(cfg)
    for i, token in enumerate(cfg.http.tokens):
        if token.agent is not None and token.agent not in cfg.agents:
            out.append(f"http.tokens.{i}.agent: unknown agent {token.agent!r}")
    exts: dict[tuple[str, str], str] = {}  # (PBX, extension) -> agent: unique per PBX
    for aname, agent in cfg.agents.items():
        key = (cfg.agent_pbx(aname), agent.extension)
        if key in exts:
            out.append(f"agents.{aname}.extension: {agent.extension!r} is also the extension "
                       f"of agent {exts[key]!r}")
        exts[key] = aname
    for fname, flow in cfg.flows.items():
        out += _check_flow(cfg, fname, flow)
    out += policy_problems(dict(cfg.queues))
    out += _check_reasons_and_codes(cfg)
    # Imported here: the core modules import this one for the schema types.
    from acd.core.dnis import dnis_problems
    from acd.core.hours import validate_hours

    for hname, hours in cfg.hours.items():
        out += [f"hours.{hname}.{problem}" for problem in validate_hours(hours)]
    out += dnis_problems(cfg.flows)
    try:
        ZoneInfo(cfg.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        out.append(f"timezone: unknown time zone {cfg.timezone!r}")
    return out


def _check_pbxs(cfg: Config) -> list[str]:
    """PBX names (unique: the table keys), AMI addresses, and each agent's PBX."""
    out: list[str] = []
    seen: dict[tuple[str, int], str] = {}
    for key, pbx in cfg.pbxs.items():
        if pbx.name != key:
            out.append(f"pbxs.{key}.name: must be the table's key {key!r} (or left out)")
        where = (pbx.host, pbx.port)
        if where in seen:
            out.append(f"pbxs.{key}: AMI {pbx.host}:{pbx.port} is also the address of PBX "
                       f"{seen[where]!r}")
        seen[where] = key
    names = cfg.pbx_names()
    for aname, agent in cfg.agents.items():
        if agent.pbx is None:
            if len(names) > 1:
                out.append(f"agents.{aname}.pbx: required when there are several PBXs "
                           f"(one of {', '.join(map(repr, names))})")
        elif agent.pbx not in names:
            out.append(f"agents.{aname}.pbx: unknown PBX {agent.pbx!r}")
    return out


def _node_refs(node: Any) -> list[tuple[str, str]]:
    refs: list[tuple[str, str]] = []
    for key in ("next", "open", "closed", "vip", "normal", "default", "on_fail", "on_failure"):
        value = getattr(node, key, None)
        if isinstance(value, str):
            refs.append((key, value))
    if isinstance(node, MenuNode):
        refs += [(f"options.{d}", target) for d, target in node.options.items()]
    return refs


def _check_flow(cfg: Config, fname: str, flow: FlowConfig) -> list[str]:
    out: list[str] = []
    base = f"flows.{fname}"
    if flow.start not in flow.nodes:
        out.append(f"{base}.start: unknown node {flow.start!r}")
    if flow.escape_queue is not None and flow.escape_queue not in cfg.queues:
        out.append(f"{base}.escape_queue: unknown queue {flow.escape_queue!r}")
    for nname, node in flow.nodes.items():
        for key, target in _node_refs(node):
            if target not in flow.nodes:
                out.append(f"{base}.nodes.{nname}.{key}: unknown node {target!r}")
        if isinstance(node, QueueNode) and node.queue not in cfg.queues:
            out.append(f"{base}.nodes.{nname}.queue: unknown queue {node.queue!r}")
        if isinstance(node, HoursNode) and node.hours not in cfg.hours:
            out.append(f"{base}.nodes.{nname}.hours: unknown hours {node.hours!r}")
        if isinstance(node, LookupNode):
            if cfg.integrations.crm is None:
                out.append(f"{base}.nodes.{nname}: a lookup node needs [integrations.crm]")
            queue = node.defaults.queue
            if queue is not None and queue not in cfg.queues:
                out.append(f"{base}.nodes.{nname}.defaults.queue: unknown queue {queue!r}")
        out += _node_reasons(cfg, f"{base}.nodes.{nname}", node)
    return out


def _node_reasons(cfg: Config, where: str, node: Any) -> list[str]:
    """The reasons a set node or a menu names exist (and a menu's are for its options)."""
    out: list[str] = []
    if isinstance(node, SetNode) and node.reason is not None and node.reason not in cfg.reasons:
        out.append(f"{where}.reason: unknown reason {node.reason!r}")
    if isinstance(node, MenuNode):
        for digit, reason in node.reasons.items():
            if reason not in cfg.reasons:
                out.append(f"{where}.reasons.{_key(digit)}: unknown reason {reason!r}")
            if digit not in node.options:
                out.append(f"{where}.reasons.{_key(digit)}: not an option of the menu")
    return out


def _wrapup_codes(base: str, queue: QueueConfig) -> list[str]:
    """`none` is reserved; the phone digits of a queue's codes are unique."""
    out: list[str] = []
    if queue.wrapup_mode == "until_code" and not queue.wrapup_codes:
        out.append(f"{base}.wrapup_mode: until_code needs wrapup_codes (a wrap-up would never "
                   "end)")
    if NONE_CODE in queue.wrapup_codes:
        out.append(f"{base}.wrapup_codes.{NONE_CODE}: reserved for a wrap-up that ended "
                   "without a code")
    digits: dict[str, str] = {}
    for code, wcfg in queue.wrapup_codes.items():
        if wcfg.digits is None:
            continue
        if wcfg.digits in digits:
            out.append(f"{base}.wrapup_codes.{code}.digits: {wcfg.digits!r} is also the "
                       f"digits of code {digits[wcfg.digits]!r}")
        digits[wcfg.digits] = code
    return out


def _check_reasons_and_codes(cfg: Config) -> list[str]:
    """Reasons' queues, escalation queues, wrap-up codes and phone transfer digits."""
    out: list[str] = []
    for rname, reason in cfg.reasons.items():
        if reason.queue is not None and reason.queue not in cfg.queues:
            out.append(f"reasons.{rname}.queue: unknown queue {reason.queue!r}")
    if cfg.escalation_queue is not None and cfg.escalation_queue not in cfg.queues:
        out.append(f"escalation_queue: unknown queue {cfg.escalation_queue!r}")
    extensions = {a.extension: aid for aid, a in cfg.agents.items()}
    codes: dict[str, str] = {}
    for qname, queue in cfg.queues.items():
        base = f"queues.{qname}"
        if queue.escalation_queue is not None and queue.escalation_queue not in cfg.queues:
            out.append(f"{base}.escalation_queue: unknown queue {queue.escalation_queue!r}")
        out += _wrapup_codes(base, queue)
        tcode = queue.transfer_code
        if tcode is not None:
            if tcode in codes:
                out.append(f"{base}.transfer_code: {tcode!r} is also the transfer code of "
                           f"queue {codes[tcode]!r}")
            if tcode in extensions:
                out.append(f"{base}.transfer_code: {tcode!r} is also the extension of agent "
                           f"{extensions[tcode]!r}")
            codes[tcode] = qname
    return out


def parse_config(data: dict[str, Any]) -> Config:
    first: list[str] = []
    several = isinstance(data.get("pbxs"), dict) and bool(data["pbxs"])
    if several and "pbx" in data:
        first.append(f"pbxs: {_BOTH_PBX_FORMS}")
        data = {k: v for k, v in data.items() if k != "pbx"}
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        problems = _pydantic_problems(exc)
        if several:  # `pbx` is a copy of the first [pbxs.NAME]: its errors are said there
            problems = [p for p in problems if not p.startswith(("pbx.", "pbx:"))]
        problems = [p + " (or [pbxs.NAME] tables, for several PBXs)"
                    if p == "pbx: required key is missing" else p for p in problems]
        raise ConfigError(first + problems) from None
    if first:
        raise ConfigError(first + _cross_check(cfg))
    problems = _cross_check(cfg)
    if problems:
        raise ConfigError(problems)
    return cfg


def load_config(path: str | Path) -> Config:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    return parse_config(data)
