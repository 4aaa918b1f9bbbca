"""`signoz-litellm doctor` against the real OTLP receiver, run as a real subprocess.

Each scenario asserts the status of the check that must catch it, the exit status, the JSON shape and
that the run stayed inside doctor's time budget (a generous bound: it only catches hangs).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from signoz_litellm_run import doctor, doctor_net
from signoz_litellm_run.loopback import SilentServer, unused_port
from signoz_litellm_run.receiver import Receiver

KEY = "doctor-test-key-0123456789abcdef"
CHECK_KEYS = {"name", "category", "status", "detail", "hint"}
TOP_KEYS = {"ok", "endpoint", "protocol", "service_name", "elapsed_s", "test", "checks"}
HANG_BOUND = 60.0  # seconds of wall time: far above doctor's 10 s budget, only there to catch a hang


def run_doctor(tmp_path: Path, *args: str, key: str | None = KEY, env: dict[str, str] | None = None,
               as_json: bool = True) -> tuple[int, Any, str, float]:
    """(exit status, parsed JSON or the text, stderr, wall seconds) of `python -m signoz_litellm_run doctor`."""
    child_env = {k: v for k, v in os.environ.items()
                 if not k.startswith(("OTEL_", "SIGNOZ_")) and k.lower() not in ("http_proxy", "https_proxy")}
    child_env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    child_env["COLUMNS"] = "160"  # the table's width when stdout is not a terminal
    if key:
        child_env["SIGNOZ_INGESTION_KEY"] = key
    child_env.update(env or {})
    argv = [sys.executable, "-m", "signoz_litellm_run", "doctor", "--fast", *(["--json"] if as_json else []), *args]
    start = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, env=child_env, cwd=tmp_path, timeout=HANG_BOUND)
    elapsed = time.monotonic() - start
    if key:
        assert key not in done.stdout and key not in done.stderr  # the key is never shown
    if not as_json:
        return done.returncode, done.stdout, done.stderr, elapsed
    report = json.loads(done.stdout)  # nothing else on stdout
    assert set(report) == TOP_KEYS
    assert report["ok"] is (done.returncode == 0)
    for check in report["checks"]:
        assert set(check) == CHECK_KEYS
        assert check["status"] in ("pass", "warn", "fail", "skip")
        if check["status"] == "fail":
            assert check["hint"], check
    assert isinstance(report["elapsed_s"], float)  # its budget holds by `bounded` (test_bounded_gives_up_...)
    return done.returncode, report, done.stderr, elapsed


def check(report: dict[str, Any], name: str) -> dict[str, Any]:
    found = [c for c in report["checks"] if c["name"] == name]
    assert len(found) == 1, (name, [c["name"] for c in report["checks"]])
    return found[0]


# --------------------------------------------------------------------------------------------- ingestion


def test_accepted_with_the_right_key(tmp_path: Path) -> None:
    with Receiver(required_key=KEY) as r:
        rc, report, _, _ = run_doctor(tmp_path, "--endpoint", r.grpc_endpoint)
        assert rc == 0 and report["ok"] is True
        assert check(report, "export-grpc")["status"] == "pass"
        assert check(report, "dns")["status"] == "pass" and check(report, "tcp")["status"] == "pass"
        assert check(report, "tls")["status"] == "skip"  # http:// is plain text
        assert check(report, "ingestion-key")["detail"].startswith("****cdef")
        # the probe is an empty request: it reached the receiver with the key, and carried no span
        assert [q.headers.get("signoz-ingestion-key") for q in r.requests if q.protocol == "grpc"] == [KEY]
        assert r.spans() == []


def test_human_table_names_the_failing_check_and_its_fix(tmp_path: Path) -> None:
    with Receiver(required_key=KEY) as r:
        rc, text, _, _ = run_doctor(tmp_path, "--endpoint", r.grpc_endpoint, key="wrong-key-0123456789",
                                    as_json=False)
    assert rc == 1
    assert "export-grpc" in text and "FAIL" in text and "key rejected" in text
    assert "Settings -> Ingestion" in text and "1 failed" in text


def test_wrong_key_is_rejected(tmp_path: Path) -> None:
    with Receiver(required_key=KEY) as r:
        rc, report, _, _ = run_doctor(tmp_path, "--endpoint", r.grpc_endpoint, key="wrong-key-0123456789")
    assert rc == 1
    export = check(report, "export-grpc")
    assert export["status"] == "fail" and export["detail"].startswith("key rejected: gRPC UNAUTHENTICATED")
    assert "ingestion key" in export["hint"]


def test_unavailable(tmp_path: Path) -> None:
    with Receiver(behavior="unavailable") as r:
        rc, report, _, _ = run_doctor(tmp_path, "--endpoint", r.grpc_endpoint)
    assert rc == 1
    assert check(report, "tcp")["status"] == "pass"
    export = check(report, "export-grpc")
    assert export["status"] == "fail" and export["detail"].startswith("unavailable: gRPC UNAVAILABLE")


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_hanging_receiver_times_out_within_the_budget(tmp_path: Path, protocol: str) -> None:
    with Receiver(behavior="hang") as r:
        rc, report, _, _ = run_doctor(tmp_path, "--endpoint", r.endpoint(protocol), "--protocol", protocol)
    assert rc == 1
    export = check(report, "export-grpc" if protocol == "grpc" else "export-http")
    assert export["status"] == "fail" and export["detail"].startswith("timed out")
    assert "did not answer" in export["hint"]


def test_silent_server_times_out_on_both_protocols(tmp_path: Path) -> None:
    with SilentServer() as silent:
        rc, report, _, _ = run_doctor(tmp_path, "--endpoint", silent.endpoint, "--send-test")
        assert silent.connections >= 2  # the TCP check and the probes reached it
    assert rc == 1
    assert check(report, "tcp")["status"] == "pass"
    assert check(report, "export-grpc")["detail"].startswith("timed out")
    assert "timed out" in check(report, "export-http")["detail"]  # the alternative protocol
    assert check(report, "send-test")["status"] == "fail"


def test_refused_port(tmp_path: Path) -> None:
    rc, report, _, _ = run_doctor(tmp_path, "--endpoint", f"http://127.0.0.1:{unused_port()}")
    assert rc == 1
    tcp = check(report, "tcp")
    assert tcp["status"] == "fail" and "refused" in tcp["detail"] and "Nothing listens" in tcp["hint"]
    assert check(report, "export-grpc")["detail"].startswith("unavailable")


def test_unresolvable_host(tmp_path: Path) -> None:
    rc, report, _, _ = run_doctor(tmp_path, "--endpoint", "http://nonexistent.invalid:4317")
    assert rc == 1
    dns = check(report, "dns")
    assert dns["status"] == "fail" and "does not resolve" in dns["detail"]
    assert [check(report, n)["status"] for n in ("tcp", "tls", "export-grpc")] == ["skip"] * 3


# --------------------------------------------------------------------------------------------- HTTP


def test_http_protocol_accepted_and_wrong_key(tmp_path: Path) -> None:
    with Receiver(required_key=KEY) as r:
        rc, report, _, _ = run_doctor(tmp_path, "--endpoint", r.http_endpoint, "--protocol", "http/protobuf")
        assert rc == 0 and check(report, "export-http")["status"] == "pass"
        assert report["protocol"] == "http/protobuf"
        rc, report, _, _ = run_doctor(tmp_path, "--endpoint", r.http_endpoint, "--protocol", "http/protobuf",
                                      key="wrong-key-0123456789")
        assert rc == 1
        export = check(report, "export-http")
        assert export["status"] == "fail" and export["detail"].startswith("key rejected")
        assert "HTTP 401" in export["detail"]
        r.behavior = "permission_denied"
        rc, report, _, _ = run_doctor(tmp_path, "--endpoint", r.http_endpoint, "--protocol", "http/protobuf")
        assert rc == 1 and "HTTP 403" in check(report, "export-http")["detail"]


def test_wrong_protocol_says_to_switch(tmp_path: Path) -> None:
    with Receiver(required_key=KEY, grpc=False) as r:  # an HTTP-only collector, configured as gRPC
        rc, report, _, _ = run_doctor(tmp_path, "--endpoint", r.http_endpoint, "--protocol", "grpc")
    assert rc == 1
    export = check(report, "export-grpc")
    assert export["status"] == "fail"
    assert export["hint"].startswith("http/protobuf works: switch with --protocol http/protobuf")
    assert check(report, "export-http")["status"] == "pass"


# --------------------------------------------------------------------------------------------- send-test


def test_send_test_arrives(tmp_path: Path) -> None:
    with Receiver(required_key=KEY) as r:
        rc, report, _, _ = run_doctor(tmp_path, "--endpoint", r.grpc_endpoint, "--send-test",
                                      "--service-name", "doctor-check", "--environment", "staging")
        assert rc == 0 and check(report, "send-test")["status"] == "pass"
        trace_id = report["test"]["trace_id"]
        assert report["test"]["service_name"] == "doctor-check" and trace_id in check(report, "send-test")["detail"]
        assert r.wait_for(lambda rc_: rc_.spans() and rc_.log_records() and rc_.metrics(), timeout=10)
        [span] = r.spans()
        assert (span.name, span.trace_id, span.service_name) == (doctor_net.TEST_SPAN_NAME, trace_id, "doctor-check")
        assert span.attributes[doctor_net.DOCTOR_ATTRIBUTE] is True
        assert span.resource["deployment.environment"] == "staging"
        [log] = r.log_records()
        assert log.trace_id == trace_id and log.attributes[doctor_net.DOCTOR_ATTRIBUTE] is True
        [metric] = r.metrics()
        assert metric.name == doctor_net.TEST_METRIC_NAME and metric.resource["service.name"] == "doctor-check"
        assert metric.data_points[0]["value"] == 1


def test_send_test_over_http(tmp_path: Path) -> None:
    with Receiver(required_key=KEY) as r:
        rc, report, _, _ = run_doctor(tmp_path, "--endpoint", r.http_endpoint, "--protocol", "http/protobuf",
                                      "--send-test")
        assert rc == 0 and report["test"]["service_name"] == doctor.DOCTOR_SERVICE
        assert r.wait_for(lambda rc_: rc_.spans() and rc_.log_records() and rc_.metrics(), timeout=10)
        assert {q.protocol for q in r.requests} == {"http"}
        assert r.spans()[0].trace_id == report["test"]["trace_id"]


# --------------------------------------------------------------------------------------------- TLS


def make_cert(directory: Path, days: float) -> tuple[str, str]:
    """A self-signed CA:TRUE certificate for 127.0.0.1 / localhost, valid for `days`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "doctor test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / f"cert-{days}.pem", directory / f"key-{days}.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


def test_tls_self_signed_fails_then_ca_cert_passes(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path, days=90)
    with Receiver(required_key=KEY, tls=(cert, key)) as r:
        rc, report, _, _ = run_doctor(tmp_path, "--endpoint", r.grpc_endpoint)
        assert rc == 1
        tls = check(report, "tls")
        assert tls["status"] == "fail" and tls["detail"].startswith("certificate not trusted")
        assert "--ca-cert" in tls["hint"]
        assert check(report, "export-grpc")["status"] == "fail"
        assert r.requests == []
        not_pem = tmp_path / "not-a-cert.pem"
        not_pem.write_text("not a certificate\n")
        rc, report, _, _ = run_doctor(tmp_path, "--endpoint", r.grpc_endpoint, "--ca-cert", str(not_pem))
        assert rc == 1 and check(report, "ca-cert")["status"] == "fail"

        rc, report, _, _ = run_doctor(tmp_path, "--endpoint", r.grpc_endpoint, "--ca-cert", cert)
        assert rc == 0
        assert check(report, "ca-cert")["detail"] == f"{cert}: 1 CA certificate(s)"
        tls = check(report, "tls")
        assert tls["status"] == "pass" and "certificate verified" in tls["detail"] and "expires in" in tls["detail"]
        assert check(report, "export-grpc")["status"] == "pass"

        rc, report, _, _ = run_doctor(tmp_path, "--endpoint", r.http_endpoint, "--protocol", "http/protobuf",
                                      "--ca-cert", cert)
        assert rc == 0 and check(report, "export-http")["status"] == "pass"
        assert {q.protocol for q in r.requests} == {"grpc", "http"}


def test_certificate_expiring_soon_is_a_warning(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path, days=3)
    with Receiver(tls=(cert, key)) as r:
        rc, report, _, _ = run_doctor(tmp_path, "--endpoint", r.grpc_endpoint, "--ca-cert", cert, key=None)
    assert rc == 0  # a warning does not fail the run
    tls = check(report, "tls")
    assert tls["status"] == "warn" and "expires in" in tls["detail"] and "Renew" in tls["hint"]


# --------------------------------------------------------------------------------------------- configuration


def test_configuration_problems_are_failed_checks_not_errors(tmp_path: Path) -> None:
    rc, report, stderr, _ = run_doctor(tmp_path, key=None)
    assert rc == 1 and stderr == ""
    assert check(report, "destination")["status"] == "fail"
    assert check(report, "dns")["status"] == "skip"

    rc, report, _, _ = run_doctor(tmp_path, "--region", "mars")
    assert rc == 1
    settings = check(report, "settings")
    assert settings["status"] == "fail" and "mars" in settings["detail"] and "us, eu" in settings["hint"]
    assert check(report, "python")["status"] == "pass"  # the environment is still checked

    port = unused_port()
    (tmp_path / "signoz-litellm.toml").write_text(f'endpoint = "http://127.0.0.1:{port}"\n')
    rc, report, _, _ = run_doctor(tmp_path, env={"OTEL_SDK_DISABLED": "true",
                                                 "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://elsewhere:4317",
                                                 "OTEL_LOGS_EXPORTER": "none"})
    assert rc == 1
    assert "signoz-litellm.toml" in check(report, "config-file")["detail"]
    assert check(report, "destination")["detail"].startswith(f"http://127.0.0.1:{port} (config ")
    otel = check(report, "otel-env")
    assert otel["status"] == "fail"
    for text in ("OTEL_SDK_DISABLED", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_LOGS_EXPORTER=none"):
        assert text in otel["detail"]


def test_usage_error_exits_2(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "signoz_litellm_run", "doctor", "--no-such-flag"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 2 and done.stdout == ""


# --------------------------------------------------------------------------------------------- pieces


def test_proxy_rules() -> None:
    cloud = doctor_net.target_for("https://ingest.us.signoz.cloud:443", "grpc")
    proxied = {"HTTPS_PROXY": "http://user:secret@proxy.corp:3128"}
    check_ = doctor._proxy_check(cloud, "grpc", proxied)
    assert check_.status == "warn" and "proxy.corp:3128" in check_.detail and "secret" not in check_.detail
    assert "--protocol http/protobuf" in check_.hint
    assert doctor._proxy_check(cloud, "http/protobuf", proxied).status == "pass"
    assert doctor._proxy_check(cloud, "grpc", {**proxied, "NO_PROXY": ".signoz.cloud"}).status == "pass"
    assert doctor._proxy_check(cloud, "grpc", {}).detail.startswith("no HTTP(S)_PROXY")


def test_mismatched_opentelemetry_pins_fail_the_versions_check(tmp_path: Path) -> None:
    """A stale instrumentation package pinning another opentelemetry-instrumentation release."""
    site = tmp_path / "site"
    info = site / "opentelemetry_instrumentation_stale-0.50b0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: opentelemetry-instrumentation-stale\n"
                                   "Version: 0.50b0\nRequires-Dist: opentelemetry-instrumentation==0.50b0\n")
    with Receiver() as r:
        rc, report, _, _ = run_doctor(tmp_path, "--endpoint", r.grpc_endpoint, key=None,
                                      env={"PYTHONPATH": str(site)})
    assert rc == 1
    versions = check(report, "otel-versions")
    assert versions["status"] == "fail"
    expected = "opentelemetry-instrumentation-stale 0.50b0 needs opentelemetry-instrumentation==0.50b0"
    assert expected in versions["detail"]
    assert check(report, "export-grpc")["status"] == "pass"


def test_bounded_gives_up_on_a_blocked_call() -> None:
    """The mechanism behind every network timeout (a getaddrinfo that blocks, a socket that drips)."""
    release = threading.Event()
    with pytest.raises(doctor_net.Timeout):
        doctor_net.bounded(release.wait, 0.2)  # returns only once released
    assert not release.is_set()  # bounded() gave up while the call was still blocked
    release.set()
    assert doctor_net.bounded(lambda: 42, 5) == 42
    with pytest.raises(ZeroDivisionError):
        doctor_net.bounded(lambda: 1 / 0, 5)


def test_ca_bundle_variables_that_override_the_http_exporters_ca_are_a_warning(tmp_path: Path) -> None:
    """requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE win over the HTTP exporter's certificate file."""
    cert, _key = make_cert(tmp_path, days=90)
    args = ("--endpoint", "https://127.0.0.1:4318", "--protocol", "http/protobuf", "--ca-cert", cert)
    _, report, _, _ = run_doctor(tmp_path, *args, env={"REQUESTS_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt"})
    ca = check(report, "ca-cert")
    assert ca["status"] == "warn" and "REQUESTS_CA_BUNDLE" in ca["detail"] and "--protocol grpc" in ca["hint"]
    clean = {name: "" for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    _, report, _, _ = run_doctor(tmp_path, *args, env=clean)
    assert check(report, "ca-cert")["status"] == "pass"
    _, report, _, _ = run_doctor(tmp_path, "--endpoint", "https://127.0.0.1:4317", "--ca-cert", cert,
                                 env={"CURL_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt"})
    assert check(report, "ca-cert")["status"] == "pass"  # gRPC is not affected
