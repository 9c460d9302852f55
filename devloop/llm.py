"""The one door to the model provider: every model call devloop makes goes through `Door.call`.

Request building (cached prefix, effort, structured output), the budget guard, streaming,
retries, the ledger write and response validation live here, and nothing else in devloop
knows the SDK's types. `anthropic` is imported lazily: it costs ~1.5 s.

Order of events for one call, and why:
1. budget guard: the worst case must fit what remains, or the request is never sent;
2. the request streams (the SDK refuses large non-streaming `max_tokens`);
3. the response's usage goes to the ledger at once, in its own transaction, before any
   validation that could fail: a billed answer is never lost from the books;
4. validation: empty, truncated, refused or off-schema answers are loud, typed errors.
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from devloop import jsonshape, pricing, tokens
from devloop.config import Config
from devloop.errors import ApiError, BudgetExceeded, UnpricedModelError, UsageError
from devloop.ledger import CallRecord, Ledger
from devloop.redaction import redact

# Stop reasons that mean the answer was cut off.
TRUNCATED = ("max_tokens", "model_context_window_exceeded")
# HTTP statuses the SDK retries, and those that fail at once with advice.
RETRYABLE_STATUSES = (408, 409, 429, 500, 502, 503, 504, 529)
ADVICE = {
    400: "the request was rejected as invalid; this is a devloop bug or an unsupported model setting.",
    401: "authentication failed: set ANTHROPIC_API_KEY to a valid key (or ANTHROPIC_AUTH_TOKEN for a gateway token).",
    402: "billing problem on the account: check the plan and payment details in the Anthropic console.",
    403: "the key is not allowed to use this model or endpoint: check its workspace and permissions.",
    404: "the model or endpoint was not found: check [models] in devloop.toml and any base URL.",
    413: "the request is too large (32 MB limit): reduce the context sent for this step.",
}
MAX_BREAKPOINTS = 4
DEFAULT_MAX_TOKENS = 16_000


# ------------------------------------------------------------------ errors


class ModelReplyError(ApiError):
    """A response arrived (and was billed and recorded) but cannot be used."""

    outcome = "error"

    def __init__(self, message: str, *, step: str, model: str, request_id: str) -> None:
        super().__init__(f"step '{step}', model {model}, request {request_id or '-'}: {message}")
        self.step = step
        self.model = model
        self.request_id = request_id


class EmptyReplyError(ModelReplyError):
    outcome = "empty"


class TruncatedReplyError(ModelReplyError):
    outcome = "truncated"


class RefusalError(ModelReplyError):
    outcome = "refusal"


class InvalidOutputError(ModelReplyError):
    outcome = "invalid_output"


# ---------------------------------------------------------------- requests


@dataclass
class Request:
    """What a step asks. `system` and `context` form the cached prefix: keep them identical
    across the steps of a feature (project context, spec) and put the step's own
    instructions in `messages`."""

    messages: list[dict[str, Any]]
    system: str = ""
    context: list[str] = field(default_factory=list)
    tools: list[dict[str, Any]] | None = None
    schema: dict[str, Any] | None = None  # structured output: the answer is JSON of this shape
    max_tokens: int = DEFAULT_MAX_TOKENS


@dataclass
class Reply:
    text: str  # all text blocks joined
    data: Any  # the parsed JSON when the request had a schema
    content: list[dict[str, Any]]  # every block, to send back unchanged in a tool loop
    stop_reason: str
    model: str  # the model that served it
    requested_model: str
    request_id: str
    usage: dict[str, Any]
    call_id: int
    cost_usd: Decimal | None
    baseline_usd: Decimal | None
    retries: int

    @property
    def tool_uses(self) -> list[dict[str, Any]]:
        return [b for b in self.content if b.get("type") == "tool_use"]

    def assistant_message(self) -> dict[str, Any]:
        return {"role": "assistant", "content": self.content}


def build_params(request: Request, model: str, effort: str | None) -> dict[str, Any]:
    """The Messages API body (without stream/model-independent headers).

    The system blocks end with one cache breakpoint, so tools + system + context are a
    byte-stable prefix shared by every call of the feature on this model. A conversation of
    several turns gets a second, moving breakpoint on its last block, so each turn reads the
    previous turns from cache. Never more than MAX_BREAKPOINTS.
    """
    system_blocks = [{"type": "text", "text": t} for t in (request.system, *request.context) if t]
    if system_blocks:
        system_blocks[-1]["cache_control"] = {"type": "ephemeral"}
    messages = [dict(m) for m in request.messages]
    if len(messages) > 1:
        last = messages[-1]
        content = last["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
        if blocks and blocks[-1].get("type") != "thinking" and blocks[-1].get("text", "x") != "":
            blocks[-1] = {**blocks[-1], "cache_control": {"type": "ephemeral"}}
        last["content"] = blocks
    params: dict[str, Any] = {
        "model": model,
        "max_tokens": request.max_tokens,
        "messages": messages,
    }
    if system_blocks:
        params["system"] = system_blocks
    if request.tools:
        params["tools"] = request.tools
    output_config: dict[str, Any] = {}
    if effort:
        output_config["effort"] = effort
    if request.schema is not None:
        output_config["format"] = {"type": "json_schema", "schema": request.schema}
    if output_config:
        params["output_config"] = output_config
    # Thinking is left to the model's default (adaptive): several models reject `disabled`.
    assert count_breakpoints(params) <= MAX_BREAKPOINTS
    return params


def count_breakpoints(params: dict[str, Any]) -> int:
    """Cache breakpoints in a request: blocks (tools, system, message content) carrying
    cache_control. Counted on the structure, never on text that merely mentions it."""
    blocks = [*params.get("tools", []), *params.get("system", [])]
    for message in params["messages"]:
        if isinstance(message["content"], list):
            blocks += message["content"]
    return sum(1 for block in blocks if isinstance(block, dict) and "cache_control" in block)


def estimate_input_tokens(params: dict[str, Any]) -> int:
    parts = [params.get("system", []), params.get("tools", []), params["messages"]]
    return sum(tokens.estimate_json(p) for p in parts)


# ------------------------------------------------------------------ client


def key_configured() -> bool:
    return bool(os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN"))


_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()
_attempt_log = threading.local()  # HTTP statuses seen by the current call on this thread


def _on_response(response: Any) -> None:
    log = getattr(_attempt_log, "statuses", None)
    if log is not None:
        log.append(response.status_code)


def client_for(base_url: str, cfg: Config) -> Any:
    """One SDK client per base URL per process (connection reuse, one retry policy)."""
    if not key_configured():
        raise UsageError(
            "no API key: set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN for a gateway). "
            "To run offline, start `devloop sim serve` and set ANTHROPIC_BASE_URL to its URL "
            "with any key."
        )
    import hashlib

    # Keyed by what the SDK would read at construction, so a changed environment gets a new
    # client (the key itself is hashed, never kept in a readable form).
    effective_url = base_url or os.environ.get("ANTHROPIC_BASE_URL", "")
    credential = os.environ.get("ANTHROPIC_API_KEY", "") + os.environ.get(
        "ANTHROPIC_AUTH_TOKEN", ""
    )
    fingerprint = hashlib.sha256(credential.encode()).hexdigest()
    with _clients_lock:
        key = f"{effective_url}|{fingerprint}|{cfg.api.max_retries}|{cfg.api.timeout_s}"
        if key not in _clients:
            import anthropic

            http_client = anthropic.DefaultHttpxClient(event_hooks={"response": [_on_response]})
            kwargs: dict[str, Any] = {
                "max_retries": cfg.api.max_retries,
                "timeout": cfg.api.timeout_s,
                "http_client": http_client,
            }
            if base_url:
                kwargs["base_url"] = base_url
            _clients[key] = anthropic.Anthropic(**kwargs)
        return _clients[key]


def _backoff_seconds(retry: int) -> float:
    # The SDK's schedule: 0.5 s doubling to at most 8 s, with up to 25% jitter.
    return min(0.5 * 2**retry, 8.0) * (1 - 0.25 * random.random())


# -------------------------------------------------------------------- door


@dataclass
class _Budget:
    feature_usd: Decimal | None
    step_usd: Decimal | None


Warn = Callable[[str], None]
Exchange = Callable[[str, dict[str, Any], dict[str, Any]], None]


def _stderr_warning(message: str) -> None:
    print(f"devloop: warning: {message}", file=sys.stderr)


class Door:
    """Model access for one feature: budget, ledger and transcripts are per feature."""

    def __init__(
        self,
        cfg: Config,
        ledger: Ledger,
        feature: str,
        *,
        feature_budget_usd: Decimal | None = None,
        on_exchange: Exchange | None = None,
        warn: Warn = _stderr_warning,
    ) -> None:
        self.cfg = cfg
        self.ledger = ledger
        self.feature = feature
        if feature_budget_usd is None and cfg.budget.feature_usd is not None:
            feature_budget_usd = Decimal(str(cfg.budget.feature_usd))
        self.feature_budget_usd = feature_budget_usd
        self.on_exchange = on_exchange
        self.warn = warn

    # ------------------------------------------------------------ public

    def call(
        self,
        step: str,
        tier: str,
        request: Request,
        *,
        step_run_id: int | None = None,
        escalated_from: int | None = None,
    ) -> Reply:
        """Send one request for `step` on `tier`; retried once in a fresh request when the
        answer comes back empty or unparsable. Raises a ModelReplyError subclass, ApiError,
        BudgetExceeded or UsageError."""
        model = self.cfg.models.for_tier(tier)
        params = build_params(request, model, self.cfg.effort.get(step))
        for attempt in (1, 2):
            try:
                return self._send(
                    step, tier, params, request.schema, attempt, step_run_id, escalated_from
                )
            except (EmptyReplyError, InvalidOutputError) as exc:
                if attempt == 2:
                    raise
                self.warn(f"{exc.message}; retrying once in a fresh request.")
        raise AssertionError("unreachable")

    def check_budget(self, step: str, model: str, params: dict[str, Any]) -> None:
        """Refuse (BudgetExceeded, exit 3) a call whose worst case could cross a ceiling."""
        budget = self._budget(step)
        if budget.feature_usd is None and budget.step_usd is None:
            return
        est_input = estimate_input_tokens(params)
        try:
            rates = pricing.rates(model, band_tokens=est_input)
        except UnpricedModelError as exc:
            raise UnpricedModelError(
                f"{exc.message} A budget is set, so devloop will not send a call it cannot price."
            ) from None
        worst = (est_input * rates.input + params["max_tokens"] * rates.output) / pricing.MTOK
        checks = [("feature", budget.feature_usd, self.ledger.spent_usd(self.feature))]
        checks.append(("step", budget.step_usd, self.ledger.spent_usd(self.feature, step)))
        for scope, ceiling, spent in checks:
            if ceiling is None:
                continue
            remaining = ceiling - spent
            if worst > remaining:
                where = f"feature '{self.feature}'" if scope == "feature" else f"step '{step}'"
                raise BudgetExceeded(
                    f"budget: the next call of step '{step}' to {model} could cost up to "
                    f"${worst:.4f} (~{est_input:,} input tokens estimated + "
                    f"{params['max_tokens']:,} max output tokens), but {where} has "
                    f"${remaining:.4f} left of ${ceiling:.2f} (spent ${spent:.4f}). The call "
                    "was not sent. Raise the ceiling (--budget, or [budget] in devloop.toml) "
                    "and resume."
                )

    # ----------------------------------------------------------- private

    def _budget(self, step: str) -> _Budget:
        step_usd = self.cfg.budget.steps.get(step, self.cfg.budget.step_usd)
        return _Budget(
            self.feature_budget_usd, Decimal(str(step_usd)) if step_usd is not None else None
        )

    def _base_url(self, tier: str) -> str:
        return getattr(self.cfg.endpoints, tier, "") or ""

    def _send(
        self,
        step: str,
        tier: str,
        params: dict[str, Any],
        schema: dict[str, Any] | None,
        attempt: int,
        step_run_id: int | None,
        escalated_from: int | None,
    ) -> Reply:
        import anthropic

        model = params["model"]
        self.check_budget(step, model, params)
        client = client_for(self._base_url(tier), self.cfg)
        headers = {}
        if self.cfg.api.attribution_headers:
            headers = {"X-Devloop-Feature": self.feature, "X-Devloop-Step": step}
        record = CallRecord(
            feature=self.feature,
            step_key=step,
            step_run_id=step_run_id,
            attempt=attempt,
            tier=tier,
            requested_model=model,
            served_model=model,
            escalated_from=escalated_from,
        )
        _attempt_log.statuses = []
        started = time.monotonic()
        stream_retries = 0
        try:
            while True:
                try:
                    with client.messages.stream(**params, extra_headers=headers) as stream:
                        message = stream.get_final_message()
                        request_id = stream.request_id or ""
                    break
                except anthropic.APIStatusError as exc:
                    # An `error` event inside a 200 stream is not retried by the SDK.
                    midstream = exc.response is not None and exc.response.status_code == 200
                    if not midstream or stream_retries >= self.cfg.api.max_retries:
                        raise
                except Exception as exc:  # the stream broke off after the 200 (httpx errors)
                    if stream_retries >= self.cfg.api.max_retries or not _is_transport_error(exc):
                        raise
                stream_retries += 1
                time.sleep(_backoff_seconds(stream_retries - 1))
        except anthropic.APIStatusError as exc:
            self._record_failure(record, params, started, exc, stream_retries)
            raise self._api_error(step, model, exc, stream_retries) from None
        except anthropic.APIConnectionError as exc:
            self._record_failure(record, params, started, exc, stream_retries)
            raise ApiError(
                f"step '{step}', model {model}: could not reach the API at "
                f"{client.base_url} after {self._attempts(stream_retries)} attempts "
                f"({type(exc).__name__}). Check the network or the base URL."
            ) from None
        except Exception as exc:
            if not _is_transport_error(exc):
                raise
            self._record_failure(record, params, started, exc, stream_retries)
            raise ApiError(
                f"step '{step}', model {model}: the response stream broke off "
                f"{self._attempts(stream_retries)} times ({type(exc).__name__}); giving up."
            ) from None

        reply_dict = message.model_dump(mode="json")
        usage = reply_dict.get("usage") or {}
        verdict = _classify(reply_dict, schema)
        cost, baseline, priced_note = self._price(model, usage)
        record = replace(
            record,
            served_model=reply_dict.get("model") or model,
            usage=usage,
            cost_usd=cost,
            baseline_usd=baseline,
            baseline_model=self.cfg.models.frontier,
            price_version=pricing.table_version(),
            latency_ms=int((time.monotonic() - started) * 1000),
            stop_reason=reply_dict.get("stop_reason") or "",
            request_id=request_id,
            outcome=verdict.outcome,
            retries=self._attempts(stream_retries) - 1,
        )
        call_id = self.ledger.record_call(record)  # before anything else can fail
        if self.on_exchange is not None:
            self.on_exchange(step, params, reply_dict)
        if priced_note:
            self.warn(priced_note)
        served = record.served_model
        if served != model:
            self.warn(
                f"step '{step}': asked for {model} but {served} answered (request "
                f"{request_id}); recorded in the ledger."
            )
        if verdict.error is not None:
            raise verdict.error(verdict.message, step=step, model=served, request_id=request_id)
        return Reply(
            text=verdict.text,
            data=verdict.data,
            content=reply_dict.get("content") or [],
            stop_reason=record.stop_reason,
            model=served,
            requested_model=model,
            request_id=request_id,
            usage=usage,
            call_id=call_id,
            cost_usd=cost,
            baseline_usd=baseline,
            retries=record.retries,
        )

    def _attempts(self, stream_retries: int) -> int:
        statuses = getattr(_attempt_log, "statuses", None) or []
        return max(len(statuses), stream_retries + 1)

    def _price(
        self, model: str, usage: dict[str, Any]
    ) -> tuple[Decimal | None, Decimal | None, str]:
        note = ""
        try:
            cost = pricing.cost_usd(model, usage)
        except UnpricedModelError as exc:
            cost, note = None, f"{exc.message} The call is recorded as unpriced."
        try:
            baseline = pricing.cost_usd(self.cfg.models.frontier, usage)
        except UnpricedModelError:
            baseline = None
        return cost, baseline, note

    def _record_failure(
        self,
        record: CallRecord,
        params: dict[str, Any],
        started: float,
        exc: Exception,
        stream_retries: int,
    ) -> None:
        """A request that got no usable response: a $0 ledger row and a transcript entry."""
        status = getattr(getattr(exc, "response", None), "status_code", None)
        request_id = getattr(exc, "request_id", None) or ""
        error_type = _error_type(exc)
        if self.on_exchange is not None:
            error = {"status": status, "type": error_type or type(exc).__name__}
            error["message"] = redact(_error_message(exc))
            self.on_exchange(record.step_key, params, {"error": error, "request_id": request_id})
        self.ledger.record_call(
            replace(
                record,
                usage={},
                cost_usd=Decimal(0),  # a failed request is not billed
                baseline_usd=Decimal(0),
                baseline_model=self.cfg.models.frontier,
                price_version=pricing.table_version(),
                latency_ms=int((time.monotonic() - started) * 1000),
                stop_reason="",
                request_id=request_id,
                outcome=f"api_error:{error_type or status or type(exc).__name__}",
                retries=self._attempts(stream_retries) - 1,
            )
        )

    def _api_error(self, step: str, model: str, exc: Any, stream_retries: int) -> ApiError:
        status = exc.response.status_code if exc.response is not None else 0
        request_id = getattr(exc, "request_id", None) or "-"
        detail = redact(_error_message(exc))
        where = f"step '{step}', model {model}, request {request_id}"
        if status in ADVICE:
            return ApiError(f"{where}: HTTP {status}: {detail}. What to do: {ADVICE[status]}")
        attempts = self._attempts(stream_retries)
        return ApiError(
            f"{where}: {_error_type(exc) or f'HTTP {status}'} after {attempts} attempts: "
            f"{detail}. The API is overloaded or failing; try again later (`devloop resume`)."
        )


def _is_transport_error(exc: Exception) -> bool:
    module = type(exc).__module__ or ""
    return module.startswith(("httpx", "httpcore", "h11")) or isinstance(exc, ConnectionError)


def _error_body(exc: Any) -> dict[str, Any]:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        return body.get("error", body) if isinstance(body.get("error"), dict) else body
    return {}


def _error_type(exc: Any) -> str:
    return str(_error_body(exc).get("type") or "")


def _error_message(exc: Any) -> str:
    return str(_error_body(exc).get("message") or getattr(exc, "message", "") or exc)


@dataclass
class _Verdict:
    outcome: str
    text: str = ""
    data: Any = None
    error: type[ModelReplyError] | None = None
    message: str = ""


def _classify(reply: dict[str, Any], schema: dict[str, Any] | None) -> _Verdict:
    """Decide what a response is worth, without raising: the ledger row comes first."""
    content = reply.get("content") or []
    text = "".join(b.get("text") or "" for b in content if b.get("type") == "text")
    has_tool_use = any(b.get("type") == "tool_use" for b in content)
    stop = reply.get("stop_reason") or ""
    output_tokens = (reply.get("usage") or {}).get("output_tokens", 0)
    if stop == "refusal":
        details = reply.get("stop_details") or {}
        category = details.get("category") or "unspecified"
        explanation = details.get("explanation") or "no explanation given"
        return _Verdict(
            "refusal",
            error=RefusalError,
            message=f"the model refused (category {category}): {explanation}",
        )
    if stop in TRUNCATED:
        return _Verdict(
            "truncated",
            error=TruncatedReplyError,
            message=f"the answer was cut off (stop_reason {stop}, {output_tokens} output tokens); "
            "raise max_tokens for this step or shrink its input",
        )
    if not text.strip() and not has_tool_use:
        return _Verdict(
            "empty",
            error=EmptyReplyError,
            message=f"empty answer on stop_reason '{stop}' ({output_tokens} output tokens billed)",
        )
    if schema is None or has_tool_use:
        return _Verdict("ok", text=text)
    try:
        data = json.loads(text)
    except ValueError as exc:
        return _Verdict(
            "invalid_output",
            error=InvalidOutputError,
            message=f"the structured answer is not valid JSON ({exc})",
        )
    found = jsonshape.problems(data, schema)
    if found:
        shown = "; ".join(found[:5])
        return _Verdict(
            "invalid_output",
            error=InvalidOutputError,
            message=f"the structured answer does not match the schema: {shown}",
        )
    return _Verdict("ok", text=text, data=data)


# ------------------------------------------------------------- models API


def fetch_model_info(cfg: Config, tier: str) -> dict[str, Any]:
    """The Models API's ModelInfo for the tier's model, as a dict. Raises ApiError with the
    reason when it cannot be read (no key, unreachable, unknown model)."""
    import anthropic

    model = cfg.models.for_tier(tier)
    base_url = getattr(cfg.endpoints, tier, "") or ""
    try:
        client = client_for(base_url, cfg)
        return client.models.retrieve(model).model_dump(mode="json")
    except UsageError as exc:
        raise ApiError(exc.message) from None
    except anthropic.NotFoundError:
        raise ApiError(f"the Models API does not know {model}") from None
    except anthropic.APIStatusError as exc:
        raise ApiError(
            f"the Models API answered HTTP {exc.status_code}: {redact(_error_message(exc))}"
        ) from None
    except anthropic.APIConnectionError as exc:
        raise ApiError(f"cannot reach the Models API ({type(exc).__name__})") from None


def count_tokens(cfg: Config, tier: str, params: dict[str, Any]) -> int:
    """Input tokens of a request as the API counts them (`POST /v1/messages/count_tokens`,
    free). Raises ApiError with the reason when it cannot be asked."""
    import anthropic

    fields = {k: params[k] for k in ("model", "messages", "system", "tools") if k in params}
    try:
        client = client_for(getattr(cfg.endpoints, tier, "") or "", cfg)
        return client.messages.count_tokens(**fields).input_tokens
    except UsageError as exc:
        raise ApiError(exc.message) from None
    except anthropic.APIStatusError as exc:
        raise ApiError(
            f"count_tokens answered HTTP {exc.status_code}: {redact(_error_message(exc))}"
        ) from None
    except anthropic.APIConnectionError as exc:
        raise ApiError(f"cannot reach count_tokens ({type(exc).__name__})") from None
