"""Export requests no larger than the endpoint takes.

OpenTelemetry's batch processors group spans and log records by count (512 per export), not by size, and
LiteLLM puts each call's prompt and completion on its span. With long prompts one request outgrows what the
endpoint accepts (4 MiB for a self-hosted SigNoz collector over gRPC, grpc's default; 16 MB on SigNoz Cloud),
the endpoint refuses it whole, and every span in it is lost: the gRPC exporter even retries the refusal until
its timeout, while the queue behind it fills. So:

- A batch whose request would be larger than `SIGNOZ_LITELLM_MAX_REQUEST_BYTES` (`--max-request-size`, default
  4,000,000 bytes) is sent as several requests, each under it, in order; each is counted on its own. Measuring
  costs no second encoding: the request built to measure a batch is the one its exporter sends.
- A request the endpoint refuses as too large (gRPC RESOURCE_EXHAUSTED "larger than max", HTTP 413) is not
  retried as it was: it is halved and sent again, down to single items, and the limit drops for the rest of the
  process (to the endpoint's own figure when its answer gives one).
- One span or log record larger than the limit is sent alone; if the endpoint refuses it, it alone is lost,
  counted, and the reason says so.

The exporters' own retries, timeouts and counting are unchanged: `shutdown.py` counts each request it sends.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

LIMIT_ENV = "SIGNOZ_LITELLM_MAX_REQUEST_BYTES"
DEFAULT_LIMIT = 4_000_000
# The exporters' modules and the encoder function each looks up at export time, by signal.
ENCODERS = {
    "traces": ("encode_spans", ("opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
                                "opentelemetry.exporter.otlp.proto.http.trace_exporter")),
    "logs": ("encode_logs", ("opentelemetry.exporter.otlp.proto.grpc._log_exporter",
                             "opentelemetry.exporter.otlp.proto.http._log_exporter")),
}
TOO_LARGE = "refused as too large: one span or log record is over the endpoint's size limit"
_ENDPOINT_LIMIT = re.compile(r"larger than max \((\d+) vs\.? (\d+)\)")

_tls = threading.local()  # .prepared: (batch, request) being exported; .refused: the endpoint said too large
_limits: dict[str, int] = {}  # per signal, once an endpoint refused a request as too large


def configured_limit() -> int:
    try:
        value = int(os.environ.get(LIMIT_ENV, "") or DEFAULT_LIMIT)
    except ValueError:
        return DEFAULT_LIMIT
    return value if value > 0 else DEFAULT_LIMIT


_configured = configured_limit()


def limit(signal_name: str) -> int:
    return _limits.get(signal_name, _configured)


def install() -> None:
    """Let the configured exporters' encoders hand back the request already built for a batch."""
    for name, modules in ENCODERS.values():
        for module_name in modules:
            module = sys.modules.get(module_name)
            original = getattr(module, name, None)
            if original is not None and not getattr(original, "_signoz_litellm_reuse", False):
                setattr(module, name, _reusing(original))


def _reusing(original: Callable[[Sequence[Any]], Any]) -> Callable[[Sequence[Any]], Any]:
    def encode(batch: Sequence[Any]) -> Any:
        prepared = getattr(_tls, "prepared", None)
        if prepared is not None and prepared[0] is batch:
            return prepared[1]
        return original(batch)

    encode._signoz_litellm = True  # type: ignore[attr-defined]  (span_wire: already ours)
    encode._signoz_litellm_reuse = True  # type: ignore[attr-defined]
    encode.__wrapped__ = original  # type: ignore[attr-defined]
    return encode


def encoder_of(signal_name: str, exporter: Any) -> Callable[[Sequence[Any]], Any] | None:
    """The encoder `exporter` calls (one of OpenTelemetry's OTLP exporters), or None (any other exporter)."""
    name, modules = ENCODERS.get(signal_name, (None, ()))
    module_name = type(exporter).__module__
    if name is None or module_name not in modules:
        return None
    encode = getattr(sys.modules.get(module_name), name, None)
    return getattr(encode, "__wrapped__", None) if getattr(encode, "_signoz_litellm_reuse", False) else None


def measure(encode: Callable[[Sequence[Any]], Any], batch: Sequence[Any]) -> tuple[Any, int]:
    """The request for `batch` and its size in bytes (our span encoder knows it; otherwise protobuf counts)."""
    sized = getattr(encode, "sized", None)
    if sized is not None:
        return sized(batch)
    request = encode(batch)
    return request, request.ByteSize()


def deliver(signal_name: str, encode: Callable[[Sequence[Any]], Any], batch: Sequence[Any],
            send: Callable[[Sequence[Any]], Any], unsent: Callable[[int], None]) -> Any:
    """Send `batch` through `send` (the counted export) in requests under the limit; the last result.

    After a piece fails for any other reason than its size, the pieces after it are not tried (the endpoint is
    down or refusing: the whole batch would have failed): `unsent` is told how many items they held. An item
    refused as too large on its own is lost (and counted by `send`); the pieces after it are still sent."""
    if not isinstance(batch, (list, tuple)):
        batch = list(batch)
    pieces = _cut(signal_name, encode, batch)
    result = None
    while pieces:
        piece, request, size = pieces.pop(0)
        _tls.prepared, _tls.refused = (piece, request) if request is not None else None, None
        try:
            result = send(piece)
        finally:
            _tls.prepared = None
        refused, _tls.refused = _tls.refused, None
        if refused is not None:  # too large: smaller pieces may pass, the other pieces still may
            _limits[signal_name] = new_limit = max(1, min(limit(signal_name), refused or size // 2))
            if len(piece) > 1:
                half = len(piece) // 2
                pieces[:0] = [(piece[:half], None, None), (piece[half:], None, None)]
            pieces = [cut for whole in pieces for cut in (
                _cut(signal_name, encode, whole[0]) if whole[2] is None or whole[2] > new_limit else [whole])]
            continue
        if getattr(result, "name", "") != "SUCCESS" and pieces:
            unsent(sum(len(p) for p, _, _ in pieces))
            return result
    return result


def _cut(signal_name: str, encode: Callable[[Sequence[Any]], Any],
         batch: Sequence[Any]) -> list[tuple[Sequence[Any], Any, int | None]]:
    """`batch` in pieces under the limit, each with its request and size; if it cannot be encoded, the batch
    whole with no request: its exporter then encodes it, and fails and is counted, as it always did."""
    try:
        return _pieces(signal_name, encode, batch)
    except Exception:
        return [(batch, None, None)]


def _pieces(signal_name: str, encode: Callable[[Sequence[Any]], Any],
            batch: Sequence[Any]) -> list[tuple[Sequence[Any], Any, int | None]]:
    request, size = measure(encode, batch)
    if size <= limit(signal_name) or len(batch) == 1:
        return [(batch, request, size)]
    half = len(batch) // 2
    return _pieces(signal_name, encode, batch[:half]) + _pieces(signal_name, encode, batch[half:])


def will_resend(batch: Sequence[Any]) -> bool:
    """The request just sent for `batch` was refused as too large and `deliver` sends it again in halves
    (so it is not counted as failed)."""
    return getattr(_tls, "refused", None) is not None and len(batch) > 1


def refused_item() -> bool:
    """The request just sent was refused as too large (whatever happens next)."""
    return getattr(_tls, "refused", None) is not None


def note_grpc_error(error: Any) -> Any:
    """Called with a gRPC error from an Export call: a refusal for size is noted, and comes back as an error the
    exporter does not retry (it would be refused again until the exporter's timeout); any other error as it is."""
    try:
        code = error.code()
        details = error.details() or ""
    except Exception:
        return error
    if getattr(code, "name", "") != "RESOURCE_EXHAUSTED" or "larger than max" not in details.lower():
        return error
    match = _ENDPOINT_LIMIT.search(details.lower())
    _tls.refused = int(match.group(2)) if match else 0
    return _not_retried(error)


def note_http_status(status: int | None) -> None:
    if status == 413:
        _tls.refused = 0


_not_retried_class: Any = None


def _not_retried(error: Any) -> Any:
    """`error` with a status code the exporter never retries; details are kept (the class is made on first use:
    grpc is imported only where a gRPC exporter runs)."""
    global _not_retried_class
    if _not_retried_class is None:
        import grpc

        class NotRetried(grpc.RpcError):
            def __init__(self, original: Any) -> None:
                super().__init__(str(original))
                self._original = original

            def code(self) -> Any:
                return grpc.StatusCode.INVALID_ARGUMENT

            def details(self) -> str:
                return f"request too large: {self._original.details()}"

            def trailing_metadata(self) -> Any:
                return self._original.trailing_metadata()

            def initial_metadata(self) -> Any:
                return self._original.initial_metadata()

        _not_retried_class = NotRetried
    return _not_retried_class(error)
