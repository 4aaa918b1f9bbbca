"""hook/httpx_span.py against OpenTelemetry's own httpx instrumentation functions, in this process (the
end-to-end attributes are checked in test_run_e2e.py)."""

from __future__ import annotations

import importlib
import itertools
import types

import pytest

instrumentation = pytest.importorskip("opentelemetry.instrumentation.httpx")

from signoz_litellm_run.hook import httpx_span  # noqa: E402

URLS = [
    "http://127.0.0.1:8080/v1/chat/completions",
    "https://api.openai.com/v1/chat/completions?api-version=2024-02-01&x=%20y",
    "https://user:secret@example.com:8443/p/a%2Fb;c?q=1#frag",
    "https://bücher.example/ä/ö?q=ü",
    "http://[::1]:9/x",
    "HTTP://Example.COM:80/Path/../x",  # httpx keeps :80 here and drops it when the text is parsed again
]
# Every combination of these parts (2,000 URLs), compared with what the instrumentation parses.
SCHEMES = ["http", "HTTP", "https", "HtTpS", "wss"]
HOSTS = ["Example.COM", "127.0.0.1", "[::1]", "bücher.example", "user:pw@h.io"]
PORTS = ["", ":80", ":443", ":8080"]
PATHS = ["", "/a b", "/a/../b", "/%7e%zz", "/ä"]
QUERIES = ["", "?", "?q=1&r=%20 x", "?ü=ö#f"]
MODULES = [name for name in ("httpx", "httpx2") if importlib.util.find_spec(name)]


def _patched() -> types.SimpleNamespace:
    stand_in = types.SimpleNamespace(_extract_parameters=instrumentation._extract_parameters,
                                     _normalize_headers=instrumentation._normalize_headers)
    httpx_span.patch(stand_in)
    return stand_in


@pytest.mark.parametrize("module_name", MODULES)
@pytest.mark.parametrize("url", URLS)
def test_the_request_url_is_used_as_the_instrumentation_would_parse_it(module_name: str, url: str) -> None:
    module = importlib.import_module(module_name)
    request = module.Request("POST", url, headers={"Authorization": "Bearer x"}, json={"a": 1})
    ours = _patched()._extract_parameters((request,), {}, module)
    theirs = instrumentation._extract_parameters((request,), {}, module)
    assert (ours[1] is request.url) == (not url.startswith("HTTP:"))  # parsed again only when that changes it
    assert ours[0] == theirs[0] and ours[2:] == theirs[2:]
    assert ours[1] == theirs[1] and str(ours[1]) == str(theirs[1])
    for part in ("scheme", "host", "port", "raw_path", "userinfo", "fragment"):
        assert getattr(ours[1], part) == getattr(theirs[1], part), part
    assert instrumentation._normalize_url(ours[1]) == instrumentation._normalize_url(theirs[1])


@pytest.mark.parametrize("module_name", MODULES)
def test_every_url_of_many_parts_as_the_instrumentation_would_parse_it(module_name: str) -> None:
    module = importlib.import_module(module_name)
    extract = _patched()._extract_parameters
    reused = 0
    for parts in itertools.product(SCHEMES, HOSTS, PORTS, PATHS, QUERIES):
        request = module.Request("GET", "{}://{}{}{}{}".format(*parts))
        ours = extract((request,), {}, module)[1]
        theirs = instrumentation._extract_parameters((request,), {}, module)[1]
        assert (ours, str(ours), ours.port, ours.host) == (theirs, str(theirs), theirs.port, theirs.host), parts
        reused += ours is request.url
    assert reused > 1500  # all but the URLs holding their scheme's default port with an upper-case scheme


def test_other_arguments_go_to_the_instrumentations_own_function() -> None:
    import httpx

    raw = (b"GET", (b"http", b"example.com", 80, b"/x"), [(b"a", b"b")])  # httpx < 0.20's arguments
    assert _patched()._extract_parameters(raw, {}, httpx) == instrumentation._extract_parameters(raw, {}, httpx)


def test_patching_twice_wraps_once() -> None:
    stand_in = _patched()
    once = stand_in._extract_parameters
    httpx_span.patch(stand_in)
    assert stand_in._extract_parameters is once
    assert once.__wrapped__ is instrumentation._extract_parameters
