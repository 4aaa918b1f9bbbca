"""`signoz-litellm doctor`: in seconds, exactly why telemetry is not arriving.

Each check returns a frozen `Check` (pass / warn / fail / skip, one line of detail, a hint naming the
fix; `doctor_report.py`, with the table / JSON rendering and `exit_code`). The configuration checks are in
`doctor_config.py`, the environment checks in `doctor_env.py`, the network probes in `doctor_net.py`; this
module runs them and holds the network and ingestion checks. The checks are bounded in time: the
environment checks run next to the network ones, every network step has its own timeout and the whole
run ends within `BUDGET` seconds whatever the endpoint does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from signoz_litellm_run import doctor_net as net
from signoz_litellm_run.doctor_config import configuration_checks
from signoz_litellm_run.doctor_env import _version, environment_checks, litellm_callback_check
from signoz_litellm_run.doctor_report import (
    ENVIRONMENT,
    FAIL,
    INGESTION,
    NETWORK,
    PASS,
    SEND_TEST,
    SKIP,
    WARN,
    Check,
    Report,
    exit_code,
    render_json,
    render_table,
)
from signoz_litellm_run.environment import merge_headers
from signoz_litellm_run.settings import REGIONS, Settings

BUDGET = 8.5  # seconds for the whole run after start-up (the issue asks for <= 10 s in all)
DNS_TIMEOUT = 2.0
CONNECT_TIMEOUT = 2.0
TLS_TIMEOUT = 2.5
EXPORT_TIMEOUT = 3.0
SEND_TIMEOUT = 2.0
API_TIMEOUT = 4.0  # each request to SigNoz's API, with --api-key
LITELLM_TIMEOUT = 7.5  # importing litellm takes 3-8 s on a busy machine
CERT_WARN_DAYS = 14
DOCTOR_SERVICE = "signoz-litellm-doctor"


class _Clock:
    def __init__(self, budget: float) -> None:
        self.start = time.monotonic()
        self.budget = budget

    def left(self, cap: float) -> float:
        """The smaller of `cap` and what is left of the budget (never below 0.1 s)."""
        return max(0.1, min(cap, self.budget - (time.monotonic() - self.start)))

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start



# --------------------------------------------------------------------------------------------- entry point


def doctor(flags: Mapping[str, Any], environ: Mapping[str, str], cwd: Path, *, config_path: str | None,
           json_output: bool, send_test: bool, check_litellm: bool = True, budget: float = BUDGET,
           signoz_url: str | None = None, api_key: str | None = None) -> int:
    """Run every check, print the table (or the JSON document) and return the exit status."""
    report = diagnose(flags, environ, cwd, config_path=config_path, send_test=send_test,
                      check_litellm=check_litellm, budget=budget, signoz_url=signoz_url, api_key=api_key)
    if json_output:
        print(render_json(report))
    else:
        render_table(report)
    return exit_code(report.checks)


def diagnose(flags: Mapping[str, Any], environ: Mapping[str, str], cwd: Path, *, config_path: str | None,
             send_test: bool, check_litellm: bool = True, budget: float = BUDGET,
             signoz_url: str | None = None, api_key: str | None = None) -> Report:
    clock = _Clock(budget)
    # SigNoz's own API (the API key, the version, our dashboards): only when an API key is given.
    api_result: dict[str, list[Check]] = {}
    api_thread = None
    if api_key or environ.get("SIGNOZ_API_KEY"):
        from signoz_litellm_run import doctor_api

        api_thread = threading.Thread(target=lambda: api_result.setdefault("c", doctor_api.api_checks(
            signoz_url, api_key, environ, clock.left(API_TIMEOUT))), name="doctor-api", daemon=True)
        api_thread.start()
    settings, config_checks = configuration_checks(flags, environ, cwd, config_path)
    protocol = settings.protocol if settings else "grpc"

    # The LiteLLM callback check imports litellm (seconds): start it first, next to the network checks.
    litellm_result: dict[str, Check] = {}
    litellm_thread = threading.Thread(
        target=lambda: litellm_result.setdefault("c", litellm_callback_check(clock.left(LITELLM_TIMEOUT), environ)),
        name="doctor-litellm", daemon=True)
    if check_litellm and _version("litellm") is None:
        litellm_result["c"] = Check("litellm-callback", ENVIRONMENT, SKIP, "skipped: litellm is not installed")
    elif check_litellm:
        litellm_thread.start()
    else:
        litellm_result["c"] = Check("litellm-callback", ENVIRONMENT, SKIP, "skipped (--fast)")

    env_checks = environment_checks(protocol, environ, cwd)
    net_checks: list[Check] = []
    test: dict[str, str] | None = None
    if settings is not None and settings.endpoint and not settings.local:
        net_checks, test = network_and_ingestion_checks(settings, environ, clock, send_test=send_test)
    else:
        reason = "no valid destination (see the configuration checks)"
        if settings is not None and settings.local:
            reason = "--local: the telemetry goes to a receiver inside the launcher"
        net_checks = [Check(n, c, SKIP, reason) for n, c in (("dns", NETWORK), ("tcp", NETWORK), ("tls", NETWORK),
                                                             (_export_name(protocol), INGESTION))]
        if send_test and settings is not None and settings.local:
            net_checks.append(Check("send-test", SEND_TEST, SKIP, "nothing sent: " + reason))
        elif send_test:
            net_checks.append(Check("send-test", SEND_TEST, FAIL, "nothing sent: " + reason,
                                    "Fix the configuration first."))

    if litellm_thread.is_alive():
        litellm_thread.join(clock.left(LITELLM_TIMEOUT) + 0.5)
    env_checks.append(litellm_result.get("c") or Check(
        "litellm-callback", ENVIRONMENT, WARN, "not checked: importing litellm took too long",
        "Run `python -c \"import litellm\"` to see how long LiteLLM takes to import here."))
    api_checks: list[Check] = []
    if api_thread is not None:
        api_thread.join(clock.left(API_TIMEOUT) + 0.5)
        api_checks = api_result.get("c") or [Check(
            "signoz-api", "signoz-api", FAIL, "SigNoz's API did not answer in time",
            "Check --url (the address you open SigNoz at) and that the server is up.")]
    return Report(
        checks=tuple(config_checks + env_checks + net_checks + api_checks),
        endpoint=settings.endpoint if settings else None,
        protocol=settings.protocol if settings else None,
        service_name=_service_name(settings),
        elapsed_s=round(clock.elapsed, 2),
        test=test,
    )


def _service_name(settings: Settings | None) -> str | None:
    return settings.service_name if settings else None


def _export_name(protocol: str) -> str:
    return "export-grpc" if protocol == "grpc" else "export-http"


# --------------------------------------------------------------------------------------------- network


def network_and_ingestion_checks(settings: Settings, environ: Mapping[str, str], clock: _Clock, *,
                                 send_test: bool) -> tuple[list[Check], dict[str, str] | None]:
    assert settings.endpoint
    protocol, ca = settings.protocol, settings.ca_cert
    target = net.target_for(settings.endpoint, protocol)
    checks = [_proxy_check(target, protocol, environ)]

    dns = net.resolve_host(target.host, target.port, clock.left(DNS_TIMEOUT))
    if not dns.ok:
        hint = ("Check the spelling of the host and the DNS/VPN of this machine."
                if not dns.timed_out else "The DNS resolver is slow or unreachable; check /etc/resolv.conf or the VPN.")
        if settings.is_cloud:
            hint = f"Check the region ({', '.join(REGIONS)}) and the machine's DNS."
        checks.append(Check("dns", NETWORK, FAIL, dns.detail, hint))
        skipped = "skipped: the host does not resolve"
        checks += [Check("tcp", NETWORK, SKIP, skipped), Check("tls", NETWORK, SKIP, skipped),
                   Check(_export_name(protocol), INGESTION, SKIP, skipped)]
        if send_test:
            checks.append(Check("send-test", SEND_TEST, FAIL, "nothing sent: " + skipped, "Fix DNS first."))
        return checks, None
    checks.append(Check("dns", NETWORK, PASS, dns.detail))

    # Everything after DNS runs at once, each with its own timeout.
    headers = net.parse_headers(merge_headers(environ.get("OTEL_EXPORTER_OTLP_HEADERS"), settings.ingestion_key))
    alt_protocol = net.other_protocol(protocol)
    alt_endpoint = net.alternative_endpoint(settings.endpoint, protocol)
    results: dict[str, Any] = {}

    def connect_then_tls() -> None:
        tcp = net.tcp_connect(target.host, target.port, clock.left(CONNECT_TIMEOUT))
        results["tcp"] = tcp
        if tcp.ok and target.tls:
            results["tls"] = net.tls_handshake(target.host, target.port, ca, clock.left(TLS_TIMEOUT))

    jobs = {
        "connect": connect_then_tls,
        "export": lambda: results.setdefault("export", net.probe_ingestion(
            protocol, settings.endpoint or "", headers, ca, clock.left(EXPORT_TIMEOUT))),
        "alt": lambda: results.setdefault("alt", net.probe_ingestion(
            alt_protocol, alt_endpoint, headers, ca, clock.left(EXPORT_TIMEOUT))),
    }
    _run_all(jobs, clock.left(EXPORT_TIMEOUT + 1.0))

    tcp = results.get("tcp")
    if tcp is None:
        checks.append(Check("tcp", NETWORK, FAIL, "connection attempt did not finish in time",
                            "A firewall may drop packets to this port."))
    elif tcp.ok:
        checks.append(Check("tcp", NETWORK, PASS, tcp.detail))
    else:
        hint = ("Nothing listens there: check the port (gRPC 4317, HTTP 4318 for self-hosted SigNoz) and that "
                "the collector runs." if "refused" in tcp.detail else
                "A firewall or security group drops the traffic; allow outbound connections to this port.")
        checks.append(Check("tcp", NETWORK, FAIL, tcp.detail, hint))
    checks.append(_tls_check(target, results.get("tls"), tcp, ca))

    export = results.get("export")
    alt = results.get("alt")
    checks.append(_export_check(protocol, export, alt, settings))
    checks.append(_alt_check(alt_protocol, alt))

    test = None
    if send_test:
        if export is None or export.outcome != net.ACCEPTED:
            checks.append(Check("send-test", SEND_TEST, FAIL, "nothing sent: the endpoint did not accept the probe",
                                "Fix the ingestion check first."))
        else:
            check, test = _send_test(settings, headers, clock)
            checks.append(check)
    return checks, test


def _run_all(jobs: Mapping[str, Callable[[], Any]], timeout: float) -> None:
    threads = [threading.Thread(target=job, name=f"doctor-{name}", daemon=True) for name, job in jobs.items()]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))


def _proxy_check(target: net.Target, protocol: str, environ: Mapping[str, str]) -> Check:
    proxy = net.proxy_for(target, environ)
    grpc_proxy = environ.get("grpc_proxy") or environ.get("GRPC_PROXY")
    if not proxy and not grpc_proxy:
        return Check("proxy", NETWORK, PASS, "no HTTP(S)_PROXY applies to this endpoint")
    shown = _strip_credentials(grpc_proxy or proxy or "")
    if protocol == "grpc":
        return Check("proxy", NETWORK, WARN, f"traffic to {target.host} goes through proxy {shown}; gRPC needs "
                     "the proxy to tunnel HTTP/2 (CONNECT), which many proxies refuse",
                     "If the ingestion check fails, use --protocol http/protobuf, or add the host to NO_PROXY.")
    return Check("proxy", NETWORK, PASS, f"HTTP exports go through proxy {shown}")


def _strip_credentials(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url if "://" in url else "http://" + url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def _tls_check(target: net.Target, tls: net.Probe | None, tcp: net.Probe | None, ca: str | None) -> Check:
    if not target.tls:
        return Check("tls", NETWORK, SKIP, "plain-text endpoint (http://): no TLS")
    if tcp is None or not tcp.ok:
        return Check("tls", NETWORK, SKIP, "skipped: no TCP connection")
    if tls is None:
        return Check("tls", NETWORK, FAIL, "TLS handshake did not finish in time",
                     "The endpoint accepts connections but does not speak TLS; try http:// (--insecure).")
    if not tls.ok:
        if tls.extra == "verify":
            hint = ("Pass --ca-cert with the CA that signed the endpoint's certificate (a self-signed collector), "
                    "or check for a proxy that intercepts TLS." if not ca else
                    f"{ca} did not sign this certificate; give the right CA, or the full chain.")
        elif tls.timed_out:
            hint = "The endpoint accepts connections but never completes TLS: is it plain text (http://)?"
        else:
            hint = "Is the endpoint plain text? Then use http:// or --insecure."
        return Check("tls", NETWORK, FAIL, tls.detail, hint)
    facts: net.TlsFacts = tls.extra
    ca_text = f" with {ca}" if ca else ""
    if facts.days_left is not None and facts.days_left < 0:
        return Check("tls", NETWORK, FAIL, f"certificate expired {-facts.days_left:.0f} days ago",
                     "Renew the endpoint's certificate.")
    if facts.days_left is not None and facts.days_left < CERT_WARN_DAYS:
        return Check("tls", NETWORK, WARN, f"{tls.detail}{ca_text}; certificate expires in {facts.days_left:.1f} days",
                     "Renew the endpoint's certificate before it expires.")
    left = f"; expires in {facts.days_left:.0f} days" if facts.days_left is not None else ""
    return Check("tls", NETWORK, PASS, f"{tls.detail}{ca_text}{left}")


_EXPORT_HINTS = {
    net.KEY_REJECTED: "The endpoint refused the ingestion key: copy it again from SigNoz (Settings -> Ingestion) "
                      "and check it belongs to this region.",
    net.UNAVAILABLE: "The endpoint is unreachable or overloaded: see the network checks; a proxy may block it.",
    net.TIMED_OUT: "The endpoint accepted the connection but did not answer: a proxy or firewall may hold the "
                   "traffic, or the port belongs to another service.",
    net.TLS_FAILED: "See the TLS check: --ca-cert for a self-signed collector, http:// for a plain-text one.",
    net.ERROR: "The endpoint answered, but not as an OTLP receiver: check the port and the protocol.",
}


def _export_check(protocol: str, export: net.Export | None, alt: net.Export | None, settings: Settings) -> Check:
    name = _export_name(protocol)
    if export is None:
        return Check(name, INGESTION, FAIL, "the export probe did not finish in time", _EXPORT_HINTS[net.TIMED_OUT])
    detail = f"{export.outcome}: {export.detail} ({export.seconds:.2f} s)"
    if export.outcome == net.ACCEPTED:
        return Check(name, INGESTION, PASS, detail)
    hint = _EXPORT_HINTS.get(export.outcome, "")
    if export.outcome == net.KEY_REJECTED and not settings.ingestion_key:
        hint = "The endpoint wants a key: export SIGNOZ_INGESTION_KEY=<key>."
    if alt is not None and alt.outcome == net.ACCEPTED:
        switch = f"--protocol {alt.protocol}"
        if alt.endpoint != export.endpoint:
            switch += f" --endpoint {alt.endpoint}"
        hint = f"{alt.protocol} works: switch with {switch}."
    return Check(name, INGESTION, FAIL, detail, hint)


def _alt_check(alt_protocol: str, alt: net.Export | None) -> Check:
    name = _export_name(alt_protocol)
    if alt is None:
        return Check(name, INGESTION, SKIP, "alternative protocol: no answer in time")
    detail = f"alternative protocol, {alt.endpoint}: {alt.outcome}: {alt.detail}"
    return Check(name, INGESTION, PASS if alt.outcome == net.ACCEPTED else SKIP, detail)


def _send_test(settings: Settings, headers: Sequence[tuple[str, str]], clock: _Clock) -> tuple[Check, dict[str, str]]:
    service = settings.service_name or DOCTOR_SERVICE
    attributes = list(settings.resource_attributes)
    if settings.environment:
        attributes.append(("deployment.environment", settings.environment))
    trace_id, requests = net.test_requests(service, attributes)
    results: dict[str, net.Export] = {}
    timeout = clock.left(SEND_TIMEOUT)
    jobs = {signal: (lambda s=signal: results.setdefault(s, net.export(
        settings.protocol, settings.endpoint or "", s, requests[s], headers, settings.ca_cert, timeout)))
        for signal in ("traces", "logs", "metrics")}
    _run_all(jobs, timeout + 0.7)
    test = {"trace_id": trace_id, "service_name": service, "span_name": net.TEST_SPAN_NAME,
            "metric_name": net.TEST_METRIC_NAME, "attribute": net.DOCTOR_ATTRIBUTE}
    failed = [f"{s}: {results[s].outcome if s in results else 'no answer'}" for s in ("traces", "logs", "metrics")
              if s not in results or results[s].outcome != net.ACCEPTED]
    if failed:
        return Check("send-test", SEND_TEST, FAIL, "not all accepted: " + "; ".join(failed),
                     "See the ingestion check; retry in a moment if the endpoint was busy."), test
    return Check("send-test", SEND_TEST, PASS,
                 f"span, log record and metric accepted: search SigNoz for service.name={service}, "
                 f"trace id {trace_id}"), test
