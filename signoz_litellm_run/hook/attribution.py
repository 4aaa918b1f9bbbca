"""Who and what a call was for, on its span: the user, the session, the tags and the program's own metadata.

LiteLLM writes a call's `user` as `llm.user` and drops the metadata keys it does not know itself (`session_id`,
`tags`, a customer id): the keys teams filter on to see which customer, session or feature costs what. From the
call's logging payload (never the program's objects), each call's span gets:
- `user.id` from `user` (`llm.user` stays, for what already reads it);
- `session.id` and `gen_ai.conversation.id` from metadata `session_id` (or LiteLLM's `litellm_session_id`);
- `tags`, a string array, from metadata `tags` (the proxy's request tags);
- `metadata.<key>` for each other scalar metadata key (str, int, float, bool): at most `MAX_KEYS` keys, names of
  up to `MAX_KEY_LENGTH` characters, text cut at `MAX_VALUE_LENGTH`; nested, other-typed and LiteLLM's own keys
  (router and proxy bookkeeping) skipped. Behind the proxy, the request's own metadata (`requester_metadata`).
Span attributes only: metrics never get per-user or per-session labels (each would be a series of its own).
Whatever the payload holds, this returns a list and never raises.
"""

from __future__ import annotations

from typing import Any

MAX_KEYS = 16
MAX_KEY_LENGTH = 64
MAX_VALUE_LENGTH = 256
MAX_TAGS = 32
USER = "user.id"
SESSION = "session.id"
CONVERSATION = "gen_ai.conversation.id"
TAGS = "tags"
# Metadata LiteLLM itself keeps among the program's (router, proxy, logging bookkeeping): not the program's own.
LITELLM_KEYS = frozenset({
    "session_id", "tags", "hidden_params", "llm_api_timing_windows", "model_group", "model_group_size",
    "model_group_alias", "deployment", "model_info", "api_base", "caching_groups", "previous_models", "endpoint",
    "headers", "requester_metadata", "requester_ip_address", "user_agent", "global_max_parallel_requests",
    "model_id", "litellm_parent_otel_span", "prompt_id", "prompt_variables", "applied_guardrails",
})
LITELLM_PREFIXES = ("user_api_key", "litellm", "_")
_SCALARS = (str, bool, int, float)


def attributes(kwargs: Any) -> list[tuple[str, Any]]:
    """(key, value) pairs for the call's span, from the `kwargs` LiteLLM hands its loggers."""
    try:
        return _attributes(kwargs)
    except Exception:  # a payload unlike any we know: no attribution, the call's telemetry goes on
        return []


def _attributes(kwargs: Any) -> list[tuple[str, Any]]:
    if type(kwargs) is not dict:
        return []
    found: list[tuple[str, Any]] = []
    params = kwargs.get("litellm_params")
    params = params if isinstance(params, dict) else {}
    metadata = params.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    requester = metadata.get("requester_metadata")
    own = requester if isinstance(requester, dict) else metadata  # behind the proxy: the request's own metadata
    logged = kwargs.get("standard_logging_object")
    logged = logged if isinstance(logged, dict) else {}

    optional = kwargs.get("optional_params")
    user = optional.get("user") if isinstance(optional, dict) else None
    if user is None:
        user = kwargs.get("user")
    if type(user) in _SCALARS and user != "":
        found.append((USER, _text(user)))

    session = own.get("session_id") or metadata.get("session_id") or params.get("litellm_session_id")
    if type(session) in _SCALARS and session != "":
        session = _text(session)
        found += [(SESSION, session), (CONVERSATION, session)]

    tags = logged.get("request_tags") or own.get("tags")
    if isinstance(tags, (list, tuple)):
        kept = tuple(_text(t)[:128] for t in tags[:MAX_TAGS] if type(t) in _SCALARS)
        if kept:
            found.append((TAGS, kept))

    litellm_own = logged.get("metadata")
    litellm_own = litellm_own if isinstance(litellm_own, dict) else {}
    count = 0
    for key, value in own.items():
        if count >= MAX_KEYS:
            break
        if (type(key) is not str or not key or len(key) > MAX_KEY_LENGTH or key in LITELLM_KEYS
                or key.startswith(LITELLM_PREFIXES) or key in litellm_own):
            continue
        kind = type(value)
        if kind is str:
            if not value:
                continue
            value = value[:MAX_VALUE_LENGTH]
        elif kind not in (bool, int, float):
            continue  # nested, or not a value OpenTelemetry takes as it is
        found.append((f"metadata.{key}", value))
        count += 1
    return found


def _text(value: Any) -> str:
    return (value if type(value) is str else str(value))[:MAX_VALUE_LENGTH]
