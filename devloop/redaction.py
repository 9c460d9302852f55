"""Keep credentials out of everything devloop writes: ledger, artifacts, transcripts, logs."""

from __future__ import annotations

import os

# Environment variables whose values are credentials. Anything matching these name
# fragments is treated as secret too (tokens, passwords, keys of other services).
SECRET_VARIABLES = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")
_SECRET_FRAGMENTS = ("API_KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL", "PRIVATE_KEY")
REDACTED = "[REDACTED]"


def is_secret_name(name: str) -> bool:
    upper = name.upper()
    return name in SECRET_VARIABLES or any(part in upper for part in _SECRET_FRAGMENTS)


def secret_values(environ: dict[str, str] | None = None) -> list[str]:
    """The values to scrub, longest first so a key containing another is fully replaced."""
    env = os.environ if environ is None else environ
    values = {v for k, v in env.items() if is_secret_name(k) and len(v) >= 8}
    return sorted(values, key=len, reverse=True)


def redact(text: str, environ: dict[str, str] | None = None) -> str:
    for value in secret_values(environ):
        text = text.replace(value, REDACTED)
    return text


def scrubbed_environ(environ: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of the environment without credentials, for commands devloop runs for a model."""
    env = os.environ if environ is None else environ
    return {k: v for k, v in env.items() if not is_secret_name(k)}
