"""A test double of SigNoz's dashboards HTTP API, written from SigNoz's own source.

Follows SigNoz/signoz at commit 9997c3da9c906daf4bcea664a3380cab51edd18f (v0.138.0-11, 2026-08-21):

* routes and status codes: `pkg/apiserver/signozapiserver/dashboard.go` (GET/POST `/api/v2/dashboards`,
  GET/PUT/DELETE `/api/v2/dashboards/{id}`, PUT/DELETE `/api/v2/dashboards/{id}/lock`; create 201, update 200,
  lock/unlock/delete 204); v1 routes answer 501 with the deprecation error of
  `pkg/types/dashboardtypes/v1_deprecation.go` and `pkg/modules/dashboard/impldashboard/handler.go`;
* `GET /api/v1/version`: open access, `{"version", "ee", "setupCompleted"}` without an envelope
  (`pkg/query-service/app/http_handler.go` getVersion, `pkg/query-service/model/response.go`);
* auth: the `SIGNOZ-API-KEY` header (`pkg/identn/config.go`); no or an unknown key is 401, a viewer's key on
  a write 403 (the roles of each route in dashboard.go); lock/unlock by the creator or an admin only;
* envelopes: `pkg/http/render/render.go` (`{"status": "success", "data"}` / `{"status": "error", "error":
  {"type", "code", "message", "errors", "suggestions"}}`, status from the error type);
* the body: `pkg/types/dashboardtypes/perses_dashboard.go` (PostableDashboardV2 / UpdatableDashboardV2:
  unknown fields rejected, `schemaVersion` "v6", name a DNS-1123 label and immutable, at most 10 tags, reserved
  tag keys, locked dashboards not updatable), `perses_dashboard_data.go` (variables/panels/layouts required,
  one query per panel, query kinds per panel kind, layout references), `perses_plugin_wrappers.go` and
  `perses_signoz_plugins.go` (plugin kinds, each plugin spec decoded with unknown fields rejected, enumerated
  options, their defaults written back), `perses_replicas.go` (grid of 12 columns, no overlap, variable
  names; the grid item and layout display fields of perses/spec v0.1.2 `go/dashboard`),
  `pkg/types/tagtypes/tag.go` (tag key/value characters and lengths),
  `pkg/types/querybuildertypes/querybuildertypesv5/{builder_query,builder_elements,validation}.go` (builder
  query fields, aggregations required except for raw queries, order-by keys, reduceTo for scalar metric
  queries, limit <= 10000), `list_v2.go` and `impldashboard/listfilter_visitor.go` (list envelope, the filter
  DSL: a key that is not a column is a tag key, matched case-insensitively).

Alert rules (`pkg/apiserver/signozapiserver/ruler.go`, `pkg/types/ruletypes/{api_params,threshold,compare,match,
evaluation}.go`): GET/POST `/api/v2/rules` (list: a JSON array; create 201), GET/PUT/DELETE `/api/v2/rules/{id}`
(update and delete 204); the body decoded without rejecting unknown fields (PostableRule.UnmarshalJSON uses
json.Unmarshal), then checked as PostableRule.Validate does: alert name, version "v5", alertType, ruleType,
schemaVersion v1/v2alpha1 (v2alpha1 needs thresholds, evaluation and notificationSettings), the queries (as
above, for a time series), selectedQueryName among them, label names `[A-Za-z_.][A-Za-z0-9_.]*`.

What it leaves out: the filter DSL beyond `key = 'value'` / `!=` joined by AND (and free text), PATCH, clone,
pins and views, the v1->v2 conversion of a v1 body posted to the v2 route, ClickHouse-parsing of aggregation
expressions (a top-level comma is rejected instead), and the storage of many orgs.

Server generations (`mode`): "v2" (the default: v0.138 as above, `/api/v1/dashboards*` answers 501); "v1" (a
SigNoz before v0.126, default version v0.125.1: no v2 dashboard routes, 404 with Go's plain-text "404 page not
found", and the v1 API below); "no-list" (SigNoz v0.126-v0.128, default v0.128.0: the v1 API, and a v2 create
but no v2 list, 405); "both" (SigNoz v0.129-v0.134, default v0.132.0: the v2 API and the v1 API side by side,
each seeing only the dashboards written through it). The v1 API follows SigNoz/signoz v0.125.1 (the same from v0.95 on, checked at v0.95,
v0.110, v0.128): routes `pkg/query-service/app/http_handler.go` (GET/POST `/api/v1/dashboards`, GET/PUT/DELETE
`/api/v1/dashboards/{id}`, PUT `/api/v1/dashboards/{id}/lock`; view access for GET, edit access otherwise),
handlers `pkg/modules/dashboard/impldashboard/handler.go` (any JSON object is stored as the dashboard's data:
no validation; create 201, update 200, lock 200, delete 204; lock body `{"lock": bool}`), the list of
`APIHandler.List` (every dashboard with its full data, no paging), `pkg/types/dashboardtypes/dashboard.go`
(`{id, createdAt, updatedAt, createdBy, updatedBy, data, locked, org_id}`; a locked dashboard cannot be updated
or deleted; lock/unlock by its creator or an admin). Rules: `/api/v2/rules` from v0.120 (before that only
`/api/v1/rules`, which takes an older rule format: listed as `{"rules": [...]}` here, writes refused).

Other modes stand in for servers that are not SigNoz's API: "html" (a login page or proxy answering
everything with HTML), "hang" (accepts the connection, never answers), "redirect" (301 to an https://
address), "odd-json" (200 with JSON that is not SigNoz's envelope); and `fail_writes_after` makes the n-th and
later writes fail with a 500.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.signoz_rules import validate_rule
from tests.support.signoz_validation import _RESERVED_TAG_KEYS, Invalid, validate_body

ADMIN, EDITOR, VIEWER = "ADMIN", "EDITOR", "VIEWER"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


# ----------------------------------------------------------------------------------------- the server


class SigNozDouble:
    """Start with `with SigNozDouble(keys={"k": ("a@x", ADMIN)}) as api:`; `api.url` is its base URL."""

    def __init__(self, keys: dict[str, tuple[str, str]] | None = None, *, mode: str = "v2",
                 version: str | None = None, tls: tuple[str, str] | None = None) -> None:
        self.keys = keys or {}
        self.tls = tls  # (certfile, keyfile): serve https
        self.version = version or {"v1": "v0.125.1", "no-list": "v0.128.0", "both": "v0.132.0"}.get(mode, "v0.138.0")
        self.mode = mode
        self.v1_dashboards: dict[str, dict[str, Any]] = {}  # id -> {id, createdAt, ..., data, locked, org_id}
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.rules: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # method, path, headers (lower-cased)
        self.fail_writes_after: int | None = None
        self.writes = 0
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> SigNozDouble:
        double = self

        class Handler(_Handler):
            api = double

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if self.tls:
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    # direct manipulation, as a user in the UI would
    def ours(self) -> list[dict[str, Any]]:
        return [d for d in self.dashboards.values()
                if any(t["key"] == "managed-by" and t["value"] == "signoz-litellm" for t in d["tags"])]

    def edit(self, dashboard_id: str, change: Any) -> None:
        with self.lock:
            change(self.dashboards[dashboard_id]["spec"])
            self.dashboards[dashboard_id]["updatedAt"] = _now()

    def set_locked(self, dashboard_id: str, locked: bool) -> None:
        with self.lock:
            store = self.v1_dashboards if dashboard_id in self.v1_dashboards else self.dashboards
            store[dashboard_id]["locked"] = locked

    @property
    def has_v1(self) -> bool:
        return self.mode in ("v1", "no-list", "both")

    def version_tuple(self) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", self.version)[:3])

    def v1_ours(self) -> list[dict[str, Any]]:
        return [d for d in self.v1_dashboards.values() if "managed-by:signoz-litellm" in (d["data"].get("tags") or [])]

    def v1_edit(self, dashboard_id: str, change: Any) -> None:
        with self.lock:
            change(self.v1_dashboards[dashboard_id]["data"])
            self.v1_dashboards[dashboard_id]["updatedAt"] = _now()


def _error(status: int, kind: str, code: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"status": "error", "error": {"type": kind, "code": code, "message": message,
                                                 "errors": [], "suggestions": []}}


def _invalid(message: str) -> tuple[int, dict[str, Any]]:
    return _error(400, "invalid_input", "dashboard_invalid_input", message)


def _listed(d: dict[str, Any]) -> dict[str, Any]:
    out = {k: d[k] for k in ("id", "createdAt", "updatedAt", "createdBy", "updatedBy", "orgId", "locked", "source",
                             "schemaVersion", "name", "tags")}
    if d.get("image"):
        out["image"] = d["image"]
    out["spec"] = {"display": d["spec"]["display"]}
    out["legacy"] = False
    return out


_CONDITION = re.compile(r"^\s*([A-Za-z$_@{#][A-Za-z0-9$_@#{}:/.-]*)\s*(=|!=)\s*'((?:[^'\\]|\\.)*)'\s*$")


def _matches(d: dict[str, Any], query: str) -> bool:
    if not query.strip():
        return True
    for part in re.split(r"\s+AND\s+", query.strip(), flags=re.IGNORECASE):
        m = _CONDITION.match(part)
        if m is None:
            if re.search(r"[=<>!']", part):
                raise Invalid(f"query {query!r}: only key = 'value' conditions joined by AND are understood here")
            text = part.strip().strip('"').lower()
            hay = [d["name"], d["spec"]["display"].get("name", ""), d["spec"]["display"].get("description", "")]
            hay += [t["key"] for t in d["tags"]] + [t["value"] for t in d["tags"]]
            if not any(text in h.lower() for h in hay):
                return False
            continue
        key, op, value = m.group(1), m.group(2), m.group(3)
        if key.lower() == "name":
            actual = [d["spec"]["display"].get("name", "")]
        elif key.lower() == "locked":
            actual = ["true" if d["locked"] else "false"]
        else:
            actual = [t["value"] for t in d["tags"] if t["key"].lower() == key.lower()]
        hit = value in actual
        if hit != (op == "="):
            return False
    return True


class _Handler(BaseHTTPRequestHandler):
    api: SigNozDouble
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _send(self, status: int, payload: Any, content_type: str = "application/json") -> None:
        body = b"" if payload is None else (payload if isinstance(payload, bytes) else json.dumps(payload).encode())
        self.send_response(status)
        if body:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _dispatch(self, method: str) -> None:
        api = self.api
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        with api.lock:
            api.requests.append((method, parts.path, {k.lower(): v for k, v in self.headers.items()}))
        if api.mode == "hang":
            api._stop.wait(60)
            return
        if api.mode == "html":
            self._send(200, b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>login</body></html>",
                       "text/html; charset=utf-8")
            return
        if api.mode == "redirect":  # an http:// address in front of an https:// one
            self.send_response(301)
            self.send_header("Location", "https://signoz.example.com" + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if api.mode == "odd-json":
            self._send(200, {"items": []})
            return
        if api.mode == "no-list" and method == "GET" and parts.path == "/api/v2/dashboards":
            self._send(405, None)  # gorilla/mux: the path exists, not for GET (SigNoz v0.126-v0.128)
            return
        not_routed = (api.mode == "v1" and parts.path.startswith("/api/v2/dashboards")
                      or parts.path.startswith("/api/v2/rules") and api.version_tuple() < (0, 120))
        if not_routed:
            self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")
            return
        status, payload = self._route(method, parts.path, parse_qs(parts.query), raw)
        self._send(status, payload)

    def _route(self, method: str, path: str, query: dict[str, list[str]], raw: bytes) -> tuple[int, Any]:
        api = self.api
        if path == "/api/v1/version" and method == "GET":  # open access, no envelope (query-service getVersion)
            return 200, {"version": api.version, "ee": "Y", "setupCompleted": True}
        identity = api.keys.get(self.headers.get("SIGNOZ-API-KEY") or "")
        if identity is None:
            return _error(401, "unauthenticated", "unauthenticated", "no valid credentials were found")
        email, role = identity
        if path.startswith("/api/v1/dashboards"):
            if not api.has_v1:
                return _error(501, "unsupported", "dashboard_v1_deprecated",
                              "the v1 dashboard API is deprecated; instead, use /api/v2/dashboards. "
                              "See https://signoz.io/docs/dashboards/dashboards-v2-api/")
            if method != "GET" and role == VIEWER:
                return _error(403, "forbidden", "forbidden", "only editors and admins may change dashboards")
            if method != "GET" and self._write_fails():
                return _error(500, "internal", "internal", "database is locked")
            try:
                with api.lock:
                    return self._v1(method, path, raw, email, role)
            except Invalid as exc:
                return _error(400, "invalid_input", "invalid_input", str(exc))
        if path == "/api/v1/rules":  # before v0.120: the older rule API (not written by signoz-litellm)
            if method == "GET":
                return 200, {"status": "success", "data": {"rules": []}}
            return _error(400, "invalid_input", "invalid_input", "failed to parse json: rule format of v0.119")
        r = re.fullmatch(r"/api/v2/rules(?:/([^/]+))?", path)
        if r is not None:
            if method != "GET" and role == VIEWER:
                return _error(403, "forbidden", "forbidden", "only editors and admins may change alert rules")
            if method != "GET" and self._write_fails():
                return _error(500, "internal", "internal", "database is locked")
            try:
                with api.lock:
                    return self._rules(method, r.group(1), raw, email)
            except Invalid as exc:
                return _error(400, "invalid_input", "invalid_input", str(exc))
        m = re.fullmatch(r"/api/v2/dashboards(?:/([^/]+)(/lock)?)?", path)
        if m is None:
            return 404, {"status": "error", "error": {"type": "not_found", "code": "not_found",
                                                      "message": "route not found", "errors": [], "suggestions": []}}
        dashboard_id, lock = m.group(1), m.group(2)
        writes = method != "GET"
        if writes and role == VIEWER:
            return _error(403, "forbidden", "forbidden", "only editors and admins may change dashboards")
        if writes and self._write_fails():
            return _error(500, "internal", "internal", "database is locked")
        try:
            with api.lock:
                if dashboard_id is None:
                    if method == "GET":
                        return 200, self._list(query)
                    if method == "POST":
                        return 201, self._create(raw, email)
                    return 405, None
                existing = api.dashboards.get(dashboard_id)
                if existing is None:
                    return _error(404, "not_found", "dashboard_not_found", f"dashboard {dashboard_id} not found")
                if lock:
                    if method not in ("PUT", "DELETE"):
                        return 405, None
                    if existing["createdBy"] != email and role != ADMIN:
                        return _error(403, "forbidden", "forbidden", "you are not authorized to lock/unlock this dashboard")
                    existing["locked"] = method == "PUT"
                    existing["updatedAt"], existing["updatedBy"] = _now(), email
                    return 204, None
                if method == "GET":
                    return 200, {"status": "success", "data": existing}
                if method == "PUT":
                    return 200, self._update(existing, raw, email)
                if method == "DELETE":
                    if existing["locked"]:
                        raise Invalid("cannot delete a locked dashboard, please unlock the dashboard to delete")
                    del api.dashboards[dashboard_id]
                    return 204, None
                return 405, None
        except Invalid as exc:
            return _invalid(str(exc))

    def _write_fails(self) -> bool:
        api = self.api
        if api.fail_writes_after is None:
            return False
        with api.lock:
            api.writes += 1
            return api.writes > api.fail_writes_after

    def _decode(self, raw: bytes) -> Any:
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise Invalid(f"invalid JSON: {exc}") from None

    def _list(self, query: dict[str, list[str]]) -> dict[str, Any]:
        text = (query.get("query") or [""])[0]
        if len(text) > 1024:
            raise Invalid("query cannot be longer than 1024 characters")
        limit = int((query.get("limit") or ["20"])[0] or 20)
        offset = int((query.get("offset") or ["0"])[0] or 0)
        if limit < 0 or offset < 0:
            raise Invalid("invalid limit or offset")
        limit = min(limit or 20, 200)
        found = [d for d in sorted(self.api.dashboards.values(), key=lambda d: d["updatedAt"], reverse=True)
                 if _matches(d, text)]
        tags = sorted({(t["key"], t["value"]) for d in self.api.dashboards.values() for t in d["tags"]})
        return {"status": "success", "data": {
            "dashboards": [_listed(d) for d in found[offset:offset + limit]], "total": len(found),
            "tags": [{"key": k, "value": v} for k, v in tags],
            "reservedKeywords": sorted(_RESERVED_TAG_KEYS)}}

    def _create(self, raw: bytes, email: str) -> dict[str, Any]:
        body = self._decode(raw)
        stored_spec = validate_body(body, postable=True)
        now = _now()
        name = body.get("name") or f"dashboard-{uuid.uuid4().hex[:8]}"
        dashboard = {"id": str(uuid.uuid4()), "createdAt": now, "updatedAt": now, "createdBy": email,
                     "updatedBy": email, "orgId": "00000000-0000-0000-0000-000000000001", "locked": False,
                     "source": "user", "schemaVersion": "v6", "image": body.get("image", ""), "name": name,
                     "tags": [{"key": t["key"].strip(), "value": t["value"].strip()} for t in body["tags"]],
                     "spec": stored_spec}
        self.api.dashboards[dashboard["id"]] = dashboard
        return {"status": "success", "data": dashboard}

    def _update(self, existing: dict[str, Any], raw: bytes, email: str) -> dict[str, Any]:
        body = self._decode(raw)
        stored_spec = validate_body(body, postable=False)
        if existing["locked"]:
            raise Invalid("cannot update a locked dashboard, please unlock the dashboard to update")
        if body["name"] != existing["name"]:
            raise Invalid(f"name is immutable; cannot change from {existing['name']!r} to {body['name']!r}")
        existing.update({"image": body.get("image", ""), "spec": stored_spec, "updatedAt": _now(), "updatedBy": email,
                         "tags": [{"key": t["key"].strip(), "value": t["value"].strip()} for t in body["tags"]]})
        return {"status": "success", "data": existing}

    # ------------------------------------------------------------------------------------------ v1 dashboards

    def _v1(self, method: str, path: str, raw: bytes, email: str, role: str) -> tuple[int, Any]:
        store = self.api.v1_dashboards
        m = re.fullmatch(r"/api/v1/dashboards(?:/([^/]+)(/lock)?)?", path)
        if m is None:
            return 404, b"404 page not found\n"
        dashboard_id, lock = m.group(1), m.group(2)
        if dashboard_id is None:
            if method == "GET":  # APIHandler.List: every dashboard, full data, no paging
                return 200, {"status": "success", "data": list(store.values())}
            if method == "POST":
                data = self._v1_data(raw)
                now = _now()
                dashboard = {"id": str(uuid.uuid4()), "createdAt": now, "updatedAt": now, "createdBy": email,
                             "updatedBy": email, "data": data, "locked": False,
                             "org_id": "00000000-0000-0000-0000-000000000001"}
                store[dashboard["id"]] = dashboard
                return 201, {"status": "success", "data": dashboard}
            return 405, None
        if not re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", dashboard_id):
            raise Invalid(f"invalid uuid: {dashboard_id!r}")
        existing = store.get(dashboard_id)
        if existing is None:
            return _error(404, "not_found", "dashboard_not_found", f"dashboard with id {dashboard_id} doesn't exist")
        if lock:
            if method != "PUT":
                return 405, None
            body = self._decode(raw)
            if not isinstance(body, dict) or not isinstance(body.get("lock"), bool):
                raise Invalid("lock is missing in the request payload")
            if existing["createdBy"] != email and role != ADMIN:
                return _error(403, "forbidden", "forbidden", "you are not authorized to lock/unlock this dashboard")
            existing.update(locked=body["lock"], updatedAt=_now(), updatedBy=email)
            return 200, {"status": "success", "data": None}
        if method == "GET":
            return 200, {"status": "success", "data": existing}
        if method == "PUT":
            data = self._v1_data(raw)
            if existing["locked"]:
                raise Invalid("cannot update a locked dashboard, please unlock the dashboard to update")
            existing.update(data=data, updatedAt=_now(), updatedBy=email)
            return 200, {"status": "success", "data": existing}
        if method == "DELETE":
            if existing["locked"]:
                raise Invalid("dashboard is locked, please unlock the dashboard to be delete it")
            del store[dashboard_id]
            return 204, None
        return 405, None

    def _v1_data(self, raw: bytes) -> dict[str, Any]:
        """json.Decode into StorableDashboardData (a map): any object; without version "v5" the handler runs
        its v4->v5 query migration, which stamps the version (the queries it would rewrite are not modelled)."""
        data = self._decode(raw)
        if not isinstance(data, dict):
            raise Invalid("json: cannot unmarshal into Go value of type dashboardtypes.StorableDashboardData")
        if data.get("version") != "v5":
            data["version"] = "v5"
        return data

    # ------------------------------------------------------------------------------------------ alert rules

    def _rules(self, method: str, rule_id: str | None, raw: bytes, email: str) -> tuple[int, Any]:
        rules = self.api.rules
        if rule_id is None:
            if method == "GET":
                return 200, {"status": "success", "data": list(rules.values())}
            if method == "POST":
                body = self._decode(raw)
                validate_rule(body)
                now = _now()
                rule = {"id": str(uuid.uuid4()), "state": "inactive", "disabled": False, **body, "createdAt": now,
                        "updatedAt": now, "createdBy": email, "updatedBy": email}
                rules[rule["id"]] = rule
                return 201, {"status": "success", "data": rule}
            return 405, None
        existing = rules.get(rule_id)
        if existing is None:
            return _error(404, "not_found", "rule_not_found", f"rule {rule_id} not found")
        if method == "GET":
            return 200, {"status": "success", "data": existing}
        if method == "PUT":
            body = self._decode(raw)
            validate_rule(body)
            keep = {k: existing[k] for k in ("id", "state", "createdAt", "createdBy")}
            rules[rule_id] = {"disabled": False, **body, **keep, "updatedAt": _now(), "updatedBy": email}
            return 204, None
        if method == "DELETE":
            del rules[rule_id]
            return 204, None
        return 405, None
