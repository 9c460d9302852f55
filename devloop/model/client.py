"""The anthropic SDK client, one per base URL per process; the streamed Messages call with
its mid-stream retries (`stream_message`, for the Door); and the calls that are not messages:
the Models API (lifecycle) and token counting. The only module that imports anthropic,
always inside the functions that need it (it costs ~1.5 s)."""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from devloop.config import PYPROJECT, Config
from devloop.errors import ApiError, ConfigError, UsageError
from devloop.redaction import redact

T = TypeVar("T")

# HTTP statuses that fail at once, with what to do about them.
ADVICE = {
    400: "the request was rejected as invalid; this is a devloop bug or an unsupported model setting.",
    401: "authentication failed: set ANTHROPIC_API_KEY to a valid key (or ANTHROPIC_AUTH_TOKEN for a gateway token).",
    402: "billing problem on the account: check the plan and payment details in the Anthropic console.",
    403: "the key is not allowed to use this model or endpoint: check its workspace and permissions.",
    404: "the model or endpoint was not found: check [models] in devloop.toml and any base URL.",
    413: "the request is too large (32 MB limit): reduce the context sent for this step.",
}


def key_configured() -> bool:
    return bool(os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN"))


_clients: dict[str, Any] = {}


_clients_lock = threading.Lock()


attempt_log = threading.local()  # HTTP statuses seen by the current call on this thread


def _on_response(response: Any) -> None:
    log = getattr(attempt_log, "statuses", None)
    if log is not None:
        log.append(response.status_code)
    begun = getattr(attempt_log, "on_response", None)
    if begun is not None:  # the response has begun: a prefix it wrote can now be read
        begun()


def check_settings(cfg: Config) -> None:
    """Refuse what would stop `client_for` (no key, a retry count the SDK cannot take),
    for a run to ask before it creates its branch and state."""
    if not key_configured():
        raise UsageError(
            "no API key: set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN for a gateway), then run "
            "the same command again. To run offline, start `devloop sim serve` and set "
            "ANTHROPIC_BASE_URL to its URL with any key."
        )
    retries = cfg.api.max_retries
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        # The SDK takes a negative count and then fails every request with a RuntimeError.
        source = cfg.source
        prefix = "tool.devloop." if source is not None and source.name == PYPROJECT else ""
        raise ConfigError(
            f"{source or 'the config'}: '{prefix}api.max_retries' is {retries!r}; it must be "
            "a whole number, 0 or more (0: never retry). Set it there, e.g. max_retries = 2 "
            "(the default)."
        )


def client_for(base_url: str, cfg: Config) -> Any:
    """One SDK client per base URL per process (connection reuse, one retry policy)."""
    check_settings(cfg)
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


@dataclass
class Streamed:
    message: dict[str, Any]  # the final Message, as JSON
    request_id: str
    stream_retries: int  # how often the stream broke off and was sent again


class StreamFailed(Exception):
    """A streamed call that got no answer. `kind`: "status" (the API answered an error;
    `error` is the SDK's APIStatusError), "connection" (never reached) or "transport" (the
    stream broke off after the 200, every retry included)."""

    def __init__(self, kind: str, error: Exception, stream_retries: int) -> None:
        super().__init__(kind)
        self.kind, self.error, self.stream_retries = kind, error, stream_retries


def stream_message(
    client: Any, params: dict[str, Any], headers: dict[str, str], max_retries: int
) -> Streamed:
    """One Messages call, streamed. The SDK retries what fails before the response begins;
    an error event inside a 200 stream, or a stream that breaks off, is sent again here, up
    to `max_retries` times with the SDK's backoff. Raises StreamFailed."""
    import anthropic

    retries = 0
    while True:
        try:
            with client.messages.stream(**params, extra_headers=headers) as stream:
                message = stream.get_final_message()
                return Streamed(message.model_dump(mode="json"), stream.request_id or "", retries)
        except anthropic.APIStatusError as exc:
            midstream = exc.response is not None and exc.response.status_code == 200
            if not midstream or retries >= max_retries:
                raise StreamFailed("status", exc, retries) from None
        except anthropic.APIConnectionError as exc:
            raise StreamFailed("connection", exc, retries) from None
        except Exception as exc:  # the stream broke off after the 200 (httpx errors)
            if not is_transport_error(exc):
                raise
            if retries >= max_retries:
                raise StreamFailed("transport", exc, retries) from None
        retries += 1
        time.sleep(backoff_seconds(retries - 1))


def backoff_seconds(retry: int) -> float:
    # The SDK's schedule: 0.5 s doubling to at most 8 s, with up to 25% jitter.
    return min(0.5 * 2**retry, 8.0) * (1 - 0.25 * random.random())


def is_transport_error(exc: Exception) -> bool:
    module = type(exc).__module__ or ""
    return module.startswith(("httpx", "httpcore", "h11")) or isinstance(exc, ConnectionError)


def _error_body(exc: Any) -> dict[str, Any]:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        return body.get("error", body) if isinstance(body.get("error"), dict) else body
    return {}


def error_type(exc: Any) -> str:
    return str(_error_body(exc).get("type") or "")


def error_message(exc: Any) -> str:
    return str(_error_body(exc).get("message") or getattr(exc, "message", "") or exc)


def fetch_model_info(cfg: Config, tier: str) -> dict[str, Any]:
    """The Models API's ModelInfo for the tier's model, as a dict. Raises ApiError with the
    reason when it cannot be read (no key, unreachable, unknown model)."""
    model = cfg.models.for_tier(tier)

    def retrieve(client: Any) -> dict[str, Any]:
        return client.models.retrieve(model).model_dump(mode="json")

    return _ask(cfg, tier, "the Models API", retrieve, not_found=f"does not know {model}")


def count_tokens(cfg: Config, tier: str, params: dict[str, Any]) -> int:
    """Input tokens of a request as the API counts them (`POST /v1/messages/count_tokens`,
    free). Raises ApiError with the reason when it cannot be asked."""
    fields = {k: params[k] for k in ("model", "messages", "system", "tools") if k in params}
    return _ask(
        cfg,
        tier,
        "count_tokens",
        lambda client: client.messages.count_tokens(**fields).input_tokens,
    )


def _ask(cfg: Config, tier: str, what: str, call: Callable[[Any], T], *, not_found: str = "") -> T:
    """A call besides Messages on the tier's client; its failures as ApiError naming `what`
    (a setting to fix stays a ConfigError)."""
    import anthropic

    try:
        return call(client_for(getattr(cfg.endpoints, tier, "") or "", cfg))
    except ConfigError:
        raise
    except UsageError as exc:
        raise ApiError(exc.message) from None
    except anthropic.NotFoundError as exc:
        if not not_found:
            raise ApiError(f"{what} answered HTTP 404: {redact(error_message(exc))}") from None
        raise ApiError(f"{what} {not_found}") from None
    except anthropic.APIStatusError as exc:
        raise ApiError(
            f"{what} answered HTTP {exc.status_code}: {redact(error_message(exc))}"
        ) from None
    except anthropic.APIConnectionError as exc:
        raise ApiError(f"cannot reach {what} ({type(exc).__name__})") from None


def stream_error(
    step: str, model: str, base_url: str, failed: StreamFailed, attempts: int
) -> ApiError:
    """The error for a call that got no usable response after `attempts` tries."""
    exc = failed.error
    if failed.kind == "status":
        return status_error(step, model, exc, attempts)
    if failed.kind == "connection":
        return ApiError(
            f"step '{step}', model {model}: could not reach the API at {base_url} after "
            f"{attempts} attempts ({type(exc).__name__}). Check the network or the base URL."
        )
    return ApiError(
        f"step '{step}', model {model}: the response stream broke off {attempts} times "
        f"({type(exc).__name__}); giving up."
    )


def status_error(step: str, model: str, exc: Any, attempts: int) -> ApiError:
    """An HTTP error status, with what to do about it (ADVICE) where the status says."""
    status = exc.response.status_code if exc.response is not None else 0
    request_id = getattr(exc, "request_id", None) or "-"
    detail = redact(error_message(exc))
    where = f"step '{step}', model {model}, request {request_id}"
    if status in ADVICE:
        return ApiError(f"{where}: HTTP {status}: {detail}. What to do: {ADVICE[status]}")
    return ApiError(
        f"{where}: {error_type(exc) or f'HTTP {status}'} after {attempts} attempts: "
        f"{detail}. The API is overloaded or failing; try again later (`devloop resume`)."
    )
