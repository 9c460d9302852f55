"""model: the door to the model provider, and what calls cost.

- door.py: `Door.call`, the one way a model is called: reservation, streaming, retries, the
  ledger row, the counterfactual baseline, continuation of a paused turn, reuse of a
  recorded answer;
- request.py: Request, Reply and the Messages API body (cached prefix, breakpoints);
- replies.py: what a response is worth, and the loud errors for the ones that are not;
- client.py: the anthropic SDK client, the streamed call with its mid-stream retries, the
  Models API and token counting;
- pricing.py (+ prices.toml): exact Decimal cost of a usage object, effective-dated;
- worstcase.py: the most a request can be billed (what a reservation holds);
- lifecycle.py: each tier's model, its prices and lifecycle (`devloop models`).

The only package that imports anthropic, and only in client.py, inside its functions.
May import: the leaf modules (config, errors, money, usage, tokens, capabilities,
promptcache, jsonshape, redaction) and ledger. Nothing of loop, agent, reports or cli.
"""

from devloop.model.client import check_settings, count_tokens, fetch_model_info, key_configured
from devloop.model.door import Door, ExchangeLog
from devloop.model.replies import (
    EmptyReplyError,
    InvalidOutputError,
    ModelMismatchError,
    ModelReplyError,
    PausedReplyError,
    RefusalError,
    TruncatedReplyError,
    UnknownStopError,
)
from devloop.model.request import (
    DEFAULT_MAX_TOKENS,
    Reply,
    Request,
    build_params,
    count_breakpoints,
    estimate_input_tokens,
    request_sha256,
)

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "Door",
    "EmptyReplyError",
    "ExchangeLog",
    "InvalidOutputError",
    "ModelMismatchError",
    "ModelReplyError",
    "PausedReplyError",
    "RefusalError",
    "Reply",
    "Request",
    "TruncatedReplyError",
    "UnknownStopError",
    "build_params",
    "check_settings",
    "count_breakpoints",
    "count_tokens",
    "estimate_input_tokens",
    "fetch_model_info",
    "key_configured",
    "request_sha256",
]
