"""devloop's configuration: typed dataclasses with defaults, loaded from TOML.

Read from `devloop.toml` at the repository root, or from `[tool.devloop]` in
`pyproject.toml`; devloop.toml wins when both exist. Every problem is a ConfigError
(exit 2) that names the file, the table and key as TOML writes them, the value, and what to
do: `devloop.toml [loop] max_revisions = -3: must be 0 or more. ...`. This module checks
each value's type; the range of every key is configkeys.py's rule table.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from devloop.errors import ConfigError, did_you_mean
from devloop.tiers import TIERS

CONFIG_FILE = "devloop.toml"
PYPROJECT = "pyproject.toml"
MODEL_TIERS = TIERS  # the model tiers, defined with the step table
EFFORT_LEVELS = ("low", "medium", "high", "xhigh", "max")
ROUTERS = ("rule", "complexity", "hybrid")
DEFAULT_COMMIT_TYPES = [
    "build", "chore", "ci", "docs", "feat", "fix", "perf", "refactor", "revert", "style", "test",
]  # fmt: skip


@dataclass
class ModelsConfig:
    """Tier -> model id."""

    frontier: str = "claude-opus-5-5"
    mid: str = "claude-sonnet-5-5"
    light: str = "claude-haiku-5-5"
    # A model the price table does not know is refused unless this says it is meant.
    allow_unpriced: bool = False

    def for_tier(self, tier: str) -> str:
        return getattr(self, tier)


@dataclass
class EndpointsConfig:
    """Tier -> base URL of an Anthropic-compatible server ("" means the SDK's default)."""

    frontier: str = ""
    mid: str = ""
    light: str = ""


MISMATCH_POLICIES = ("auto", "warn", "fail")
LOOP_SEVERITIES = ("critical", "high", "medium", "low")


@dataclass
class ApiConfig:
    max_retries: int = 2
    timeout_s: float = 600.0
    attribution_headers: bool = True  # X-Devloop-Feature / X-Devloop-Step on every request
    # A served model other than the one asked for: "warn" and go on, "fail" (exit 4), or
    # "auto": fail when the served model has no price (the budget can no longer be kept).
    on_model_mismatch: str = "auto"
    max_continuations: int = 3  # a paused turn (stop_reason pause_turn) is continued this often


@dataclass
class RoutingConfig:
    router: str = "rule"
    steps: dict[str, str] = field(default_factory=dict)  # step -> tier override
    high_threshold: float = 0.7
    low_threshold: float = 0.3


@dataclass
class CommandsConfig:
    lint: str = ""
    format: str = ""  # a check that fails when files need formatting
    format_fix: str = ""  # the command that fixes formatting, shown in failure messages
    test: str = ""
    quick_test: str = ""
    smoke: str = ""
    timeout_s: float = 600.0
    # The files lint and format apply to, as glob patterns ("*.go", "src/*.ts"): the
    # staged files in the hooks, the files a task changed in the agent's checks. Empty:
    # inferred from the tool (checks/commands.py: ruff -> *.py, gofmt -> *.go ...), else
    # every file.
    lint_files: list[str] = field(default_factory=list)
    format_files: list[str] = field(default_factory=list)
    # The older form: suffixes ([".py"]) for lint and format both, when theirs are empty.
    file_suffixes: list[str] = field(default_factory=list)


@dataclass
class BudgetConfig:
    """USD ceilings, exact: TOML numbers become Decimals from their written digits."""

    feature_usd: Decimal | None = None
    step_usd: Decimal | None = None
    steps: dict[str, Decimal] = field(default_factory=dict)  # step -> ceiling override
    # A team's ceilings, shared by every devloop writing to the same ledger with this team:
    # per UTC day and per UTC month, kept in the same transaction as the feature's.
    team: str = ""
    daily_usd: Decimal | None = None
    monthly_usd: Decimal | None = None


@dataclass
class LedgerConfig:
    """Where the cost ledger lives: "" is `.devloop/ledger.db` (SQLite); a postgresql:// URL
    is a ledger shared by a team (DEVLOOP_LEDGER_URL overrides it)."""

    url: str = ""
    repository: str = ""  # the name rows record for this repository ("": its directory's)


@dataclass
class GitConfig:
    branch_prefix: str = "devloop/"
    commit_types: list[str] = field(default_factory=lambda: list(DEFAULT_COMMIT_TYPES))
    header_max_length: int = 100


@dataclass
class LoopConfig:
    max_revisions: int = 2
    spec_max_bytes: int = 200_000
    project_map_tokens: int = 4_000
    task_map_tokens: int = 1_000  # related code for agent work on known files (0: none)
    # The contract's files shown to validate-integration, review and audit, in all.
    code_tokens: int = 12_000
    research_turns: int = 8  # model turns research may take looking at the code
    max_tokens: dict[str, int] = field(default_factory=dict)  # step -> max output tokens per call
    remediate_severity: str = "high"  # step 11 fixes review/audit findings at or above this


@dataclass
class ToolsConfig:
    """The build agent's sandbox (tools.py): output limits and the command policy."""

    view_max_chars: int = 16_000  # a file or directory view longer than this is cut
    file_max_bytes: int = 512_000  # bigger files: view only with view_range, no editing
    command_timeout_s: float = 300.0
    command_output_max_chars: int = 16_000  # head and tail kept, the middle cut


SANDBOX_MODES = ("on", "off")


@dataclass
class SandboxConfig:
    """The OS sandbox (devloop/sandbox) every command the model can influence runs in."""

    mode: str = "on"  # "off" runs them unsandboxed: an explicit, recorded opt-out
    network: bool = False  # share the host's network (a test that needs a service)
    read: list[str] = field(default_factory=list)  # extra paths visible read-only
    env: list[str] = field(default_factory=list)  # extra variable names passed through
    # Who turned it off, for the warning and the record; not part of the TOML.
    off_by: str = field(default='[sandbox] mode = "off"', metadata={"toml": False})


@dataclass
class AgentConfig:
    """The build agent (steps 8, 11, 13 and the docs half of 14): attempts and limits."""

    attempts: int = 2  # per task and tier; a failed check ends an attempt
    max_turns: int = 30  # model calls per attempt
    max_tool_calls: int = 60  # tool calls per attempt
    escalate: bool = True  # when the routed tier's attempts fail, a fresh frontier conversation
    docs_files: list[str] = field(default_factory=lambda: ["README.md", "CHANGELOG.md"])
    diff_max_chars: int = 40_000  # the diff shown on escalation and to the docs step


@dataclass
class Config:
    models: ModelsConfig = field(default_factory=ModelsConfig)
    endpoints: EndpointsConfig = field(default_factory=EndpointsConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    effort: dict[str, str] = field(default_factory=dict)  # step -> effort level
    commands: CommandsConfig = field(default_factory=CommandsConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    ledger: LedgerConfig = field(default_factory=LedgerConfig)
    git: GitConfig = field(default_factory=GitConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)
    tools: ToolsConfig = field(default_factory=ToolsConfig)
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    # Where it came from; not part of the TOML.
    root: Path = field(default_factory=Path.cwd, metadata={"toml": False})
    source: Path | None = field(default=None, metadata={"toml": False})

    def tier_override(self, step_key: str) -> str | None:
        return self.routing.steps.get(step_key)

    def step_effort(self, step_key: str) -> str | None:
        """The effort a step's calls ask for: [effort] in the config, else the step table's."""
        if step_key in self.effort:
            return self.effort[step_key]
        from devloop.steps import STEPS

        step = STEPS.get(step_key)
        return step.effort if step is not None else None


def to_dict(cfg: Config) -> dict[str, Any]:
    """The TOML-serialisable part of a config (for `devloop init`)."""

    def strip(obj: Any) -> Any:
        if dataclasses.is_dataclass(obj):
            out = {}
            for f in dataclasses.fields(obj):
                if f.metadata.get("toml", True) is False:
                    continue
                value = strip(getattr(obj, f.name))
                if value is not None:
                    out[f.name] = value
            return out
        return obj

    return strip(cfg)


# ---------------------------------------------------------------- loading


def find_root(start: Path | None = None) -> Path:
    """The directory holding the config: the nearest ancestor with devloop.toml, a
    pyproject.toml carrying [tool.devloop], or .git; else `start` itself."""
    start = (start or Path.cwd()).resolve()
    for directory in (start, *start.parents):
        if is_configured(directory) or (directory / ".git").exists():
            return directory
    return start


def load(start: Path | None = None) -> Config:
    """Load the config for the repository containing `start` (default: cwd)."""
    root = find_root(start)
    path = root / CONFIG_FILE
    if path.is_file():
        data = _read_toml(path)
        cfg = parse(data, source=path)
    else:
        pyproject = root / PYPROJECT
        data = {}
        if pyproject.is_file():
            data = _read_toml(pyproject).get("tool", {}).get("devloop", {})
        source = pyproject if data else None
        cfg = parse(data, source=source, prefix="tool.devloop." if data else "")
    cfg.root = root
    return cfg


def is_configured(root: Path) -> bool:
    if (root / CONFIG_FILE).is_file():
        return True
    pyproject = root / PYPROJECT
    return pyproject.is_file() and "[tool.devloop" in pyproject.read_text(errors="replace")


def _read_toml(path: Path) -> dict[str, Any]:
    return read_toml(path, str(path), "cannot read it")


def read_toml(source: Any, where: str, unreadable: str) -> dict[str, Any]:
    """A TOML file (a Path or a package resource) as a dict; a ConfigError naming `where`
    when it cannot be read (`unreadable` says what that means), is not UTF-8 or not TOML."""
    try:
        text = source.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{where}: not valid UTF-8 (byte {exc.start}). Save it as UTF-8."
        ) from None
    except OSError as exc:
        raise ConfigError(f"{where}: {unreadable}: {exc.strerror}.") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message carries "(at line L, column C)".
        raise ConfigError(f"{where}: invalid TOML: {exc}. Fix the syntax there.") from None


def parse(data: dict[str, Any], *, source: Path | None = None, prefix: str = "") -> Config:
    from devloop import configkeys

    where = str(source) if source else "configuration"
    cfg = _build(Config, data, where, prefix)
    cfg.source = source
    configkeys.validate(cfg, where, prefix)
    return cfg


# ---------------------------------------------------------------- messages

_NO_VALUE = object()


def toml_value(value: Any) -> str:
    """`value` as it reads in TOML, for a message: "text", 3, 0.5, inf, true, [..]."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, Decimal):
        if value.is_nan():
            return "nan"
        if value.is_infinite():
            return "inf" if value > 0 else "-inf"
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return str(value)


def key_name(path: str) -> str:
    """A dotted key as TOML writes it: "loop.max_revisions" -> "[loop] max_revisions",
    "routing.steps.review" -> "[routing.steps] review", "models" -> "models"."""
    table, dot, key = path.rpartition(".")
    return f"[{table}] {key}" if dot else key


def key_error(
    where: str, path: str, problem: str, *, value: Any = _NO_VALUE, fix: str = ""
) -> ConfigError:
    """The one shape of a config message: `FILE [table] key = value: problem. fix`."""
    shown = key_name(path) + ("" if value is _NO_VALUE else f" = {toml_value(value)}")
    return ConfigError(f"{where} {shown}: {problem}." + (f" {fix}" if fix else ""))


# Keys an earlier version read, with what replaced them: a plain "unknown key" would leave
# the user guessing.
RETIRED = {
    "allow_commands": "is no longer used: the build agent's commands run in the OS sandbox "
    "([sandbox]), so any command may run there. Remove the line; to let commands see more, "
    "use [sandbox] read, env or network",
}


def _build(cls: type, data: Any, where: str, path: str) -> Any:
    if not isinstance(data, dict):
        table = path.rstrip(".")
        raise key_error(
            where,
            table or "top level",
            f"must be a table ([{table}])" if table else "must be a table",
            value=data,
            fix=f"Write it as a [{table}] section with its keys under it." if table else "",
        )
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.metadata.get("toml", True)}
    for key in data:
        if key not in fields and key in RETIRED:
            raise key_error(where, f"{path}{key}", RETIRED[key])
        if key not in fields:
            hint = did_you_mean(key, fields, cutoff=0.5)
            valid = ", ".join(fields)
            raise key_error(
                where,
                f"{path}{key}",
                f"unknown key.{hint} Valid keys here: {valid}",
                fix="Fix the spelling or remove the line.",
            )
    kwargs = {}
    for name in fields:
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], where, f"{path}{name}")
    return cls(**kwargs)


def type_name(tp: Any) -> str:
    """What a value of type `tp` is, in words: "an integer", "a list of strings"."""
    names = {
        str: "a string",
        int: "an integer",
        float: "a number",
        Decimal: "an amount in USD",
        bool: "true or false",
    }
    if tp in names:
        return names[tp]
    origin = typing.get_origin(tp)
    if origin is list:
        return "a list of strings"
    if origin is dict:
        return "a table"
    if origin in (types.UnionType, typing.Union):
        return " or ".join(type_name(a) for a in typing.get_args(tp) if a is not type(None))
    return getattr(tp, "__name__", str(tp))


_TOML_TYPES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "a table",
}


def _convert(tp: Any, value: Any, where: str, path: str) -> Any:
    def wrong() -> ConfigError:
        got = _TOML_TYPES.get(type(value), type(value).__name__)
        return key_error(
            where,
            path,
            f"must be {type_name(tp)}, not {got}",
            value=value,
            fix="Change it, or delete the line for the default.",
        )

    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where, path + ".")
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(options) == 1:  # `X | None`: X's own message (such as "must be finite")
            return _convert(options[0], value, where, path)
        for option in options:
            try:
                return _convert(option, value, where, path)
            except ConfigError:
                continue
        raise wrong()
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise wrong()
        return [_convert(item, v, where, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        _, item = typing.get_args(tp)
        if not isinstance(value, dict):
            raise wrong()
        return {str(k): _convert(item, v, where, f"{path}.{k}") for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise wrong()
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong()
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise wrong()
        return float(value)
    if tp is Decimal:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise wrong()
        try:
            amount = Decimal(str(value).strip().lstrip("$"))  # the digits as written
        except InvalidOperation:
            raise wrong() from None
        if not amount.is_finite():
            raise key_error(
                where,
                path,
                "must be a finite amount of USD",
                value=value,
                fix="Change it, or delete the line for the default.",
            )
        return amount
    if tp is str:
        if not isinstance(value, str):
            raise wrong()
        return value
    raise wrong()
