"""Each setting's value from text: a parser turns a flag's, environment variable's or config file's value into the
setting's value, or raises ValueError with a sentence that says what is wrong (`settings.resolve` adds where the
value came from, and the hint). The parsers are the settings' validation: `settings.OPTIONS` names one per setting.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REGIONS = ("us", "eu", "in", "us2", "eu2", "in2")
PROTOCOLS = ("grpc", "http/protobuf")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{value!r} is not a boolean (use true or false)")


def parse_seconds(value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a number of seconds") from None
    if not (seconds >= 0) or seconds == float("inf"):
        raise ValueError(f"{value!r} is not a number of seconds of 0 or more")
    return seconds


_SIZE_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "kib": 1024, "mib": 1024**2}
MIN_REQUEST_SIZE = 64 * 1024
MAX_REQUEST_SIZE = 64 * 1024**2  # the OTLP/HTTP exporter drops a request larger than this on its own


def parse_request_size(value: Any) -> int:
    """Bytes: a whole number, or with a unit (4MB, 16MiB, 512KB, 512KiB)."""
    match = re.fullmatch(r"\s*(\d+)\s*([A-Za-z]*)\s*", str(value))
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _SIZE_UNITS:
        raise ValueError(f"{value!r} is not a size in bytes (write it like 4000000, 4MB or 16MiB)")
    size = int(match.group(1)) * _SIZE_UNITS[unit]
    if not MIN_REQUEST_SIZE <= size <= MAX_REQUEST_SIZE:
        raise ValueError(f"{value!r} is outside 64KiB to 64MiB")
    return size


def parse_region(value: Any) -> str:
    region = str(value).strip().lower()
    if region not in REGIONS:
        raise ValueError(f"unknown SigNoz Cloud region {value!r}; valid regions: {', '.join(REGIONS)}")
    return region


def parse_protocol(value: Any) -> str:
    text = str(value).strip().lower()
    if text in ("http", "http/protobuf", "http-protobuf", "https"):
        return "http/protobuf"
    if text == "grpc":
        return "grpc"
    raise ValueError(f"unsupported OTLP protocol {value!r}; use grpc or http/protobuf")


SPAN_DETAILS = ("lean", "full")


def parse_span_detail(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in SPAN_DETAILS:
        raise ValueError(f"unknown span detail {value!r}; use lean or full")
    return text


def parse_key(value: Any) -> str:
    key = str(value).strip()
    if not key:
        raise ValueError("the ingestion key is empty")
    if any(ch.isspace() or not ch.isprintable() for ch in key):
        raise ValueError("the ingestion key contains spaces or control characters (a copy-paste slip?)")
    return key


def parse_text(value: Any) -> str:
    text = str(value).strip()
    if not text:
        raise ValueError("the value is empty")
    return text


def parse_path(value: Any) -> str:
    return str(Path(str(value)).expanduser())


def parse_output_file(value: Any) -> str:
    """A file to write (made with its directory when the time comes): not empty, not an existing directory."""
    text = str(value)
    if not text.strip():
        raise ValueError("the path is empty")
    path = Path(text).expanduser()
    if path.is_dir():
        raise ValueError(f"{text} is a directory, not a file")
    return str(path)


_ENDPOINT_RE = re.compile(r"^[A-Za-z0-9.\-\[\]:]+$")


def parse_endpoint(value: Any, *, insecure: bool = False) -> str:
    """Normalise an OTLP endpoint to `scheme://host:port` (plus any path for HTTP collectors).

    `http://` means plain text and `https://` TLS; a bare `host:port` is taken as TLS unless
    `--insecure` is given.
    """
    text = str(value).strip()
    if not text:
        raise ValueError("the endpoint is empty")
    if "://" not in text:
        text = ("http://" if insecure else "https://") + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"endpoint {value!r} must start with http:// (plain text) or https:// (TLS)")
    host = parts.hostname
    if not host or not _ENDPOINT_RE.match(parts.netloc.rsplit("@", 1)[-1]):
        raise ValueError(f"endpoint {value!r} has no valid host")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError(f"endpoint {value!r} must not carry credentials, a query or a fragment")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"endpoint {value!r} has an invalid port") from None
    if port == 0:
        raise ValueError(f"endpoint {value!r} has an invalid port")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def parse_resource_attributes(value: Any) -> tuple[tuple[str, str], ...]:
    """Parse `key=value,key2=value2` (the OTEL_RESOURCE_ATTRIBUTES format) or a TOML table."""
    from urllib.parse import unquote

    if isinstance(value, Mapping):
        return tuple((str(k), str(v)) for k, v in value.items())
    pairs: list[tuple[str, str]] = []
    for item in str(value).split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, val = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"resource attribute {item!r} is not of the form key=value")
        pairs.append((key.strip(), unquote(val.strip())))
    return tuple(pairs)


CAPTURE_MODES = ("full", "none")
SCRUB_MODES = ("default", "pii", "off")
TAG_PREFIX = "tag."  # a job tag `team=search` is the resource attribute `tag.team`
_TAG_KEY_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
MAX_TAG_VALUE = 256


def parse_capture_content(value: Any) -> str:
    """`full` (prompts and completions on the spans, as LiteLLM writes them) or `none`; a boolean from `init()`."""
    if isinstance(value, bool):
        return "full" if value else "none"
    mode = str(value).strip().lower()
    if mode not in CAPTURE_MODES:
        raise ValueError(f"unknown content capture mode {value!r}; use full or none")
    return mode


def parse_scrub(value: Any) -> str:
    """`default` (secrets), `pii` (secrets, e-mail addresses, phone and card numbers) or `off`; true/false too."""
    if isinstance(value, bool):
        return "default" if value else "off"
    mode = str(value).strip().lower()
    if mode in SCRUB_MODES:
        return mode
    if mode in _TRUE:
        return "default"
    if mode in _FALSE - {""}:
        return "off"
    raise ValueError(f"unknown scrub mode {value!r}; use default, pii or off")


def parse_scrub_patterns(value: Any) -> tuple[str, ...]:
    """Regular expressions, each compiled here (the scrubber's own check) so a bad one stops the run, not the
    telemetry: a list (flags, a TOML array, `init()`), or text with one pattern a line (the environment)."""
    if isinstance(value, str):
        items = value.splitlines()
    elif isinstance(value, (list, tuple)):
        items = [str(item) for item in value]
    else:
        raise ValueError(f"{value!r} is not a list of regular expressions")
    patterns = tuple(dict.fromkeys(item for item in items if item.strip()))
    if patterns:
        from signoz_litellm_run.hook import scrub

        for pattern in patterns:
            try:
                scrub.Scrubber((pattern,))
            except scrub.PatternError as exc:
                raise ValueError(f"{pattern!r} is not a valid regular expression ({exc.reason})") from None
    return patterns


def parse_tags(value: Any) -> tuple[tuple[str, str], ...]:
    """Job tags `key=value`: a list of them (flags), `k=v,k2=v2` text (the environment) or a TOML table."""
    if isinstance(value, Mapping):
        pairs = [(str(k), str(v)) for k, v in value.items()]
    elif isinstance(value, (list, tuple)):
        pairs = []
        for item in value:
            key, sep, val = str(item).partition("=")
            if not sep:
                raise ValueError(f"tag {str(item)!r} is not of the form key=value")
            pairs.append((key.strip(), val.strip()))
    else:
        try:
            pairs = list(parse_resource_attributes(value))
        except ValueError:
            raise ValueError(f"tags {str(value)!r} are not of the form key=value,key2=value2") from None
    for key, val in pairs:
        if not _TAG_KEY_RE.match(key):
            raise ValueError(f"tag key {key!r} must be 1 to 64 letters, digits, '_', '.' or '-'")
        if len(val) > MAX_TAG_VALUE:
            raise ValueError(f"the value of tag {key!r} is longer than {MAX_TAG_VALUE} characters")
    return tuple(dict(pairs).items())

