"""`signoz_litellm_run.init()` and `import signoz_litellm_run.auto`: real programs in real child processes, real
LiteLLM, the real OTLP receiver; plus system metrics and resource attributes under `run` and `init()`."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from signoz_litellm_run.local_report import read_jsonl
from signoz_litellm_run.receiver import Receiver
from tests.support.fake_provider import FakeProvider
from tests.support.launch import app, clean_env, launcher

KEY = "sk-signoz-test-0123456789abcdef"
SYSTEM = {"system.cpu.utilization", "system.memory.usage", "system.memory.utilization"}
PROCESS = {"process.cpu.time", "process.cpu.utilization", "process.memory.usage", "process.thread.count"}
pytestmark = pytest.mark.timeout(180)


def _python(args: list[str], env: dict[str, str], cwd: str | Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], env=env, cwd=str(cwd) if cwd else None, capture_output=True,
                          text=True, timeout=120)


def _init_app(receiver: Receiver, provider: FakeProvider, kwargs: dict | None = None, *, mode: str = "plain",
              extra_env: dict[str, str] | None = None, cwd: str | Path | None = None,
              args: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    kwargs = {"endpoint": receiver.endpoint("grpc"), **(kwargs or {})}
    env = clean_env({"FAKE_BASE_URL": provider.base_url, "SIGNOZ_INGESTION_KEY": KEY, "MODE": mode,
                     "INIT_KWARGS": json.dumps(kwargs), **(extra_env or {})})
    return _python([app("init_app.py"), *args], env, cwd)


def _litellm_spans(receiver: Receiver) -> list:
    return [s for s in receiver.spans() if s.name == "litellm_request"]


def _settled(receiver: Receiver, count: int) -> list:
    receiver.wait_for(lambda r: len(_litellm_spans(r)) >= count, timeout=10)
    receiver.wait_for(lambda r: False, timeout=1.0)  # a duplicate would arrive meanwhile
    return _litellm_spans(receiver)


def _pid(result: subprocess.CompletedProcess[str]) -> str:
    return next(line.split()[1] for line in result.stdout.splitlines() if line.startswith("pid "))


def test_init_sends_what_run_sends(receiver: Receiver, fake_provider: FakeProvider) -> None:
    result = _init_app(receiver, fake_provider, {"service_name": "in-code", "environment": "dev"},
                       args=("--token", "hunter2-secret-arg"))
    assert result.returncode == 0, result.stderr
    spans = _settled(receiver, 2)
    assert len(spans) == 2
    for span in spans:
        assert span.resource["service.name"] == "in-code"
        assert span.resource["deployment.environment"] == "dev"
        assert span.attributes["gen_ai.request.model"] == "gpt-4o-mini"
        assert span.attributes["gen_ai.usage.prompt_tokens"] == span.attributes["gen_ai.usage.input_tokens"]
    # Each call's HTTP client span is a child of its litellm_request span: one trace per call.
    http = [s for s in receiver.spans() if s.scope.startswith("opentelemetry.instrumentation.httpx")]
    assert len(http) == 2
    by_id = {s.span_id: s for s in spans}
    assert all(s.parent_span_id in by_id and by_id[s.parent_span_id].trace_id == s.trace_id for s in http)
    # The program's log record; LiteLLM's GenAI metrics; system metrics (init() runs in the main process).
    assert receiver.wait_for(lambda r: any("init app finished" in str(l.body) for l in r.log_records()))
    assert receiver.wait_for(lambda r: {"gen_ai.client.token.usage", "gen_ai.client.operation.duration"}
                             | SYSTEM | PROCESS <= r.metric_names())
    # Resource detection: host, OS, runtime, the process and its program, never its arguments.
    resource = spans[0].resource
    assert resource["process.pid"] == _pid(result)
    assert resource["process.command"] == app("init_app.py")
    assert resource["host.name"] and resource["host.arch"] and resource["os.type"] == sys.platform.replace(
        "win32", "windows")
    assert resource["process.runtime.name"] == "cpython" and resource["os.description"]
    assert not {"process.command_args", "process.command_line"} & set(resource)
    assert not any("hunter2" in str(v) for r in receiver.requests for v in r.headers.values())
    assert all("hunter2" not in str(v) for s in receiver.spans() for v in s.resource.values())
    # The key: on every request, never in the program's output (the handle's repr is printed).
    assert receiver.requests and all(r.headers.get("signoz-ingestion-key") == KEY for r in receiver.requests)
    assert KEY not in result.stdout + result.stderr
    assert "****cdef" in result.stdout
    assert "Traceback" not in result.stderr


def test_init_twice_is_harmless_and_spans_are_not_duplicated(receiver: Receiver, fake_provider: FakeProvider) -> None:
    result = _init_app(receiver, fake_provider, {"service_name": "twice"}, mode="twice", extra_env={"CALLS": "3"})
    assert result.returncode == 0, result.stderr
    assert len(_settled(receiver, 3)) == 3
    assert len([s for s in receiver.spans() if s.scope.startswith("opentelemetry.instrumentation.httpx")]) == 3


def test_init_after_litellm_was_imported(receiver: Receiver, fake_provider: FakeProvider) -> None:
    result = _init_app(receiver, fake_provider, {"service_name": "late"}, mode="late_import")
    assert result.returncode == 0, result.stderr
    assert len(_settled(receiver, 2)) == 2
    assert receiver.wait_for(lambda r: "gen_ai.client.operation.duration" in r.metric_names())


_ERRORS = textwrap.dedent("""
    import json, os, sys
    import signoz_litellm_run
    out = {}
    def attempt(name, **kwargs):
        try:
            signoz_litellm_run.init(**kwargs)
            out[name] = "no error"
        except Exception as exc:
            out[name] = [type(exc).__name__, isinstance(exc, ValueError), str(exc), repr(exc)]
    attempt("nothing")
    attempt("unknown", regoin="us")
    attempt("run_only", bootstrap=False)
    attempt("bad_region", region="mars")
    attempt("bad_seconds", shutdown_timeout="soon")
    attempt("bad_bool", insecure="maybe")
    attempt("bad_key", region="us", ingestion_key=os.environ["BAD_KEY"])
    attempt("cloud_without_key", region="eu")
    attempt("ok", endpoint=os.environ["EP"], service_name="first", ingestion_key=os.environ["GOOD_KEY"])
    attempt("conflict", endpoint=os.environ["EP"], service_name="second", ingestion_key="sk-other-0123456789abcdef")
    attempt("same", endpoint=os.environ["EP"], service_name="first", ingestion_key=os.environ["GOOD_KEY"])
    attempt("bare")  # no settings asked for: the running telemetry (import signoz_litellm_run.auto after init(...))
    print(json.dumps(out))
""")


def test_init_errors_are_runs_errors(receiver: Receiver, tmp_path: Path) -> None:
    bad_key = "sk-bad key-with-space-0123456789"
    env = clean_env({"EP": receiver.endpoint("grpc"), "BAD_KEY": bad_key, "GOOD_KEY": KEY})
    result = _python(["-c", _ERRORS], env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.splitlines()[-1])
    name, is_value_error, text, _ = out["nothing"]
    assert (name, is_value_error) == ("SettingsError", True)
    assert text.startswith("No destination for the telemetry: no SigNoz Cloud region and no endpoint is set.")
    assert 'region="us"' in text and 'endpoint="http://HOST:4317"' in text and "local=True" in text
    assert out["unknown"][0] == "TypeError" and "'regoin'" in out["unknown"][2]
    assert "region, ingestion_key, endpoint" in out["unknown"][2]
    assert out["run_only"][0] == "TypeError" and "signoz-litellm run" in out["run_only"][2]
    assert out["bad_region"][:2] == ["SettingsError", True]
    assert "Invalid argument region: unknown SigNoz Cloud region 'mars'" in out["bad_region"][2]
    assert "Invalid argument shutdown_timeout: 'soon' is not a number of seconds" in out["bad_seconds"][2]
    assert "Invalid argument insecure: 'maybe' is not a boolean" in out["bad_bool"][2]
    assert "ingestion key contains spaces" in out["bad_key"][2]
    assert out["cloud_without_key"][2].startswith("SigNoz Cloud needs an ingestion key, and none is set.")
    assert out["ok"] == out["same"] == out["bare"] == "no error"
    assert out["conflict"][0] == "SettingsError"
    assert "ingestion_key differs" in out["conflict"][2] and "service_name: 'first' before, 'second' now" in \
        out["conflict"][2]
    # The keys are in no message or repr.
    assert KEY not in result.stdout + result.stderr and bad_key not in result.stdout + result.stderr
    assert "sk-other" not in result.stdout
    assert "Traceback" not in result.stderr


def test_init_under_run_does_nothing_and_says_so_once(receiver: Receiver, fake_provider: FakeProvider) -> None:
    with Receiver() as elsewhere:
        env = clean_env({"FAKE_BASE_URL": fake_provider.base_url, "MODE": "twice",
                         "INIT_KWARGS": json.dumps({"endpoint": elsewhere.endpoint("grpc"), "service_name": "x"})})
        result = launcher(["run", "--endpoint", receiver.endpoint("grpc"), "--service-name", "under-run", "--",
                           sys.executable, app("init_app.py")], env=env)
        assert result.returncode == 0, result.stderr
        assert len(_settled(receiver, 2)) == 2
        assert all(s.resource["service.name"] == "under-run" for s in _litellm_spans(receiver))
        assert result.stderr.count("init() does nothing here") == 1, result.stderr
        assert "<signoz-litellm telemetry from signoz-litellm run: service 'under-run'" in result.stdout
        assert not elsewhere.requests


def test_an_apps_own_tracer_provider_gets_our_exporter_added(receiver: Receiver, fake_provider: FakeProvider) -> None:
    result = _init_app(receiver, fake_provider, {"service_name": "own"}, mode="own_provider")
    assert result.returncode == 0, result.stderr
    spans = _settled(receiver, 2)
    assert len(spans) == 2  # one provider: no duplicates
    assert receiver.wait_for(lambda r: any(s.name == "app-span" for s in r.spans()))
    assert len([s for s in receiver.spans() if s.name == "app-span"]) == 1
    line = next(line for line in result.stdout.splitlines() if line.startswith("own exporter"))
    names = json.loads(line[len("own exporter "):line.index(" global is own")])
    assert names.count("litellm_request") == 2 and names.count("app-span") == 1  # its own exporter still works
    assert line.endswith("global is own True")
    assert "Overriding" not in result.stderr and "Traceback" not in result.stderr
    # Its logger provider (with its own handler on the root logger) and meter provider were joined the same way:
    # each record once at each end, LiteLLM's metrics read by its own reader and sent to ours.
    line = next(line for line in result.stdout.splitlines() if line.startswith("own logs"))
    assert line.startswith("own logs 1 own metrics") and "gen_ai.client.operation.duration" in line, line
    assert receiver.wait_for(lambda r: any("init app finished" in str(l.body) for l in r.log_records()))
    receiver.wait_for(lambda r: False, timeout=1.0)
    assert len([l for l in receiver.log_records() if "init app finished" in str(l.body)]) == 1
    assert receiver.wait_for(lambda r: {"gen_ai.client.operation.duration", "process.memory.usage"}
                             <= r.metric_names())


def test_auto_inits_from_the_environment(receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path) -> None:
    code = ("import signoz_litellm_run.auto, litellm, os\n"
            "litellm.completion(model='openai/gpt-4o-mini', api_base=os.environ['FAKE_BASE_URL'], api_key='sk-test',"
            " messages=[{'role': 'user', 'content': 'hi'}])\n")
    env = clean_env({"FAKE_BASE_URL": fake_provider.base_url, "SIGNOZ_ENDPOINT": receiver.endpoint("grpc"),
                     "OTEL_SERVICE_NAME": "auto-app"})
    result = _python(["-c", code], env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [s.resource["service.name"] for s in _settled(receiver, 1)] == ["auto-app"]
    # Nothing set: the app still runs, without telemetry, and stderr says why.
    result = _python(["-c", "import signoz_litellm_run.auto; print('app ran')"], clean_env(), cwd=tmp_path)
    assert result.returncode == 0 and "app ran" in result.stdout
    assert "signoz-litellm: error: No destination for the telemetry" in result.stderr
    assert "Telemetry is off in this process" in result.stderr and "Traceback" not in result.stderr


def test_init_local_prints_the_report_at_exit(fake_provider: FakeProvider, tmp_path: Path) -> None:
    env = clean_env({"FAKE_BASE_URL": fake_provider.base_url, "INIT_KWARGS": json.dumps(
        {"local": True, "local_output": str(tmp_path / "out.jsonl"), "service_name": "local-app"})})
    result = _python([app("init_app.py")], env)
    assert result.returncode == 0, result.stderr
    report = read_jsonl((tmp_path / "out.jsonl").read_text().splitlines())
    assert [(m.model, m.calls) for m in report.models] == [("gpt-4o-mini", 2)]
    assert "LiteLLM calls: 2, failed: 0" in result.stderr and "gpt-4o-mini" in result.stderr, result.stderr


def test_system_metrics_off(receiver: Receiver, fake_provider: FakeProvider) -> None:
    result = _init_app(receiver, fake_provider, {"system_metrics": False})
    assert result.returncode == 0, result.stderr
    assert receiver.wait_for(lambda r: "gen_ai.client.operation.duration" in r.metric_names())
    receiver.wait_for(lambda r: False, timeout=1.0)
    assert not (SYSTEM | PROCESS) & receiver.metric_names()
    # Under run: --no-system-metrics.
    receiver.clear()
    result = launcher(["run", "--endpoint", receiver.endpoint("grpc"), "--no-system-metrics", "--", sys.executable,
                       app("sync_app.py")], env=clean_env({"FAKE_BASE_URL": fake_provider.base_url}))
    assert result.returncode == 0, result.stderr
    assert receiver.wait_for(lambda r: "gen_ai.client.operation.duration" in r.metric_names())
    receiver.wait_for(lambda r: False, timeout=1.0)
    assert not (SYSTEM | PROCESS) & receiver.metric_names()


_PARENT = textwrap.dedent("""
    import os, subprocess, sys
    child = subprocess.run([sys.executable, os.environ["CHILD_APP"]], capture_output=True, text=True)
    assert child.returncode == 0, child.stderr
    print(child.stdout, end="")
    print("parent", os.getpid())
""")


def test_system_metrics_only_from_the_jobs_main_process(receiver: Receiver, fake_provider: FakeProvider) -> None:
    env = clean_env({"FAKE_BASE_URL": fake_provider.base_url, "CHILD_APP": app("sync_app.py")})
    result = launcher(["run", "--endpoint", receiver.endpoint("grpc"), "--resource-attributes",
                       "host.name=given-host", "--", sys.executable, "-c", _PARENT], env=env)
    assert result.returncode == 0, result.stderr
    parent = next(line.split()[1] for line in result.stdout.splitlines() if line.startswith("parent "))
    child = next(line.split()[1] for line in result.stdout.splitlines() if line.startswith("pid "))
    assert receiver.wait_for(lambda r: SYSTEM | PROCESS <= r.metric_names())
    # The child sent its LLM telemetry, with its own pid, and no system metrics.
    assert receiver.wait_for(lambda r: any(m.resource.get("process.pid") == child and
                                           m.name == "gen_ai.client.operation.duration" for m in r.metrics()))
    senders = {m.resource.get("process.pid") for m in receiver.metrics() if m.name in SYSTEM | PROCESS}
    assert senders == {parent}
    assert all(s.resource["process.pid"] == child for s in _litellm_spans(receiver))
    # The user's resource attributes win over detection.
    assert {m.resource["host.name"] for m in receiver.metrics()} == {"given-host"}


def test_psutil_is_not_imported_where_system_metrics_do_not_run(receiver: Receiver) -> None:
    code = "import sys; print('psutil' in sys.modules, 'opentelemetry.instrumentation.system_metrics' in sys.modules)"
    # The main process starts them a second after its start (hook/system_metrics.py): with them on, it waits for that.
    wait = ("import time; from signoz_litellm_run.hook import system_metrics as m; end = time.monotonic() + 30\n"
            "while sys.argv[1:] == ['on'] and not m.started() and time.monotonic() < end: time.sleep(0.05)\n")
    parent = f"import subprocess, sys\n{wait}{code}\nsubprocess.run([sys.executable, '-c', {code!r}])"
    for option, expected in (("--system-metrics", "True True\nFalse False\n"),
                             ("--no-system-metrics", "False False\nFalse False\n")):
        result = launcher(["run", "--endpoint", receiver.endpoint("grpc"), option, "--", sys.executable, "-c", parent,
                           "on" if option == "--system-metrics" else "off"], env=clean_env())
        assert result.returncode == 0 and result.stdout == expected, (option, result.stdout, result.stderr)


def test_hints_name_keywords_and_differences_name_settings() -> None:
    from signoz_litellm_run.in_process import as_keywords, differences
    from signoz_litellm_run.settings import Settings

    assert as_keywords("Pass --region us (with SIGNOZ_INGESTION_KEY), --endpoint http://HOST:4317, or --local.") == \
        'Pass region="us" (with SIGNOZ_INGESTION_KEY), endpoint="http://HOST:4317", or local=True.'
    assert as_keywords("Use --no-system-metrics, not --frobnicate x.") == "Use system_metrics=False, not --frobnicate x."
    assert differences(Settings(ingestion_key="a" * 20, protocol="grpc"),
                       Settings(ingestion_key="b" * 20, protocol="http/protobuf")) == \
        ["ingestion_key differs", "protocol: 'grpc' before, 'http/protobuf' now"]


def test_resource_detection_reads_containers_kubernetes_and_clouds(tmp_path: Path) -> None:
    from signoz_litellm_run.hook import resource_detect

    cid = "a" * 24 + "0123456789abcdef" * 2 + "b" * 8
    cgroup, mountinfo, empty = tmp_path / "cgroup", tmp_path / "mountinfo", tmp_path / "empty"
    empty.write_text("0::/\n")
    cgroup.write_text(f"12:memory:/docker/{cid}\n0::/\n")
    assert resource_detect.container_id(str(cgroup), str(empty)) == cid
    cgroup.write_text(f"0::/system.slice/docker-{cid}.scope\n")
    assert resource_detect.container_id(str(cgroup), str(empty)) == cid
    mountinfo.write_text(f"1 2 0:3 /var/lib/docker/containers/{cid}/hostname /etc/hostname rw\n")
    assert resource_detect.container_id(str(empty), str(mountinfo)) == cid
    assert resource_detect.container_id(str(empty), str(empty)) is None
    assert resource_detect.container_id(str(tmp_path / "nope"), str(tmp_path / "nope")) is None

    k8s = resource_detect.detect({"KUBERNETES_SERVICE_HOST": "10.0.0.1", "HOSTNAME": "api-7d9-x2",
                                  "POD_NAMESPACE": "llm", "K8S_NODE_NAME": "node-3"})
    assert (k8s["k8s.pod.name"], k8s["k8s.namespace.name"], k8s["k8s.node.name"]) == ("api-7d9-x2", "llm", "node-3")
    assert not any(key.startswith("k8s.") for key in resource_detect.detect({"HOSTNAME": "laptop"}))
    aws = resource_detect.detect({"AWS_LAMBDA_FUNCTION_NAME": "handler", "AWS_REGION": "eu-west-1"})
    assert (aws["cloud.provider"], aws["cloud.platform"], aws["faas.name"], aws["cloud.region"]) == \
        ("aws", "aws_lambda", "handler", "eu-west-1")
    run = resource_detect.detect({"K_SERVICE": "svc", "K_REVISION": "svc-001"})
    assert (run["cloud.provider"], run["cloud.platform"], run["faas.version"]) == ("gcp", "gcp_cloud_run", "svc-001")
    # What the user set is left to the user; detected values are encoded as OTEL_RESOURCE_ATTRIBUTES wants.
    merged = resource_detect.merged({"OTEL_RESOURCE_ATTRIBUTES": "host.name=mine,team=a%2Cb", "OTEL_SERVICE_NAME": "s"})
    decoded = resource_detect.decode(merged)
    assert decoded["host.name"] == "mine" and decoded["team"] == "a,b" and "service.name" not in decoded
    assert merged.count("host.name=") == 1 and decoded["process.pid"].isdigit()


def test_init_report_counts_the_process_and_its_children(receiver: Receiver, fake_provider: FakeProvider,
                                                         tmp_path: Path) -> None:
    child = "import litellm, os; litellm.completion(model='openai/gpt-4o-mini', api_base=os.environ['FAKE_BASE_URL'], " \
            "api_key='sk-test', messages=[{'role': 'user', 'content': 'from the child'}])"
    report_file = tmp_path / "report.json"
    result = _init_app(receiver, fake_provider, {"report": True, "report_file": str(report_file),
                                                 "service_name": "reported"},
                       mode="child", extra_env={"CHILD_CODE": child})
    assert result.returncode == 0, result.stderr
    assert len(_settled(receiver, 3)) == 3  # the child process was instrumented with init()'s settings
    assert {s.resource["service.name"] for s in _litellm_spans(receiver)} == {"reported"}
    assert "signoz-litellm: telemetry report for reported ->" in result.stderr, result.stderr
    report = json.loads(report_file.read_text())
    assert report["processes"] == 2 and report["signals"]["traces"]["sent"] >= 3 and report["lost"] == 0
    assert report["llm"]["calls"] == 3


def test_sigterm_delivers_under_init(receiver: Receiver, fake_provider: FakeProvider) -> None:
    import signal

    env = clean_env({"FAKE_BASE_URL": fake_provider.base_url, "MODE": "wait",
                     "INIT_KWARGS": json.dumps({"endpoint": receiver.endpoint("grpc")}),
                     "OTEL_BSP_SCHEDULE_DELAY": "60000"})  # only a flush sends the spans
    process = subprocess.Popen([sys.executable, app("init_app.py")], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.strip() == "ready":
                break
        assert not _litellm_spans(receiver)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == -signal.SIGTERM  # dies of the signal, as without telemetry
    finally:
        process.kill()
    assert len(_settled(receiver, 2)) == 2


def test_an_unreachable_endpoint_is_counted_and_the_program_runs_on(fake_provider: FakeProvider) -> None:
    from signoz_litellm_run.loopback import unused_port

    env = clean_env({"FAKE_BASE_URL": fake_provider.base_url,
                     "INIT_KWARGS": json.dumps({"endpoint": f"http://127.0.0.1:{unused_port()}"})})
    result = _python([app("init_app.py")], env)
    assert result.returncode == 0, result.stderr
    assert "signoz-litellm: warning: could not deliver" in result.stderr and "Traceback" not in result.stderr


def test_a_provider_that_takes_no_processors_is_named_with_the_fix(receiver: Receiver,
                                                                  fake_provider: FakeProvider) -> None:
    result = _init_app(receiver, fake_provider, mode="foreign_provider")
    assert result.returncode == 0, result.stderr
    assert "the application's own tracer provider (Foreign) takes no span processors, so the traces made through " \
           "it do not also go to SigNoz. Call signoz_litellm_run.init() before" in result.stderr, result.stderr
    # Metrics and logs still go; the HTTP client spans, made through the program's provider, do not.
    assert receiver.wait_for(lambda r: "gen_ai.client.operation.duration" in r.metric_names())
    assert receiver.wait_for(lambda r: any("init app finished" in str(l.body) for l in r.log_records()))
    assert not [s for s in receiver.spans() if s.scope.startswith("opentelemetry.instrumentation.httpx")]
