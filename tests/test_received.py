"""Decoding what the receiver received."""

from __future__ import annotations

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList

from signoz_litellm_run.received import decode_any_value, decode_attributes


def test_decode_any_value_all_kinds() -> None:
    assert decode_any_value(AnyValue()) is None
    assert decode_any_value(AnyValue(string_value="s")) == "s"
    assert decode_any_value(AnyValue(int_value=-7)) == -7
    assert decode_any_value(AnyValue(double_value=1.25)) == 1.25
    assert decode_any_value(AnyValue(bool_value=False)) is False
    assert decode_any_value(AnyValue(bytes_value=b"\x00\x01")) == b"\x00\x01"
    array = AnyValue(array_value=ArrayValue(values=[AnyValue(int_value=1), AnyValue(string_value="x")]))
    assert decode_any_value(array) == [1, "x"]
    kvlist = AnyValue(kvlist_value=KeyValueList(values=[KeyValue(key="a", value=array)]))
    assert decode_any_value(kvlist) == {"a": [1, "x"]}
    assert decode_attributes([KeyValue(key="k", value=AnyValue(bool_value=True))]) == {"k": True}
