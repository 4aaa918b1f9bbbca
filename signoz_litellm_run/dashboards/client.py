"""SigNoz's dashboards API over HTTP: every way a request can fail becomes one sentence the user can act on.

Written against SigNoz's own source (SigNoz/signoz v0.138, `pkg/apiserver/signozapiserver/dashboard.go`,
`pkg/http/render/render.go`, `pkg/identn/config.go`): the key travels in the `SIGNOZ-API-KEY` header; a
success is `{"status": "success", "data": ...}`, an error `{"status": "error", "error": {"code", "message"}}`
with the HTTP status of its type (400 invalid input, 401 unauthenticated, 403 forbidden, 404, 501 unsupported).

The stdlib client keeps the launcher free of another HTTP dependency. Each request has one timeout
(8 s) and is never retried: a server that does not answer ends the command in under 10 s, start-up included
(8.65 s measured against a silent server).
"""

from __future__ import annotations

import json
import socket
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from signoz_litellm_run.errors import LauncherError, UsageError

API_KEY_HEADER = "SIGNOZ-API-KEY"
DEFAULT_TIMEOUT = 8.0
_INGEST_PORTS = (4317, 4318)
_KEY_HINT = ("Create an API key in SigNoz (Settings -> Service Accounts / API Keys, role Editor or Admin) and pass "
             "it in SIGNOZ_API_KEY.")


class ApiError(LauncherError):
    """The server answered, but not with what we asked for (exit 1)."""

    def __init__(self, message: str, hint: str | None = None, *, status: int | None = None,
                 code: str | None = None) -> None:
        super().__init__(message, hint)
        self.status = status
        self.code = code


class KeyRefused(ApiError):
    """401/403: the API key is wrong, revoked, or its role may not do this."""


class NotFound(ApiError):
    """404: the route or the object does not exist on this server."""


@dataclass(frozen=True)
class Response:
    status: int
    data: Any


def parse_url(value: str | None) -> str:
    """The SigNoz UI/API base URL (`https://<org>.signoz.cloud`, `http://signoz.local:8080`), or a UsageError.

    An OTLP ingestion address (`ingest.<region>.signoz.cloud`, port 4317/4318) is the most likely slip: the
    same person just typed it for `run`."""
    text = (value or "").strip()
    if not text:
        raise UsageError("No SigNoz URL is set.",
                         "Pass --url https://<your-org>.signoz.cloud (or a self-hosted address such as "
                         "http://localhost:8080), or set SIGNOZ_URL.")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{value!r} is not an http:// or https:// URL.",
                         "Write it like https://<your-org>.signoz.cloud or http://localhost:8080.")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise UsageError(f"The SigNoz URL {value!r} must not carry credentials, a query or a fragment.",
                         "Pass the API key in SIGNOZ_API_KEY, and the URL as https://HOST[:PORT].")
    try:
        port = parts.port
    except ValueError:
        raise UsageError(f"The SigNoz URL {value!r} has an invalid port.", "Write it like https://HOST[:PORT].") from None
    host = parts.hostname.lower()
    if host.startswith("ingest.") or port in _INGEST_PORTS:
        raise UsageError(
            f"{value} is an OTLP ingestion address, not SigNoz's UI/API address.",
            "Dashboards are installed through the address you open SigNoz at: https://<your-org>.signoz.cloud "
            "for SigNoz Cloud, or the UI's port (8080 by default) for a self-hosted SigNoz.")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def parse_api_key(value: str | None) -> str:
    key = (value or "").strip()
    if not key:
        raise UsageError("No SigNoz API key is set.", _KEY_HINT)
    if any(ch.isspace() or not ch.isprintable() for ch in key):
        raise UsageError("The SigNoz API key contains spaces or control characters (a copy-paste slip?).", _KEY_HINT)
    return key


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as it is: urllib would turn a POST into a GET on 301/302 (and resend the key to
    wherever the redirect points), so the user is told the address to use instead."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


class Client:
    """One SigNoz server, one API key. Methods return the `data` of a success envelope."""

    def __init__(self, url: str, api_key: str, *, timeout: float = DEFAULT_TIMEOUT,
                 context: ssl.SSLContext | None = None) -> None:
        self.url = url
        self._key = api_key
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirect, urllib.request.HTTPSHandler(context=context))

    def __repr__(self) -> str:  # never the key
        return f"Client({self.url!r})"

    # ------------------------------------------------------------------ requests

    def request(self, method: str, path: str, body: Any = None, *, query: dict[str, Any] | None = None,
                expect_json: bool = True) -> Response:
        url = self.url + path + (("?" + urlencode(query, quote_via=quote)) if query else "")
        data = json.dumps(body).encode() if body is not None else None
        headers = {API_KEY_HEADER: self._key, "Accept": "application/json", "User-Agent": "signoz-litellm"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        what = f"{method} {path}"
        location: str | None = None
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                status, raw, ctype = answer.status, answer.read(), answer.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            status, ctype = exc.code, exc.headers.get("Content-Type", "") if exc.headers else ""
            location = exc.headers.get("Location") if exc.headers else None
            try:
                raw = exc.read()
            except OSError:
                raw = b""
        except (socket.timeout, TimeoutError):
            raise ApiError(f"SigNoz at {self.url} did not answer {what} within {self.timeout:g} s.",
                           "Check the URL and that the server is up; nothing was changed by this request.") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise ApiError(f"SigNoz at {self.url} did not answer {what} within {self.timeout:g} s.",
                               "Check the URL and that the server is up.") from None
            if isinstance(reason, ssl.SSLError):
                raise ApiError(f"TLS with {self.url} failed: {getattr(reason, 'reason', None) or reason}.",
                               "Check the URL's scheme (http:// for a plain-text self-hosted SigNoz).") from None
            raise ApiError(f"Cannot reach SigNoz at {self.url}: {_reason_text(reason)}.",
                           "Check the URL (the address you open SigNoz at) and your network or proxy.") from None
        except OSError as exc:  # connection reset mid-answer, ...
            raise ApiError(f"The connection to {self.url} failed during {what}: {exc}.",
                           "Try again; check the network or proxy in between.") from None
        return self._decode(status, raw, ctype, what, expect_json=expect_json, location=location)

    def _decode(self, status: int, raw: bytes, ctype: str, what: str, *, expect_json: bool,
                location: str | None = None) -> Response:
        if 300 <= status < 400:
            target = urlsplit(location or "")
            base = f"{target.scheme}://{target.netloc}" if target.scheme and target.netloc else (location or "elsewhere")
            raise ApiError(f"{self.url} redirects {what} to {location or 'another address'} (HTTP {status}).",
                           f"Use the address it redirects to: --url {base}.", status=status)
        payload: Any = None
        if raw.strip():
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = None
                if 200 <= status < 300 or status >= 400 and status not in (401, 403, 404):
                    looks_html = b"<html" in raw[:512].lower() or b"<!doctype" in raw[:512].lower() or "html" in ctype
                    shape = "an HTML page" if looks_html else f"non-JSON text ({raw[:60]!r})"
                    raise ApiError(
                        f"{self.url} answered {what} with {shape} (HTTP {status}), not SigNoz's API.",
                        "Use the address you open SigNoz at (not a login page, proxy or collector address); "
                        "a proxy in front of SigNoz must pass /api/ through.", status=status)
        error = payload.get("error") if isinstance(payload, dict) and payload.get("status") == "error" else None
        message = _error_message(error) if error is not None else None
        code = error.get("code") if isinstance(error, dict) else None
        if status in (401, 403):
            raise KeyRefused(
                f"The API key was refused ({status}{': ' + message if message else ''}).",
                _KEY_HINT if status == 401 else "The key's role may not change dashboards: use a key with the "
                "Editor or Admin role.", status=status, code=code)
        if status == 404:
            raise NotFound(f"{what} is not found on {self.url}{': ' + message if message else ''}.",
                           status=status, code=code)
        if status >= 400:
            raise ApiError(f"SigNoz refused {what} (HTTP {status}): {message or 'no error message'}.",
                           status=status, code=code)
        if not expect_json:
            return Response(status, payload)
        if status == 204:
            return Response(status, None)
        if not isinstance(payload, dict) or payload.get("status") != "success":
            raise ApiError(f"{self.url} answered {what} with JSON that is not SigNoz's API envelope "
                           f"(no \"status\": \"success\"): {json.dumps(payload)[:120]}.",
                           "Check that the URL is SigNoz's UI/API address.", status=status)
        return Response(status, payload.get("data"))


def _error_message(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or "")
    return str(error)


def _reason_text(reason: Any) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return "the host name does not resolve"
    return str(getattr(reason, "strerror", None) or reason)
