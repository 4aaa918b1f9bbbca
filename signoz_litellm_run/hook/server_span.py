"""The HTTP server span of a FastAPI app (the LiteLLM proxy's) made with less work, the same span.

- The route is looked up once per path. To name each request's server span (`POST /v1/chat/completions`) and set
  `http.route`, OpenTelemetry's FastAPI instrumentation matches the request against the app's routes in order,
  regular expressions and all, before FastAPI's own router matches it again: the proxy has hundreds of routes, and
  this took 86-140 us a request (about 1 us now). The name and attributes are now remembered per
  (scope type, method, path, root path), for up to 512 of them, while the app's routes are the same
  (the same route objects, and FastAPI's routes version of every included router). Any app with a route that
  matches on more than those (a `Host` route, which reads the host header; a route class we do not know) is
  looked up as before, on every request.
- Headers are read without decoding each one. The ASGI instrumentation reads a request header (the propagators'
  `traceparent`, `tracestate`, `baggage`; `host`, `user-agent`, `content-length`) by decoding and lower-casing
  every header of the request, once per header it reads: some 90 decodes a request. A header whose name is
  ASCII is now compared as bytes (lower-cased bytes of ASCII are the ASCII of its lower-cased text), and only
  the matching values are decoded, with the instrumentation's own function; any other name is compared as the
  instrumentation compares it.

- The request's attributes are worked out once per request shape. The ASGI instrumentation builds the server
  span's ~12 attributes from the scope on every request (the URL built, redacted and parsed, the method
  sanitised, the user agent normalised, some 40 calls): all of them but the client's address and port depend
  only on the scheme, server, path, query string, HTTP version, method and the `host` and `user-agent` headers,
  so that part is remembered for each of up to 256 such shapes, and the client's are added as the
  instrumentation adds them, last (the method's sanitising reads its environment switch when a shape is first
  seen, as the process starts; it is not changed later in a server).

- The routes' state is built at start-up. FastAPI (0.137 on) builds each included route's state (its `Dependant`,
  fields, validators) when a request first needs it; the route lookup above walks every route, so under the
  instrumentation it is all built at the first request. The LiteLLM proxy calls `gc.freeze()` at the end of its
  start-up, so that full collections skip what start-up made: state built after that, ~80,000 objects for the
  proxy's ~600 routes, was walked by every full collection (35 ms a collection became 72 ms; at 64 clients 0.4 ms
  of CPU a request). It is now built when the app's lifespan starts, before the app's own start-up runs.

All four only where the instrumentation's code is what this was written against (`hook.is_as_written`), else it
is left as it is; none can raise where the instrumentation would not (a failure falls back to its function).
"""

from __future__ import annotations

import sys
from typing import Any

from signoz_litellm_run.hook import is_as_written

FASTAPI_MODULE = "opentelemetry.instrumentation.fastapi"
ASGI_MODULE = "opentelemetry.instrumentation.asgi"
_MAX_REMEMBERED = 512
_MAX_SHAPES = 256  # request shapes whose attributes are remembered

# The names the instrumentations' functions use, as written against (opentelemetry-instrumentation 0.59b0-0.66b1).
_SPAN_DETAILS_NAMES = ("_get_route_details", "get", "sanitize_method", "strip", "HTTP_ROUTE")
_ROUTE_DETAILS_NAMES = ("_flatten_routes", "routes", "isinstance", "Route", "matches", "Match", "FULL", "path",
                        "AttributeError", "get", "PARTIAL")
# (its list comprehension is a function of its own up to Python 3.11, inlined from 3.12: PEP 709)
_GETTER_NAMES = (("get", "lower"), ("get", "lower", "_decode_header_item"))
_REQUEST_ATTRIBUTES_NAMES = (
    "get_host_port_url_tuple", "get", "isinstance", "bytes", "decode", "urllib", "parse", "unquote", "_set_http_scheme",
    "_set_http_host_server", "_set_http_net_host_port", "_set_http_flavor_version", "_set_http_target", "_report_old",
    "_set_http_url", "redact_url", "_StabilityMode", "DEFAULT", "_set_http_method", "sanitize_method", "asgi_getter",
    "join", "HTTP_SERVER_NAME", "normalize_user_agent", "_set_http_user_agent", "detect_synthetic_user_agent",
    "USER_AGENT_SYNTHETIC_TYPE", "_set_http_peer_ip_server", "_set_http_peer_port_server", "items")
_HOST_PORT_URL_NAMES = ("get", "asgi_getter", "isinstance", "bytes", "_decode_header_item", "str")
# Route classes whose `matches` reads only the scope's type, path, root path and method (Starlette's and FastAPI's
# own; an included router's routes are these too).
_KNOWN_ROUTES = frozenset({
    ("starlette.routing", "Route"), ("starlette.routing", "WebSocketRoute"), ("starlette.routing", "Mount"),
    ("fastapi.routing", "APIRoute"), ("fastapi.routing", "APIWebSocketRoute"), ("fastapi.routing", "RouteContext"),
    ("fastapi.routing", "_IncludedRouter"), ("fastapi.routing", "_EffectiveRouteContext"),
})


def install() -> None:
    import wrapt

    wrapt.register_post_import_hook(patch_fastapi, FASTAPI_MODULE)
    wrapt.register_post_import_hook(patch_asgi_module, ASGI_MODULE)


def patch_asgi_module(module: Any) -> None:
    """What this module changes in OpenTelemetry's ASGI instrumentation, each part where it is as written against:
    the header getter, the request attributes remembered, the app's routes walked at lifespan start."""
    patch_asgi(module)
    remember_request_attributes(module)
    build_routes_at_start(module)


# ------------------------------------------------------------------------------------------- route names

def patch_fastapi(module: Any) -> bool:
    """Remember `_get_default_span_details` per path (apps instrumented from now on: the function is handed to each
    app's middleware when the app is made). False when the module is not as written against."""
    original = getattr(module, "_get_default_span_details", None)
    route_details = getattr(module, "_get_route_details", None)
    if getattr(original, "_signoz_litellm", False):
        return True
    if not (is_as_written(original, _SPAN_DETAILS_NAMES) and is_as_written(route_details, _ROUTE_DETAILS_NAMES)):
        return False
    _count_route_changes()
    module._get_default_span_details = remembering(original, module)
    return True


_route_changes = 0  # FastAPI routers' route changes seen (each router's `_mark_routes_changed`)
_counting = False
_tries = 0


def _start_counting_late() -> None:
    """The instrumentation is imported while `fastapi` itself is (its instrumentor loads at that import): FastAPI's
    routing is complete only later. Tried again at the first few requests (a change before counting starts is in
    the routes version the fingerprint held until then)."""
    global _tries
    if _tries < 8:
        _tries += 1
        _count_route_changes()


def _count_route_changes() -> None:
    """Count every FastAPI router's route changes (FastAPI 0.137 on bumps a router's routes version there; its own
    route caches are keyed on it): a far cheaper fingerprint than summing the versions of every router."""
    global _counting
    routing = sys.modules.get("fastapi.routing")
    if routing is None:
        return
    router_class = getattr(routing, "APIRouter", None)
    original = getattr(router_class, "_mark_routes_changed", None)
    if _counting or not is_as_written(original, ("_routes_version",)):
        return

    def _mark_routes_changed(self: Any) -> None:
        global _route_changes
        _route_changes += 1
        original(self)

    _mark_routes_changed._signoz_litellm = True  # type: ignore[attr-defined]
    _mark_routes_changed.__wrapped__ = original  # type: ignore[attr-defined]
    router_class._mark_routes_changed = _mark_routes_changed
    _counting = True


class _Remembered:
    __slots__ = ("fingerprint", "details")

    def __init__(self) -> None:
        self.fingerprint: Any = None
        self.details: dict[tuple[Any, ...], tuple[str, dict[str, str]]] = {}


def remembering(original: Any, module: Any) -> Any:
    apps: dict[int, _Remembered] = {}  # id(app) -> what was worked out for it (an app lives as long as the process)

    def _get_default_span_details(scope: Any) -> tuple[str, dict[str, str]]:
        try:
            app = scope["app"]
            key = (scope.get("type"), scope.get("method"), scope.get("path"), scope.get("root_path"))
            fingerprint = _fingerprint(app, module)
        except Exception:
            fingerprint = None
        if fingerprint is None:
            return original(scope)
        remembered = apps.get(id(app))
        if remembered is None:
            if len(apps) >= 64:
                return original(scope)
            remembered = apps[id(app)] = _Remembered()
        if remembered.fingerprint != fingerprint:
            remembered.fingerprint = fingerprint if _all_known(app, module) else False
            remembered.details.clear()
        if remembered.fingerprint is False:
            return original(scope)
        found = remembered.details.get(key)
        if found is None:
            found = original(scope)
            if len(remembered.details) < _MAX_REMEMBERED:
                remembered.details[key] = found
        name, attributes = found
        return name, dict(attributes)  # the caller adds to it

    _get_default_span_details._signoz_litellm = True  # type: ignore[attr-defined]
    _get_default_span_details.__wrapped__ = original  # type: ignore[attr-defined]
    return _get_default_span_details


def _fingerprint(app: Any, module: Any) -> Any:
    """What the route lookup depends on besides the scope: the app's routes (the objects) and, for a FastAPI whose
    routers count their changes (0.137 on: included routers are looked into at each request), the changes counted
    (`_count_route_changes`), else the app's routes version (which walks every router)."""
    routes = app.routes
    if type(routes) is not list:
        return None
    version = getattr(getattr(app, "router", None), "_get_routes_version", None)
    if not callable(version):
        return id(app), tuple(routes)  # an older FastAPI: included routes are copied into the app's list
    if not _counting:
        _start_counting_late()
    return id(app), tuple(routes), _route_changes if _counting else version()


def _all_known(app: Any, module: Any) -> bool:
    try:
        for route in module._flatten_routes(app.routes):
            if (type(route).__module__, type(route).__name__) not in _KNOWN_ROUTES:
                return False
            inner = getattr(route, "_effective_route", None)  # a RouteContext: the route it stands for
            if inner is not None and (type(inner).__module__, type(inner).__name__) not in _KNOWN_ROUTES:
                return False
    except Exception:
        return False
    return True


# ------------------------------------------------------------------------------------------- routes at start-up

def build_routes_at_start(module: Any) -> bool:
    """Have the ASGI middleware walk the app's routes, as the route lookup does, when the app's lifespan starts."""
    middleware = getattr(module, "OpenTelemetryMiddleware", None)
    original = getattr(middleware, "__call__", None)
    if getattr(original, "_signoz_litellm", False):
        return True
    if not callable(original):
        return False
    built: set[int] = set()

    async def __call__(self: Any, scope: Any, receive: Any, send: Any) -> Any:
        if type(scope) is dict and scope.get("type") == "lifespan":
            _build_routes(scope.get("app"), built)
        return await original(self, scope, receive, send)

    __call__._signoz_litellm = True  # type: ignore[attr-defined]
    __call__.__wrapped__ = original  # type: ignore[attr-defined]
    middleware.__call__ = __call__
    return True


def _build_routes(app: Any, built: set[int]) -> None:
    """Walk `app`'s routes with the FastAPI instrumentation's own walk, once per app, where our route lookup is on
    (the instrumentation as written against): what the first request would have built, built before start-up."""
    fastapi_module = sys.modules.get(FASTAPI_MODULE)
    if app is None or id(app) in built or fastapi_module is None:
        return
    if not getattr(getattr(fastapi_module, "_get_default_span_details", None), "_signoz_litellm", False):
        return
    built.add(id(app))
    try:
        for _ in fastapi_module._flatten_routes(app.routes):
            pass
    except Exception:
        pass


# ------------------------------------------------------------------------------------------- headers

def patch_asgi(module: Any) -> bool:
    """Read request headers without decoding each one (the module's getter, used by every ASGI app)."""
    getter_class = getattr(module, "ASGIGetter", None)
    original = getattr(getter_class, "get", None)
    decode = getattr(module, "_decode_header_item", None)
    if getattr(original, "_signoz_litellm", False):
        return True
    if not any(is_as_written(original, names) for names in _GETTER_NAMES) or not callable(decode):
        return False

    def get(self: Any, carrier: Any, key: str) -> list[str] | None:
        try:
            headers = carrier.get("headers")
            if not headers:
                return None
            wanted = key.lower()
            if not wanted.isascii():
                return original(self, carrier, key)
            wanted_bytes = wanted.encode("ascii")
            decoded = []
            for name, value in headers:
                if type(name) is bytes and name.isascii():
                    if name.lower() == wanted_bytes:
                        decoded.append(decode(value))
                elif decode(name).lower() == wanted:
                    decoded.append(decode(value))
        except Exception:
            return original(self, carrier, key)
        return decoded or None

    get._signoz_litellm = True  # type: ignore[attr-defined]
    get.__wrapped__ = original  # type: ignore[attr-defined]
    getter_class.get = get
    return True


# ------------------------------------------------------------------------------------------- request attributes

def remember_request_attributes(module: Any) -> bool:
    """The module's `collect_request_attributes` (which its middleware calls on every request) remembered per
    request shape; False when it is not the function written against."""
    original = getattr(module, "collect_request_attributes", None)
    if getattr(original, "_signoz_litellm", False):
        return True
    if not (is_as_written(original, _REQUEST_ATTRIBUTES_NAMES)
            and is_as_written(getattr(module, "get_host_port_url_tuple", None), _HOST_PORT_URL_NAMES)):
        return False
    module.collect_request_attributes = remembering_request_attributes(original, module)
    return True


def remembering_request_attributes(original: Any, module: Any) -> Any:
    shapes: dict[tuple[Any, ...], dict[str, Any]] = {}  # request shape -> its attributes but the client's
    getter = module.asgi_getter
    set_peer_ip = module._set_http_peer_ip_server
    set_peer_port = module._set_http_peer_port_server
    default_mode = original.__defaults__[0] if original.__defaults__ else module._StabilityMode.DEFAULT

    def collect_request_attributes(scope: Any, sem_conv_opt_in_mode: Any = default_mode) -> dict[str, Any]:
        try:
            if type(scope) is not dict:
                return original(scope, sem_conv_opt_in_mode)
            server = scope.get("server")
            key = (sem_conv_opt_in_mode, scope.get("scheme"), tuple(server) if server else server, scope.get("path"),
                   scope.get("query_string"), scope.get("http_version"), scope.get("method", ""),
                   tuple(getter.get(scope, "host") or ()), tuple(getter.get(scope, "user-agent") or ()))
            found = shapes.get(key)
            client = scope.get("client")
        except Exception:  # an unhashable part, an odd scope: the instrumentation's own way
            return original(scope, sem_conv_opt_in_mode)
        if found is None:
            found = original({**scope, "client": None}, sem_conv_opt_in_mode)
            if len(shapes) < _MAX_SHAPES:
                shapes[key] = found
        result = dict(found)
        if "client" in scope and client is not None:
            set_peer_ip(result, client[0], sem_conv_opt_in_mode)
            set_peer_port(result, client[1], sem_conv_opt_in_mode)
            if None in result.values():
                result = {k: v for k, v in result.items() if v is not None}
        return result

    collect_request_attributes._signoz_litellm = True  # type: ignore[attr-defined]
    collect_request_attributes.__wrapped__ = original  # type: ignore[attr-defined]
    collect_request_attributes.shapes = shapes  # type: ignore[attr-defined]
    return collect_request_attributes


def patch_loaded() -> None:
    """For an instrumentation imported before install() (init() in a running program)."""
    if FASTAPI_MODULE in sys.modules:
        patch_fastapi(sys.modules[FASTAPI_MODULE])
    if ASGI_MODULE in sys.modules:
        patch_asgi_module(sys.modules[ASGI_MODULE])
