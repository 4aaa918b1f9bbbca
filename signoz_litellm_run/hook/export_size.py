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
- One span or log record larger than the limit is sent alone. If the endpoint refuses it, it goes again as a copy
  with its longest string values (a log record's body among them) cut to fit, marked
  (`signoz_litellm.truncated_attributes`), so that a call's latency, tokens and cost arrive; one that cannot be
  cut to fit is lost alone, counted, and the reason says so.

The exporters' own retries, timeouts and counting are unchanged: `delivery_count.py` counts each request it sends.
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
# (its figure, or 0); .delivering: the export under way is one of deliver()'s pieces
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
    """Let the configured exporters' encoders hand back the request already built for a batch (those imported
    so far: called again for an exporter built later, hook/lazy_export.py)."""
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
            send: Callable[[Sequence[Any]], Any], unsent: Callable[[int, str | None], None]) -> Any:
    """Send `batch` through `send` (the counted export) in requests under the limit; the last result.

    A piece refused as too large is not counted by `send` (see `deferred`): it is sent again in halves, or, a
    single span, as a copy cut to fit; what cannot be sent again is counted here through `unsent`, with the
    reason, and the pieces after it are still sent. After a piece fails for any other reason, the pieces after it
    are not tried (the endpoint is down or refusing: the whole batch would have failed) and `unsent` is told how
    many items they held."""
    if not isinstance(batch, (list, tuple)):
        batch = list(batch)
    pieces = _cut(signal_name, encode, batch)
    result = None
    while pieces:
        piece, request, size = pieces.pop(0)
        _tls.prepared, _tls.refused, _tls.delivering = (piece, request) if request is not None else None, None, True
        try:
            result = send(piece)
        finally:
            _tls.prepared, _tls.delivering = None, False
        refused, _tls.refused = _tls.refused, None
        if refused is not None:  # too large: smaller pieces may pass, the other pieces still may
            _limits[signal_name] = new_limit = max(1, min(limit(signal_name), refused or (size or 2) // 2))
            again: list[tuple[Sequence[Any], Any, int | None]] = []
            if len(piece) > 1:
                half = len(piece) // 2
                again = [(piece[:half], None, None), (piece[half:], None, None)]
            else:
                copy = _trimmed(encode, signal_name, piece[0], size, new_limit - _TRIM_MARGIN)
                again = [copy] if copy is not None else []
            if not again:
                unsent(len(piece), TOO_LARGE)
            pieces = [cut for whole in again + pieces for cut in (
                _cut(signal_name, encode, whole[0]) if whole[2] is None or whole[2] > new_limit else [whole])]
            continue
        ok = getattr(result, "name", "") == "SUCCESS"
        if ok and len(piece) == 1 and getattr(piece[0], "_signoz_trims", 0):
            trimmed[signal_name] = trimmed.get(signal_name, 0) + 1
        if not ok and pieces:
            unsent(sum(len(p) for p, _, _ in pieces), None)
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


def deferred(batch: Sequence[Any]) -> bool:
    """The request just sent for `batch` (by `deliver`) was refused as too large: `deliver` sends it again or
    counts it, so the counting export leaves it alone."""
    return getattr(_tls, "refused", None) is not None and getattr(_tls, "delivering", False)


# --------------------------------------------------------------------------------------------- one item too large
# A span refused on its own (a base64 image in the prompt, say) would be lost whole, its latency, tokens and cost
# with it; a log record likewise (LiteLLM's debug log of a request body). It is sent again as a copy whose longest
# string values (a log record's body among them) are cut so that it fits, each cut value ending in a marker, and
# with the `signoz_litellm.truncated_attributes` attribute naming them.

TRUNCATED_KEY = "signoz_litellm.truncated_attributes"
_BODY = "(body)"  # a log record's body, as named in TRUNCATED_KEY
_TRIM_MARGIN = 4096  # bytes kept free under the limit for the marker texts and the request around the item
_KEEP_AT_LEAST = 1024  # bytes of each cut value kept
_MAX_TRIMS = 3  # copies tried for one item, each cut to fit a lower limit
trimmed: dict[str, int] = {}  # per signal, items delivered as cut copies in this process (a note at exit)


def _forget_trims() -> None:
    trimmed.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_trims)  # a forked child notes its own cut spans only


def _values(signal_name: str, item: Any) -> dict[str, Any] | None:
    """The item's attributes, and a log record's body under _BODY; None for what this cannot copy."""
    if signal_name == "traces" and hasattr(item, "context") and hasattr(item, "kind"):
        return dict(item.attributes or {})
    record = getattr(item, "log_record", None)
    if signal_name == "logs" and record is not None:
        return {**dict(record.attributes or {}), _BODY: record.body}
    return None


def _trimmed(encode: Callable[[Sequence[Any]], Any], signal_name: str, item: Any, size: int | None,
             target: int) -> tuple[Sequence[Any], Any, int | None] | None:
    """A piece holding a copy of `item` (whose request is `size` bytes, if known) whose request is at most `target`
    bytes; or None: an item that cannot be copied, was cut _MAX_TRIMS times already, or whose string values
    cannot be cut enough."""
    try:
        values = _values(signal_name, item)
        if values is None or getattr(item, "_signoz_trims", 0) >= _MAX_TRIMS:
            return None
        if TRUNCATED_KEY not in values and not any(type(v) is str and len(v) > _KEEP_AT_LEAST
                                                   for v in values.values()):
            return None  # no value long enough to cut
        if size is None:
            _, size = measure(encode, [item])
        excess = size - max(target, 0)
        cut_keys = list(values.get(TRUNCATED_KEY) or ())
        for key in sorted((k for k, v in values.items() if type(v) is str and k != TRUNCATED_KEY),
                          key=lambda k: -len(values[k])):
            if excess <= 0:
                break
            data = values[key].encode("utf-8", "surrogatepass")
            keep = max(_KEEP_AT_LEAST, len(data) - excess - 200)
            if keep >= len(data):
                continue
            marker = f" ... [cut by signoz-litellm: {len(data):,} bytes in all, too large for the endpoint]"
            values[key] = data[:keep].decode("utf-8", "ignore") + marker
            excess -= len(data) - keep - len(marker)
            if key not in cut_keys:
                cut_keys.append(key)
        if excess > 0:
            return None
        values[TRUNCATED_KEY] = tuple(cut_keys)
        copy = _copy_span(item, values) if signal_name == "traces" else _copy_log_record(item, values)
        copy._signoz_trims = getattr(item, "_signoz_trims", 0) + 1  # type: ignore[attr-defined]
        request, size = measure(encode, [copy])
    except Exception:
        return None
    return [copy], request, size


def _bounded(values: dict[str, Any], dropped: int) -> Any:
    from opentelemetry.attributes import BoundedAttributes

    bounded = BoundedAttributes(maxlen=None, attributes=values, immutable=True)
    bounded.dropped = dropped
    return bounded


def _copy_span(span: Any, values: dict[str, Any]) -> Any:
    from opentelemetry.sdk.trace import ReadableSpan

    return ReadableSpan(
        name=span.name, context=span.context, parent=span.parent, resource=span.resource,
        attributes=_bounded(values, span.dropped_attributes),
        events=getattr(span, "_events", span.events), links=getattr(span, "_links", span.links),
        kind=span.kind, status=span.status, start_time=span.start_time, end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope)


class _CopiedLogRecord:
    """A cut copy of an SDK ReadableLogRecord (a frozen dataclass, whose copy could not carry _signoz_trims)."""

    def __init__(self, readable: Any, log_record: Any) -> None:
        self.log_record = log_record
        self.resource = readable.resource
        self.instrumentation_scope = readable.instrumentation_scope
        self.limits = getattr(readable, "limits", None)
        self._dropped = readable.dropped_attributes

    @property
    def dropped_attributes(self) -> int:
        return self._dropped


class _CopiedLogData:
    """A cut copy of what the log exporters take in SDK 1.38: LogData(log_record, instrumentation_scope), the
    resource on the record."""

    def __init__(self, data: Any, log_record: Any) -> None:
        self.log_record = log_record
        self.instrumentation_scope = data.instrumentation_scope


def _copy_log_record(readable: Any, values: dict[str, Any]) -> Any:
    import copy as copying

    record = copying.copy(readable.log_record)
    record.body = values.pop(_BODY)
    older = not hasattr(readable, "resource")  # SDK 1.38's LogData
    dropped = readable.log_record.dropped_attributes if older else readable.dropped_attributes
    record.attributes = _bounded(values, dropped)
    return _CopiedLogData(readable, record) if older else _CopiedLogRecord(readable, record)


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
