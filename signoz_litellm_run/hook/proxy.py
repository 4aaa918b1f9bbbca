"""Inside the LiteLLM proxy server: what `litellm --config ...` needs beyond the SDK arming.

- The proxy creates its "Received Proxy Server Request" span only while
  `litellm.proxy.proxy_server.open_telemetry_logger` is set, and the OpenTelemetry logger sets it
  when it is created. Our arming creates the logger lazily, at the first LLM call, which is after
  the first request's span should have started. So when the proxy server module is imported, the
  one OpenTelemetry logger of the process is created at once (or an existing one adopted); a config
  that lists `otel` later gets that same instance from LiteLLM, never a second one.
- `docker stop` / Kubernetes termination send SIGTERM. Uvicorn (which serves the proxy) shuts down
  gracefully (the proxy drains its logging worker), then raises the signal again with its default
  action, so the process dies without running `atexit`, where the SDK would export what it still
  holds. So once the server has stopped because of a signal, the telemetry is flushed first, within
  SIGNOZ_LITELLM_SHUTDOWN_TIMEOUT seconds. (Only for the proxy: signals in general are hook/signals.py's.)
- Kubernetes and Docker poll the proxy's liveness and readiness endpoints every few seconds. Their
  server spans (and everything under them) are dropped by a sampler placed in front of the SDK's
  own, unless `--trace-health-probes` set SIGNOZ_LITELLM_TRACE_HEALTH_PROBES.

The sampler is installed in every process (cheap: it looks at server and client spans and one name) but drops
nothing until the proxy server module has been imported, so other web applications keep their probes.
With `--span-detail lean` (the default) it also drops the proxy's HTTP client spans that have no parent, and
the proxy's app makes fewer spans (hook/span_detail.py). And it drops LiteLLM's `raw_gen_ai_request` spans in the
proxy unless `--raw-request-span` keeps them: from LiteLLM 1.76 the arming stops LiteLLM making them, but 1.75
makes them inside its success handler with nothing to switch off (a span with no children: dropped, LiteLLM
writes into a non-recording span and `litellm_request` keeps its parent).
"""

from __future__ import annotations

import logging
from typing import Any

from signoz_litellm_run.hook import env_flag, span_detail

_logger = logging.getLogger("signoz_litellm")

TRACE_PROBES_ENV = "SIGNOZ_LITELLM_TRACE_HEALTH_PROBES"
PROXY_MODULE = "litellm.proxy.proxy_server"
# The LiteLLM proxy's probe endpoints (litellm/proxy/health_endpoints/_health_endpoints.py).
# `/health` itself is not one: it is an authenticated check that calls every model.
PROBE_PATHS = frozenset({"/health/liveliness", "/health/liveness", "/health/readiness"})
# LiteLLM's span with the provider's raw request and response, and the switch that keeps it (environment.py).
RAW_REQUEST_SPAN = "raw_gen_ai_request"
RAW_REQUEST_SPAN_ENV = "SIGNOZ_LITELLM_RAW_REQUEST_SPAN"

_active = False  # set when the proxy server module is imported
_SERVER_KIND: Any = None  # opentelemetry.trace.SpanKind.SERVER, once the sampler is installed
_CLIENT_KIND: Any = None
_drop_probes = True
_lean = True
_drop_raw = True


def install() -> None:
    """Install the probe filter (unless probes are traced) and the hook on the proxy's import."""
    import wrapt

    global _drop_probes, _lean, _drop_raw
    _drop_probes, _lean = not env_flag(TRACE_PROBES_ENV), span_detail.lean()
    _drop_raw = not env_flag(RAW_REQUEST_SPAN_ENV)
    if _drop_probes or _lean or _drop_raw:
        if not _install_probe_sampler():
            # Called before OpenTelemetry built its providers (e.g. from the distro's configure
            # step): install it when the web framework is imported, before any server tracer exists.
            for module in ("fastapi", "starlette", PROXY_MODULE):
                wrapt.register_post_import_hook(lambda _m: _install_probe_sampler(), module)
    wrapt.register_post_import_hook(_on_proxy_import, PROXY_MODULE)
    wrapt.register_post_import_hook(_patch_uvicorn_server, "uvicorn.server")


def _on_proxy_import(module: Any) -> None:
    global _active
    _active = True
    try:
        span_detail.quiet_proxy_app(module)
    except Exception as exc:  # never break the proxy
        _logger.debug("signoz-litellm: the proxy's app keeps its spans: %s", exc)
    try:
        import litellm

        from signoz_litellm_run.hook import litellm_arm

        if litellm_arm._state.lock.locked():
            # The logger is being created right now, possibly by this very thread (LiteLLM's logger
            # imports the proxy server while it initialises): it registers itself as the proxy's
            # logger when done, and waiting here for the lock could deadlock.
            return
        litellm_arm.ensure_registered(litellm)
    except Exception as exc:  # never break the proxy
        _logger.warning("signoz-litellm: could not arm the LiteLLM proxy's OpenTelemetry logger: %s", exc)


def is_probe(kind: Any, attributes: Any) -> bool:
    """True for the server span of a request to one of the proxy's probe endpoints."""
    if not _active or not _drop_probes or not attributes or kind is not _SERVER_KIND:
        return False
    path = attributes.get("url.path") or attributes.get("http.target")
    if not isinstance(path, str):
        return False
    return path.split("?", 1)[0].rstrip("/") in PROBE_PATHS


def _install_probe_sampler() -> bool:
    """Put the probe filter in front of the SDK provider's sampler; False if there is no SDK provider yet."""
    global _SERVER_KIND, _CLIENT_KIND
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult

    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        return False
    if getattr(provider.sampler, "_signoz_litellm", False):
        return True

    class ProbeDropSampler(Sampler):
        """Drops the server span of a probe request (its children follow: the SDK's samplers are
        parent-based); every other decision is the wrapped sampler's."""

        _signoz_litellm = True

        def __init__(self, inner: Sampler) -> None:
            self._inner = inner

        def should_sample(self, parent_context: Any, trace_id: int, name: str, kind: Any = None,
                          attributes: Any = None, links: Any = None, trace_state: Any = None) -> SamplingResult:
            if is_probe(kind, attributes) or (_lean and _active and span_detail.drops_unparented_client_span(
                    kind, parent_context, _CLIENT_KIND)) or (_drop_raw and _active and name == RAW_REQUEST_SPAN):
                return SamplingResult(Decision.DROP)
            return self._inner.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

        def get_description(self) -> str:
            return f"SignozLitellmProbeDrop{{{self._inner.get_description()}}}"

    _SERVER_KIND, _CLIENT_KIND = trace.SpanKind.SERVER, trace.SpanKind.CLIENT
    provider.sampler = ProbeDropSampler(provider.sampler)
    return True


def _patch_uvicorn_server(module: Any) -> None:
    server_class = getattr(module, "Server", None)
    original = getattr(server_class, "_serve", None)
    if original is None or getattr(original, "_signoz_litellm", False):
        return  # an older uvicorn: it exits normally after a signal, and atexit exports

    async def _serve(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await original(self, *args, **kwargs)
        finally:
            if _active and getattr(self, "_captured_signals", None):
                flush_telemetry()

    _serve._signoz_litellm = True  # type: ignore[attr-defined]
    server_class._serve = _serve


def flush_telemetry() -> None:
    """Deliver what the proxy holds before uvicorn re-raises the signal and the process dies without
    running atexit: the same bounded, counted final flush every other exit path uses."""
    from signoz_litellm_run.hook import shutdown

    shutdown.final_flush("SIGTERM")
