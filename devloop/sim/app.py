"""The sim's endpoints, independent of the HTTP plumbing: a request in, a ``Response`` out.

Every request is recorded (``SimRequest``) before it is answered, so a test that has just
received a reply can already see the request that produced it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from devloop.capabilities import capability
from devloop.promptcache import HashSettings, PromptCache, flatten, hash_settings
from devloop.sim import models
from devloop.sim.messages import IdMaker, build_message
from devloop.sim.scenario import Fault, ReplyQueue, Scenario, ScenarioGap
from devloop.sim.sse import encode, fault_cut, message_events
from devloop.sim.validate import CheckedRequest, SimApiError, cache_breakpoints, check_body, invalid

STEP_HEADER = "x-devloop-step"


@dataclass
class SimRequest:
    """One request as the server received it (header names lower-cased)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any  # the parsed JSON body, or None
    step: str | None  # the X-Devloop-Step header
    request_id: str
    status: int | None = None  # the HTTP status answered (200 even if the stream then failed)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes = b""
    events: list[bytes] | None = None  # an SSE stream, one encoded event each
    abort_after: int | None = None  # close the connection after this many events or bytes
    # Seconds between a stream's first event (message_start) and the rest: generation time.
    # The prompt, its cache writes included, is processed before the response begins.
    generating_s: float = 0.0


def error_body(error_type: str, message: str, request_id: str) -> dict:
    return {
        "type": "error",
        "error": {"type": error_type, "message": message},
        "request_id": request_id,
    }


def json_response(status: int, payload: Any, request_id: str, **headers: str) -> Response:
    return Response(
        status,
        {"content-type": "application/json", "request-id": request_id, **headers},
        json.dumps(payload, ensure_ascii=False).encode(),
    )


class SimApp:
    def __init__(
        self,
        scenario: Scenario,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] = time.sleep,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.scenario = scenario
        self.replies = ReplyQueue(scenario)
        self.cache = PromptCache(clock)
        self.ids = IdMaker()
        self._sleep = sleep
        self._log = log
        self._lock = threading.Lock()
        self._requests: list[SimRequest] = []

    @property
    def requests(self) -> list[SimRequest]:
        with self._lock:
            return list(self._requests)

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Response:
        url = urlsplit(target)
        body: Any = None
        body_error = False
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body_error = True
        record = SimRequest(
            method=method,
            path=url.path,
            query=parse_qs(url.query),
            headers=headers,
            body=body,
            step=headers.get(STEP_HEADER),
            request_id=self.ids.next("req"),
        )
        with self._lock:
            self._requests.append(record)
        try:
            if body_error:
                raise invalid("There was an error parsing the body of your request: not JSON.")
            response = self._route(record)
        except SimApiError as exc:
            response = json_response(
                exc.status,
                error_body(exc.error_type, exc.message, record.request_id),
                record.request_id,
            )
        except ScenarioGap as gap:
            response = json_response(
                400,
                error_body("invalid_request_error", str(gap), record.request_id),
                record.request_id,
            )
        record.status = response.status
        if self._log is not None:
            step = f" step={record.step}" if record.step else ""
            self._log(f"{method} {url.path}{step} -> {response.status} ({record.request_id})")
        return response

    # ---------------------------------------------------------------- routing

    def _route(self, req: SimRequest) -> Response:
        path = req.path.rstrip("/")
        routes: dict[str, Callable[[SimRequest], Response]] = {
            "/v1/messages": self._messages,
            "/v1/messages/count_tokens": self._count_tokens,
            "/v1/models": self._list_models,
        }
        handler = routes.get(path)
        method = "POST" if path.startswith("/v1/messages") else "GET"
        if handler is None and path.startswith("/v1/models/"):
            handler = self._retrieve_model
        if handler is None:
            raise SimApiError(404, "not_found_error", f"Not found: {req.method} {req.path}")
        if req.method != method:
            raise SimApiError(
                405, "invalid_request_error", f"Method {req.method} not allowed on {path}"
            )
        self._authenticate(req.headers)
        return handler(req)

    @staticmethod
    def _authenticate(headers: dict[str, str]) -> None:
        """Any key is accepted, as `x-api-key` (curl, docs) or `Authorization: Bearer` (the SDK)."""
        bearer = headers.get("authorization", "")
        has_bearer = bearer.lower().startswith("bearer ") and bearer[7:].strip()
        if not headers.get("x-api-key") and not has_bearer:
            raise SimApiError(401, "authentication_error", "x-api-key header is required")
        if "anthropic-version" not in headers:
            raise invalid("anthropic-version: header is required")

    def pause(self, seconds: float) -> None:
        """Sleep, waking early when the server stops."""
        self._sleep(seconds)

    # --------------------------------------------------------------- endpoints

    def _messages(self, req: SimRequest) -> Response:
        checked = check_body(req.body)
        body = checked.body
        blocks = flatten(body)
        breakpoints = cache_breakpoints(blocks, body.get("cache_control"))
        _check_prompt_length(checked, sum(b.tokens for b in blocks))
        # max_tokens 0 pre-warms the cache and generates nothing, so it takes no reply.
        reply = None if body["max_tokens"] == 0 else self.replies.next(req.step)
        stream = body.get("stream") is True
        answers = reply is not None and reply.error is None and reply.stream_error is None
        if reply is not None and reply.delay and not (stream and answers):
            self._sleep(reply.delay)  # an error, or a whole JSON body: all of it waits
        if reply is not None and reply.error is not None:
            return self._fault(reply.error, req.request_id)
        if reply is not None and reply.stream_error is not None and not stream:
            return self._fault(reply.stream_error, req.request_id)

        served = (reply.model if reply else None) or checked.cap.id
        served_cap = capability(served) or checked.cap
        prompt = self.cache.apply(
            served, blocks, breakpoints, _hash_settings(checked), served_cap.min_cache_tokens
        )
        message = build_message(reply, checked, prompt, self.ids)
        truncate = reply is not None and reply.truncate
        if not stream:
            response = json_response(200, message, req.request_id)
            if truncate:
                response.abort_after = len(response.body) // 2
            return response

        events = message_events(message)
        abort_after = None
        if reply is not None and reply.stream_error is not None:
            fault = reply.stream_error
            events = events[: fault_cut(events)]
            events.append(("error", error_body(fault.error_type, fault.message, req.request_id)))
        elif truncate:
            abort_after = fault_cut(events)
        return Response(
            200,
            {
                "content-type": "text/event-stream",
                "cache-control": "no-cache",
                "request-id": req.request_id,
            },
            events=[encode(name, data) for name, data in events],
            abort_after=abort_after,
            generating_s=reply.delay if reply is not None and answers else 0.0,
        )

    def _count_tokens(self, req: SimRequest) -> Response:
        checked = check_body(req.body, count_tokens=True)
        blocks = flatten(checked.body)
        cache_breakpoints(blocks, checked.body.get("cache_control"))  # validated, never cached
        total = sum(b.tokens for b in blocks)
        _check_prompt_length(checked, total)
        return json_response(200, {"input_tokens": total}, req.request_id)

    def _list_models(self, req: SimRequest) -> Response:
        return json_response(200, models.list_page(req.query), req.request_id)

    def _retrieve_model(self, req: SimRequest) -> Response:
        model_id = unquote(req.path.rstrip("/").removeprefix("/v1/models/"))
        return json_response(200, models.retrieve(model_id), req.request_id)

    @staticmethod
    def _fault(fault: Fault, request_id: str) -> Response:
        headers: dict[str, str] = {}
        if fault.retry_after is not None:
            seconds = fault.retry_after
            headers["retry-after"] = str(int(seconds)) if seconds == int(seconds) else str(seconds)
        if fault.should_retry is not None:
            headers["x-should-retry"] = "true" if fault.should_retry else "false"
        body = error_body(fault.error_type, fault.message, request_id)
        return json_response(fault.status, body, request_id, **headers)


def _check_prompt_length(checked: CheckedRequest, total: int) -> None:
    if total > checked.cap.max_input_tokens:
        raise invalid(
            f"prompt is too long: {total} tokens > {checked.cap.max_input_tokens} maximum"
        )


def _hash_settings(checked: CheckedRequest) -> HashSettings:
    # An explicit default effort is a no-op for the cache (§3).
    return hash_settings(checked.body, checked.cap.default_effort)
