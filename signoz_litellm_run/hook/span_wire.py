"""OTLP trace export requests written straight to protobuf wire format.

OpenTelemetry's encoder builds a protobuf object for every span, attribute and value, then
serializes the lot: exporting a LiteLLM call's spans (`litellm_request` with some 30 attributes, and
the HTTP client span) cost about 1 M instructions, most of it that encoding. This writes the same
message as bytes, with the encoded form of each attribute key, of each short repeated value (model,
provider, operation...) and of each resource and scope kept after their first use: the export then
costs about 0.35 M instructions per call. The exporters still get a real `ExportTraceServiceRequest`
(parsed back from these bytes in C), so everything after the encoder is unchanged.

Any value this encoder does not handle exactly as OpenTelemetry's would (an unsupported type, an int
beyond 64 bits, a string that is not valid UTF-8) makes the whole batch go through OpenTelemetry's
own encoder instead, so its behaviour, logging included, is kept in every odd case.

Field numbers are those of opentelemetry/proto/trace/v1/trace.proto, common/v1/common.proto,
resource/v1/resource.proto and collector/trace/v1/trace_service.proto.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from signoz_litellm_run.hook import is_as_written

_pack_double = struct.Struct("<d").pack
_pack_fixed64 = struct.Struct("<Q").pack
_MAX_CACHED = 1024  # entries per cache (~250 KB at most); once full, new keys and values are encoded each time
_MAX_CACHED_VALUE_LEN = 64
_MAX_CACHED_RESOURCES = 64  # resources are one per tracer provider: a handful in any process
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_FLAGS_HAS_IS_REMOTE = 0x100  # SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK
_FLAGS_IS_REMOTE = 0x200  # SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK
_FLAGS_FIELD = {False: b"\x85\x01" + struct.pack("<I", _FLAGS_HAS_IS_REMOTE),  # field 16, fixed32
                True: b"\x85\x01" + struct.pack("<I", _FLAGS_HAS_IS_REMOTE | _FLAGS_IS_REMOTE)}


class Unencodable(Exception):
    """A value this encoder leaves to OpenTelemetry's (which skips it and logs why)."""


_SMALL = [bytes((n,)) for n in range(0x80)]  # the one-byte varints


def _varint(value: int) -> bytes:
    if value < 0x80:
        return _SMALL[value]
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _int64(value: int) -> bytes:
    if value < 0:
        if value < _INT64_MIN:
            raise Unencodable(value)
        value += 1 << 64
    elif value > _INT64_MAX:
        raise Unencodable(value)
    return _varint(value)


def _len_field(tag: bytes, payload: bytes) -> bytes:
    return tag + _varint(len(payload)) + payload


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates: protobuf refuses them too
        raise Unencodable(text) from exc


# AnyValue: 1 string, 2 bool, 3 int64, 4 double, 5 ArrayValue, 6 KeyValueList, 7 bytes.
def _any_value(value: Any) -> bytes:
    if value is None:
        return b""
    if value is True:
        return b"\x10\x01"
    if value is False:
        return b"\x10\x00"
    kind = type(value)
    if kind is str:
        return _len_field(b"\x0a", _utf8(value))
    if kind is int:
        return b"\x18" + _int64(value)
    if kind is float:
        return b"\x21" + _pack_double(value)
    if isinstance(value, str):  # a str subclass (a str-valued Enum, say): its characters, as protobuf takes them
        return _len_field(b"\x0a", _utf8(str.__str__(value)))
    if isinstance(value, int):
        return b"\x18" + _int64(int(value))
    if isinstance(value, float):
        return b"\x21" + _pack_double(float(value))
    if isinstance(value, bytes):
        return _len_field(b"\x3a", bytes(value))
    if isinstance(value, Sequence):  # ArrayValue: 1 repeated AnyValue
        return _len_field(b"\x2a", b"".join(_len_field(b"\x0a", _any_value(v)) for v in value))
    if isinstance(value, Mapping):  # KeyValueList: 1 repeated KeyValue
        return _len_field(b"\x32", b"".join(_len_field(b"\x0a", _key_value(str(k), v)) for k, v in value.items()))
    raise Unencodable(value)


# KeyValue: 1 key, 2 value.
def _key_value(key: str, value: Any) -> bytes:
    return _len_field(b"\x0a", _utf8(key)) + _len_field(b"\x12", _any_value(value))


class _Encoder:
    """The caches live here; one per process (they only hold bytes and a few long-lived objects)."""

    def __init__(self) -> None:
        self.sdk_attributes = _sdk_attributes_view()
        self.keys: dict[str, bytes] = {}  # key -> encoded KeyValue.key field
        self.pairs: dict[tuple[bytes, str, type, Any], bytes] = {}  # (field tag, key, type, short value) -> field
        self.resources: dict[int, tuple[Any, bytes]] = {}  # id -> (resource, encoded Resource message)
        self.scopes: dict[int, tuple[Any, bytes]] = {}  # id -> (scope, encoded InstrumentationScope)
        self.names: dict[tuple[bytes, str], bytes] = {}  # (field tag, span or event name) -> encoded field

    # -- attributes
    def attributes(self, tag: bytes, attributes: Any) -> list[bytes]:
        """Each attribute as a length-delimited field `tag` (a repeated KeyValue)."""
        if not attributes:
            return []
        out = []
        keys = self.keys
        pairs = self.pairs
        small = _SMALL  # the one-byte varints looked up inline below: lengths are nearly always under 128
        # BoundedAttributes keeps its items in `_dict`; reading that skips a lock per item.
        for key, value in getattr(attributes, "_dict", attributes).items():
            kind = type(value)
            if (kind is str and len(value) <= _MAX_CACHED_VALUE_LEN) or kind is bool or kind is int:
                cache_key = (tag, key, kind, value)  # the tag too: a span's, an event's, a link's attributes...
                field = pairs.get(cache_key)
                if field is not None:
                    out.append(field)
                    continue
                if len(pairs) < _MAX_CACHED:
                    field = pairs[cache_key] = _len_field(tag, _key_value(key, value))
                    out.append(field)
                    continue
                # The cache is full (a gateway's ids, one per call, fill it within the first hundred calls): encoded
                # below, as the values that are never kept, without the calls of the general encoder.
            encoded_key = keys.get(key)
            if encoded_key is None:
                encoded_key = _len_field(b"\x0a", _utf8(key))
                if len(keys) < _MAX_CACHED:
                    keys[key] = encoded_key
            if kind is str:
                raw = value.encode("utf-8")  # lone surrogates raise: the batch goes to OpenTelemetry's encoder
                size = len(raw)
                inner = b"\x0a" + (small[size] if size < 128 else _varint(size)) + raw  # AnyValue.string_value
            elif kind is float:
                inner = b"\x21" + _pack_double(value)
            elif kind is bool:
                inner = b"\x10\x01" if value else b"\x10\x00"
            elif kind is int and 0 <= value < 128:
                inner = b"\x18" + small[value]
            else:
                inner = _any_value(value)
            size = len(inner)
            body = encoded_key + b"\x12" + (small[size] if size < 128 else _varint(size)) + inner
            size = len(body)
            out.append(tag + (small[size] if size < 128 else _varint(size)) + body)
        return out

    # -- resource and scope
    def resource(self, resource: Any) -> bytes:
        """ResourceSpans.resource (field 1): Resource{1 attributes}. Always present, as OpenTelemetry writes it."""
        cached = self.resources.get(id(resource))
        if cached is not None and cached[0] is resource:
            return cached[1]
        encoded = _len_field(b"\x0a", b"".join(self.attributes(b"\x0a", resource.attributes)))
        if len(self.resources) < _MAX_CACHED_RESOURCES:
            self.resources[id(resource)] = (resource, encoded)
        return encoded

    def scope(self, scope: Any) -> bytes:
        """ScopeSpans.scope (field 1): InstrumentationScope{1 name, 2 version, 3 attributes}."""
        cached = self.scopes.get(id(scope))
        if cached is not None and cached[0] is scope:
            return cached[1]
        if scope is None:
            encoded = b"\x0a\x00"
        else:
            parts = []
            if scope.name:
                parts.append(_len_field(b"\x0a", _utf8(scope.name)))
            if scope.version:
                parts.append(_len_field(b"\x12", _utf8(scope.version)))
            parts.extend(self.attributes(b"\x1a", scope.attributes))
            encoded = _len_field(b"\x0a", b"".join(parts))
        if len(self.scopes) < _MAX_CACHED:
            self.scopes[id(scope)] = (scope, encoded)
        return encoded

    def name(self, tag: bytes, name: str) -> bytes:
        field = self.names.get((tag, name))
        if field is None:
            field = _len_field(tag, _utf8(name)) if name else b""
            if len(self.names) < _MAX_CACHED:
                self.names[(tag, name)] = field
        return field

    # -- spans
    def span(self, span: Any) -> bytes:
        """Span, fields in OpenTelemetry's order: 1 trace_id, 2 span_id, 3 trace_state, 4 parent_span_id,
        5 name, 6 kind, 7 start, 8 end, 9 attributes, 10 dropped attributes, 11 events, 12 dropped
        events, 13 links, 14 dropped links, 15 status, 16 flags."""
        context = span.get_span_context()
        parts = [b"\x0a\x10" + context.trace_id.to_bytes(16, "big"), b"\x12\x08" + context.span_id.to_bytes(8, "big")]
        trace_state = context.trace_state
        if trace_state:
            parts.append(_len_field(b"\x1a", _utf8(",".join(f"{k}={v}" for k, v in trace_state.items()))))
        parent = span.parent
        if parent:
            parts.append(b"\x22\x08" + parent.span_id.to_bytes(8, "big"))
        parts.append(self.name(b"\x2a", span.name))
        parts.append(b"\x30" + _varint(span.kind.value + 1))  # SpanKind.INTERNAL (0) is SPAN_KIND_INTERNAL (1)
        start, end = span.start_time, span.end_time
        if start:
            parts.append(b"\x39" + _pack_fixed64(start))
        if end:
            parts.append(b"\x41" + _pack_fixed64(end))
        # The SDK's spans show their attributes through a read-only view, whose items are read one lookup at a
        # time: the attributes it shows are read directly instead.
        attributes = span._attributes if type(span).attributes is self.sdk_attributes else span.attributes
        parts.extend(self.attributes(b"\x4a", attributes))
        if span.dropped_attributes:
            parts.append(b"\x50" + _varint(span.dropped_attributes))
        for event in span.events:
            parts.append(_len_field(b"\x5a", self.event(event)))
        if span.dropped_events:
            parts.append(b"\x60" + _varint(span.dropped_events))
        for link in span.links:
            parts.append(_len_field(b"\x6a", self.link(link)))
        if span.dropped_links:
            parts.append(b"\x70" + _varint(span.dropped_links))
        parts.append(_status(span.status))
        parts.append(_FLAGS_FIELD[bool(parent is not None and parent.is_remote)])
        return b"".join(parts)

    def event(self, event: Any) -> bytes:
        """Span.Event: 1 time (fixed64), 2 name, 3 attributes, 4 dropped attributes."""
        parts = []
        if event.timestamp:
            parts.append(b"\x09" + _pack_fixed64(event.timestamp))
        parts.append(self.name(b"\x12", event.name))
        parts.extend(self.attributes(b"\x1a", event.attributes))
        if event.dropped_attributes:
            parts.append(b"\x20" + _varint(event.dropped_attributes))
        return b"".join(parts)

    def link(self, link: Any) -> bytes:
        """Span.Link: 1 trace_id, 2 span_id, 4 attributes, 5 dropped attributes, 6 flags (fixed32)."""
        context = link.context
        parts = [b"\x0a\x10" + context.trace_id.to_bytes(16, "big"), b"\x12\x08" + context.span_id.to_bytes(8, "big")]
        parts.extend(self.attributes(b"\x22", link.attributes))
        if link.dropped_attributes:
            parts.append(b"\x28" + _varint(link.dropped_attributes))
        flags = _FLAGS_HAS_IS_REMOTE | (_FLAGS_IS_REMOTE if context.is_remote else 0)
        parts.append(b"\x35" + struct.pack("<I", flags))
        return b"".join(parts)

    # -- request
    def request(self, spans: Sequence[Any]) -> bytes:
        """ExportTraceServiceRequest{1 repeated ResourceSpans{1 resource, 2 repeated ScopeSpans{1 scope,
        2 repeated spans, 3 schema_url}, 3 schema_url}}, grouped as OpenTelemetry groups them: by equal
        resource, then by equal scope, in order of first appearance."""
        groups: list[tuple[Any, list[tuple[Any, list[bytes]]], dict[int, int]]] = []
        by_resource: dict[int, int] = {}
        for span in spans:
            resource = span.resource
            index = by_resource.get(id(resource))
            if index is None:
                index = by_resource[id(resource)] = _index_of(groups, resource, lambda: (resource, [], {}))
            _, scoped, by_scope = groups[index]
            scope = span.instrumentation_scope or None
            position = by_scope.get(id(scope))
            if position is None:
                position = by_scope[id(scope)] = _index_of(scoped, scope, lambda: (scope, []))
            body = self.span(span)
            scoped[position][1].append(b"\x12" + _varint(len(body)) + body)
        out = []
        for resource, scoped, _ in groups:
            resource_parts = [self.resource(resource)]
            for scope, encoded_spans in scoped:
                scope_parts = [self.scope(scope), *encoded_spans]
                schema_url = scope.schema_url if scope is not None else None
                if schema_url:
                    scope_parts.append(_len_field(b"\x1a", _utf8(schema_url)))
                resource_parts.append(_len_field(b"\x12", b"".join(scope_parts)))
            if resource.schema_url:
                resource_parts.append(_len_field(b"\x1a", _utf8(resource.schema_url)))
            out.append(_len_field(b"\x0a", b"".join(resource_parts)))
        return b"".join(out)


def _sdk_attributes_view() -> Any:
    """The SDK's `ReadableSpan.attributes` while it is a read-only view of the span's `_attributes` (SDK 1.45)."""
    try:
        from opentelemetry.sdk.trace import ReadableSpan
    except ImportError:
        return None
    view = ReadableSpan.__dict__.get("attributes")
    if isinstance(view, property) and is_as_written(view.fget, ("MappingProxyType", "_attributes")):
        return view
    return None


def _index_of(entries: list[Any], key: Any, new: Callable[[], Any]) -> int:
    """The position of the entry whose first item equals `key`, appending `new()` if there is none."""
    for position, entry in enumerate(entries):
        if entry[0] == key:
            return position
    entries.append(new())
    return len(entries) - 1


def _status(status: Any) -> bytes:
    """Span.status (field 15): Status{2 message, 3 code}; present even when empty, as OpenTelemetry writes it."""
    if status is None:
        return b""
    body = b""
    if status.description:
        body = _len_field(b"\x12", _utf8(status.description))
    code = status.status_code.value
    if code:
        body += b"\x18" + _varint(code)
    return b"\x7a" + _varint(len(body)) + body


_encoder = _Encoder()


def forget_resources() -> None:
    """A forked child's resource was given its own pid (`forks`): its encoding is made again."""
    _encoder.resources.clear()


def encode_request(spans: Sequence[Any]) -> bytes:
    """The serialized ExportTraceServiceRequest for `spans` (raises Unencodable for odd values)."""
    return _encoder.request(spans)


def faster(original: Callable[[Sequence[Any]], Any]) -> Callable[[Sequence[Any]], Any]:
    """A drop-in for OpenTelemetry's `encode_spans`: the same message, built from our bytes."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    parse = ExportTraceServiceRequest.FromString

    def encode_spans(sdk_spans: Sequence[Any]) -> Any:
        try:
            return parse(encode_request(sdk_spans))
        except Exception:  # anything unusual: OpenTelemetry's encoder decides (and logs) as it always has
            return original(sdk_spans)

    def sized(sdk_spans: Sequence[Any]) -> tuple[Any, int]:
        """The request and its size in bytes (hook/export_size.py), with no second encoding."""
        try:
            data = encode_request(sdk_spans)
            return parse(data), len(data)
        except Exception:
            request = original(sdk_spans)
            return request, request.ByteSize()

    encode_spans.sized = sized  # type: ignore[attr-defined]
    encode_spans._signoz_litellm = True  # type: ignore[attr-defined]
    encode_spans.__wrapped__ = original  # type: ignore[attr-defined]
    return encode_spans


# The OTLP span exporters' modules, each calling the module-level `encode_spans` they imported.
EXPORTER_MODULES = (
    "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
)


def install() -> None:
    """Give the OTLP span exporters the faster encoder (those already imported: the configured ones)."""
    for name in EXPORTER_MODULES:
        module = sys.modules.get(name)
        original = getattr(module, "encode_spans", None)
        if original is not None and not getattr(original, "_signoz_litellm", False):
            module.encode_spans = faster(original)  # type: ignore[union-attr]
