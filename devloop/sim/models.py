"""The Models API (GET /v1/models, GET /v1/models/{id}) served from devloop.capabilities."""

from __future__ import annotations

from devloop.capabilities import EFFORTS, LIFECYCLES, MODELS, THINKING_TYPES, ModelCapability
from devloop.sim.validate import SimApiError, invalid

DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
DEFAULT_LIFECYCLES = ("active", "deprecated")  # retired only when asked for


def _stamp(date: str | None) -> str | None:
    return f"{date}T00:00:00Z" if date else None


def _flag(value: bool) -> dict:
    return {"supported": value}


def model_info(cap: ModelCapability) -> dict:
    """A ModelInfo object (SDK types/model_info.py) for one table row."""
    has_effort = bool(cap.efforts is None or cap.efforts)
    efforts = {e: _flag(cap.accepts_effort(e) and has_effort) for e in EFFORTS}
    return {
        "type": "model",
        "id": cap.id,
        "display_name": cap.display_name,
        "created_at": _stamp(cap.created_at),
        "lifecycle": cap.lifecycle,
        "line": cap.line,
        "deprecated_at": _stamp(cap.deprecated_at),
        "retires_at": _stamp(cap.retires_at),
        "max_input_tokens": cap.max_input_tokens,
        "max_tokens": cap.max_output_tokens,
        # The sim supports the features the table does not track for every model.
        "capabilities": {
            "batch": _flag(True),
            "citations": _flag(True),
            "code_execution": _flag(True),
            "context_management": {"supported": True},
            "effort": {"supported": has_effort, **efforts},
            "image_input": _flag(True),
            "pdf_input": _flag(True),
            "server_tools": {
                "supported": True,
                "code_execution": _flag(True),
                "web_search": _flag(True),
            },
            "structured_outputs": _flag(True),
            "thinking": {
                "supported": bool(cap.thinking_types - {"disabled"}),
                # `disabled` is also accepted by a model without thinking (SDK thinking_types).
                "types": {t: _flag(t in cap.thinking_types) for t in THINKING_TYPES},
            },
        },
    }


def retrieve(model_id: str) -> dict:
    cap = MODELS.get(model_id)
    if cap is None:
        raise SimApiError(404, "not_found_error", f"model: {model_id}")
    return model_info(cap)


def list_page(query: dict[str, list[str]]) -> dict:
    """One page of models, newest first, filtered by lifecycle, paged by after_id/before_id."""
    lifecycles = query.get("lifecycle[]", []) + query.get("lifecycle", [])
    for value in lifecycles:
        if value not in LIFECYCLES:
            raise invalid(f"lifecycle: Input should be one of {', '.join(LIFECYCLES)}")
    wanted = set(lifecycles or DEFAULT_LIFECYCLES)
    limit_text = (query.get("limit") or [str(DEFAULT_LIMIT)])[-1]
    try:
        limit = int(limit_text)
    except ValueError:
        raise invalid("limit: Input should be a valid integer") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid(f"limit: Input should be between 1 and {MAX_LIMIT}")

    rows = sorted(
        (m for m in MODELS.values() if m.lifecycle in wanted),
        key=lambda m: (m.created_at, m.id),
        reverse=True,
    )
    ids = [m.id for m in rows]
    after = (query.get("after_id") or [None])[-1]
    before = (query.get("before_id") or [None])[-1]
    for cursor in (after, before):
        if cursor is not None and cursor not in ids:
            raise invalid(f"Invalid cursor: no model {cursor!r} in this listing")
    if before is not None:
        end = ids.index(before)
        page = rows[max(0, end - limit) : end]
        has_more = end - limit > 0
    else:
        begin = ids.index(after) + 1 if after is not None else 0
        page = rows[begin : begin + limit]
        has_more = begin + limit < len(rows)
    return {
        "data": [model_info(m) for m in page],
        "has_more": has_more,
        "first_id": page[0].id if page else None,
        "last_id": page[-1].id if page else None,
    }
