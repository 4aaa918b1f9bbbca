"""`run --local`: the embedded receiver, the report, exit status and signals, and the quickstart demo.

End-to-end tests run the real launcher (`python -m signoz_litellm_run run --local ...`), which runs a real
LiteLLM program against the fake provider; the numbers the report prints are compared with the calls
the program made, and with the report rebuilt from the `--local-output` file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from signoz_litellm_run.launcher import shell_status
from signoz_litellm_run.local import local_base_environment, local_settings
from signoz_litellm_run.local_report import build_report, percentile, read_jsonl
from signoz_litellm_run.received import SpanRecord
from signoz_litellm_run.settings import resolve
from tests.support.fake_provider import FakeProvider
from tests.support.litellm_release import HAS_GENAI_METRICS, RECORDS_EXCEPTIONS

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk-local-mode-secret-key-0123456789"
REPLY_WORDS = 5  # the fake provider's default reply, "Hello from the fake provider."


def launcher_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SIGNOZ_"))}
    env.pop("OPENAI_API_KEY", None)
    env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", COLUMNS="200", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def run_local(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "signoz_litellm_run", "run", "--local", *args], env=env,
                          cwd=cwd, capture_output=True, text=True, timeout=timeout)


def model_row(text: str, model: str) -> list[str]:
    """The printed row of `model` in the per-model table: calls, errors, in, out, total, cost."""
    for line in text.splitlines():
        cells = line.split()
        if cells and cells[0] == model and len(cells) >= 7 and cells[1].isdigit():
            return cells[1:7]
    raise AssertionError(f"no row for {model} in:\n{text}")


# --------------------------------------------------------------------------------------------- pure parts


def span(model: str | None, ms: float, *, error: str | None = None, tokens: tuple[int, int] | None = None,
         cost: float | None = None, name: str = "litellm_request", event_error: bool = False) -> SpanRecord:
    attributes: dict[str, object] = {}
    if model:
        attributes["gen_ai.request.model"] = model
    if tokens:
        attributes.update({"gen_ai.usage.input_tokens": tokens[0], "gen_ai.usage.output_tokens": tokens[1],
                           "gen_ai.usage.total_tokens": sum(tokens)})
    if cost is not None:
        attributes["gen_ai.cost.total_cost"] = cost
    events = [("exception", {"exception.message": error})] if error and event_error else []
    return SpanRecord(name=name, trace_id="ab" * 16, span_id="cd" * 8, parent_span_id="", kind=1,
                      status_code=2 if error else 0, status_message="" if event_error else (error or ""),
                      start_time_unix_nano=1_000_000_000, end_time_unix_nano=1_000_000_000 + int(ms * 1e6),
                      attributes=attributes, resource={}, scope="litellm", events=events)


def test_build_report_counts_per_model() -> None:
    spans = [
        span("a", 10, tokens=(3, 5), cost=0.001),
        span("a", 30, tokens=(4, 5), cost=0.002),
        span("a", 20, error="boom 500"),
        span("b", 400, tokens=(10, 1)),
        span("b", 100, error="rate limited", event_error=True),
        span(None, 5, tokens=(1, 1)),
        span("a", 999, name="raw_gen_ai_request"),  # not a call
        span(None, 7, name="POST"),
    ]
    report = build_report(spans, log_records=3, metrics=2, metric_points=9, slowest=2)
    stats = {m.model: m for m in report.models}
    assert [m.model for m in report.models] == ["a", "b", "(unknown model)"]
    a, b = stats["a"], stats["b"]
    assert (a.calls, a.errors, a.input_tokens, a.output_tokens, a.total_tokens) == (3, 1, 7, 10, 17)
    assert a.cost == pytest.approx(0.003) and b.cost is None
    assert (a.p50_ms, a.p95_ms) == (20, 30)
    assert (b.calls, b.errors, b.total_tokens, b.p50_ms, b.p95_ms) == (2, 1, 11, 100, 400)
    assert (report.calls, report.errors, report.spans) == (6, 2, 8)
    assert [c.duration_ms for c in report.slowest] == [400, 30]  # successful calls only
    assert [(c.model, c.error) for c in report.failures] == [("a", "boom 500"), ("b", "rate limited")]
    assert report.span_names == {"litellm_request": 6, "POST": 1, "raw_gen_ai_request": 1}
    data = json.loads(json.dumps(report.to_dict()))
    assert data["calls"] == 6 and data["models"][0]["model"] == "a" and data["metric_points"] == 9


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 50) == 0
    assert percentile([7], 95) == 7
    values = list(range(1, 101))
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 100)) == (50, 95, 100)
    assert percentile([3, 1, 2], 50) == 2


def test_local_environment_drops_other_destinations(tmp_path: Path) -> None:
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": "https://x:4317", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://y",
               "OTEL_EXPORTER_OTLP_HEADERS": f"signoz-ingestion-key={KEY}", "OTEL_EXPORTER_OTLP_TIMEOUT": "5",
               "OTEL_SERVICE_NAME": "svc", "PATH": "/bin"}
    assert local_base_environment(environ) == {"OTEL_EXPORTER_OTLP_TIMEOUT": "5", "OTEL_SERVICE_NAME": "svc",
                                               "PATH": "/bin"}
    settings = resolve({"region": "us", "local": True}, {"SIGNOZ_INGESTION_KEY": KEY}, tmp_path, ["python", "a.py"])
    local = local_settings(settings, "http://127.0.0.1:4999")
    assert (local.endpoint, local.region, local.ingestion_key, local.local) == (
        "http://127.0.0.1:4999", None, None, True)
    assert settings.ingestion_key == KEY and settings.endpoint.startswith("https://ingest.us")  # not mutated
    assert (shell_status(0), shell_status(5), shell_status(-15), shell_status(-2)) == (0, 5, 143, 130)


# --------------------------------------------------------------------------------------------- end to end

APP = textwrap.dedent("""
    import asyncio, logging, os, sys
    import litellm

    litellm.suppress_debug_info = True  # LiteLLM prints "Give Feedback / Get Help" on stdout on errors
    base = dict(api_base=os.environ["FAKE_BASE"], api_key="sk-fake", num_retries=0)
    mini, big = "openai/gpt-4o-mini", "openai/gpt-4o"
    for prompt in {plain!r}:
        litellm.completion(model=mini, messages=[{{"role": "user", "content": prompt}}], **base)
    for prompt in {stream!r}:
        for _ in litellm.completion(model=mini, messages=[{{"role": "user", "content": prompt}}], stream=True,
                                    stream_options={{"include_usage": True}}, **base):
            pass
    try:
        litellm.completion(model=mini, messages=[{{"role": "user", "content": "please FAIL"}}], **base)
    except Exception as exc:
        print("failed:", type(exc).__name__)

    async def main():
        await asyncio.gather(*(litellm.acompletion(model=big, messages=[{{"role": "user", "content": p}}], **base)
                               for p in {async_!r}))

    asyncio.run(main())
    log = logging.getLogger("local-test")
    log.setLevel(logging.INFO)
    log.info("local-test log line")
    print("app done")
    sys.exit(5)
""")
PLAIN = ["one", "two words", "three words here"]
STREAM = ["stream this", "and stream that now"]
ASYNC = ["async one", "async number two"]


def words(prompts: list[str]) -> int:
    return sum(len(p.split()) for p in prompts)


def test_local_report_numbers_equal_the_calls_made(tmp_path: Path, fake_provider: FakeProvider) -> None:
    (tmp_path / "app.py").write_text(APP.format(plain=PLAIN, stream=STREAM, async_=ASYNC))
    output = tmp_path / "received.jsonl"
    env = launcher_env(
        tmp_path, FAKE_BASE=fake_provider.base_url, SIGNOZ_INGESTION_KEY=KEY,
        # a destination and a key the user's environment may hold: --local must not use or leak them
        OTEL_EXPORTER_OTLP_HEADERS=f"signoz-ingestion-key={KEY}",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://127.0.0.1:9/v1/traces",
    )
    result = run_local(["--local-output", str(output), "--", sys.executable, "app.py"], env, tmp_path)

    assert result.returncode == 5, result.stderr
    assert result.stdout == "failed: InternalServerError\napp done\n"  # the report stays off stdout

    mini_in, big_in = words(PLAIN) + words(STREAM), words(ASYNC)
    mini_out, big_out = REPLY_WORDS * (len(PLAIN) + len(STREAM)), REPLY_WORDS * len(ASYNC)
    expected = {
        "gpt-4o-mini": (len(PLAIN) + len(STREAM) + 1, 1, mini_in, mini_out, mini_in + mini_out),
        "gpt-4o": (len(ASYNC), 0, big_in, big_out, big_in + big_out),
    }
    report = read_jsonl(output.read_text().splitlines())
    stats = {m.model: m for m in report.models}
    assert set(stats) == set(expected)
    for model, numbers in expected.items():
        m = stats[model]
        assert (m.calls, m.errors, m.input_tokens, m.output_tokens, m.total_tokens) == numbers, model
        assert m.cost and m.cost > 0 and 0 < m.p50_ms <= m.p95_ms
        printed = model_row(result.stderr, model)
        assert [int(x) for x in printed[:5]] == list(numbers), printed
        assert printed[5] == f"${m.cost:.6f}"
    assert report.calls - report.errors == fake_provider.calls  # every answered call is in the report
    assert [f.model for f in report.failures] == ["gpt-4o-mini"]
    if RECORDS_EXCEPTIONS:  # up to LiteLLM 1.78 a failed call's span has no error text: the report says "error"
        assert "fake provider failure (500)" in report.failures[0].error
        assert "fake provider failure (500)" in result.stderr
    assert f"LiteLLM calls: {report.calls}, failed: 1" in result.stderr
    assert "Slowest calls" in result.stderr and "Failed calls" in result.stderr
    assert f"Received: {report.spans} spans" in result.stderr
    assert f"{report.log_records} log records" in result.stderr and report.log_records >= 1
    assert "local-test log line" in output.read_text()
    assert report.metrics >= 1
    assert "gen_ai.client.token.usage" in output.read_text() or not HAS_GENAI_METRICS  # none in LiteLLM 1.75

    everything = output.read_text() + result.stdout + result.stderr
    assert KEY not in everything
    for line in output.read_text().splitlines():
        request = json.loads(line)
        assert "signoz-ingestion-key" not in request["headers"]


REPORT_APP = textwrap.dedent("""
    import logging, os, subprocess, sys
    import litellm

    base = dict(api_base=os.environ["FAKE_BASE"], api_key="sk-fake", num_retries=0)
    call = "import litellm, os; litellm.completion(model='openai/gpt-4o', messages=[{'role': 'user', 'content': 'hi'}], "
    call += "api_base=os.environ['FAKE_BASE'], api_key='sk-fake')"
    subprocess.run([sys.executable, "-c", call], check=True)  # a second Python process of the job
    for prompt in ("one", "two words"):
        litellm.completion(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": prompt}], **base)
    logging.getLogger("report-test").warning("one log record")
    print("app done")
""")


def test_report_file_holds_the_jobs_delivery_report(tmp_path: Path, fake_provider: FakeProvider) -> None:
    """`--local --report-file`: the same JSON as without --local, its counts those of what the embedded receiver got
    (from every Python process of the job); `--report` prints the same one line too."""
    (tmp_path / "app.py").write_text(REPORT_APP)
    report_file, output = tmp_path / "out" / "report.json", tmp_path / "received.jsonl"
    job_dirs = tmp_path / "tmp"  # where the launcher makes the job's directory
    job_dirs.mkdir()
    env = launcher_env(tmp_path, FAKE_BASE=fake_provider.base_url, TMPDIR=str(job_dirs))
    result = run_local(["--report", "--report-file", str(report_file), "--local-output", str(output), "--",
                        sys.executable, "app.py"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "app done\n"
    assert fake_provider.calls == 3

    report = json.loads(report_file.read_text())
    received = [json.loads(line) for line in output.read_text().splitlines()]
    got = read_jsonl(output.read_text().splitlines())
    assert report["signals"] == {
        "traces": {"sent": got.spans, "failed": 0, "dropped": 0},
        "logs": {"sent": got.log_records, "failed": 0, "dropped": 0},
        "metrics": {"sent": sum(1 for r in received if r["signal"] == "metrics"), "failed": 0, "dropped": 0},
    }
    assert got.spans >= 3 and got.log_records >= 1
    assert report["processes"] == 2 and report["lost"] == 0 and report["error"] is None
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", report["endpoint"]) and report["protocol"] == "http/protobuf"
    assert report["service_name"] == "app"
    assert (report["llm"]["calls"], report["llm"]["failed"]) == (3, 0)
    assert {m: c["calls"] for m, c in report["llm"]["models"].items()} == {"gpt-4o": 1, "gpt-4o-mini": 2}
    summary = [line for line in result.stderr.splitlines() if line.startswith("signoz-litellm: telemetry report")]
    assert len(summary) == 1 and f"spans {got.spans} sent, 0 failed, 0 dropped" in summary[0]
    assert "LiteLLM calls: 3, failed: 0" in result.stderr  # the receiver's report, as before
    assert not list(job_dirs.iterdir())  # the job's directory is gone


SIGNAL_APP = textwrap.dedent("""
    import faulthandler, os, signal, sys, threading, time
    faulthandler.register(signal.SIGUSR2, all_threads=True)  # the test asks for every thread's stack if it hangs
    import litellm
    from opentelemetry import trace
    from opentelemetry.sdk.trace import SpanProcessor

    ended = threading.Event()

    class CallEnded(SpanProcessor):  # LiteLLM ends the call's span on a worker thread, after the call
        def on_end(self, span):
            if span.name == "litellm_request":
                ended.set()

    trace.get_tracer_provider().add_span_processor(CallEnded())

    def on_term(signum, frame):
        print("child got SIGTERM", flush=True)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_term)
    litellm.completion(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
                       api_base=os.environ["FAKE_BASE"], api_key="sk-fake")
    ended.wait(30)
    trace.get_tracer_provider().force_flush()
    print("ready", flush=True)
    time.sleep(60)
    print("not killed", flush=True)
""")


def test_sigterm_reaches_the_command_and_the_status_is_its_own(tmp_path: Path, fake_provider: FakeProvider) -> None:
    """Also the HTTP/protobuf side of the embedded receiver (the other tests use gRPC, the default)."""
    (tmp_path / "app.py").write_text(SIGNAL_APP)
    env = launcher_env(tmp_path, FAKE_BASE=fake_provider.base_url)
    proc = subprocess.Popen([sys.executable, "-m", "signoz_litellm_run", "run", "--local", "--protocol",
                             "http/protobuf", "--", sys.executable, "app.py"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGTERM)  # to the launcher only, as `kill PID`, docker stop or a CI cancel
        try:
            stdout, stderr = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(_hang_report(proc))
    finally:
        if proc.poll() is None:
            proc.kill()
    assert stdout == "child got SIGTERM\n"
    assert proc.returncode == -signal.SIGTERM  # as if the command itself had been run: a shell shows 143
    assert model_row(stderr, "gpt-4o-mini")[:2] == ["1", "0"]


def _hang_report(launcher: subprocess.Popen[str]) -> str:
    """What a launcher that did not end, and its command, were doing: each of the command's threads as the kernel
    sees it (a command that died of the signal but has a thread left is a zombie its parent cannot reap yet), their
    Python stacks (the app registers faulthandler on SIGUSR2) and what both wrote; both are killed."""
    found = subprocess.run(["ps", "--ppid", str(launcher.pid), "-o", "pid=,stat=,wchan:20=,args="],
                           capture_output=True, text=True).stdout
    commands = [int(line.split()[0]) for line in found.splitlines() if line.strip()]
    threads = "".join(_kernel_threads(pid) for pid in (launcher.pid, *commands))
    for signum in (signal.SIGUSR2, signal.SIGKILL):
        for pid in commands:
            with contextlib.suppress(ProcessLookupError):  # gone meanwhile
                os.kill(pid, signum)
        time.sleep(1 if signum == signal.SIGUSR2 else 0)
    launcher.kill()
    stdout, stderr = launcher.communicate(timeout=10)
    return (f"the launcher did not end within 60 s of SIGTERM; its command: {found or 'gone'}\n"
            f"threads (pid/tid, state, name, where the kernel has them):\n{threads}"
            f"stdout: {stdout!r}\nstderr:\n{stderr[-6000:]}")


def _kernel_threads(pid: int) -> str:
    """Each thread of `pid`: state, name, wait channel and kernel stack (Linux /proc; the stack needs root)."""
    def read(path: Path) -> str:
        try:
            return path.read_text().strip()
        except OSError:  # the thread or process ended meanwhile, or no permission
            return "?"

    lines = []
    for task in sorted(Path(f"/proc/{pid}/task").glob("*")):
        state = read(task / "stat").rsplit(")", 1)[-1].split()[:1]
        stack = " <- ".join(line.split()[-1] for line in read(task / "stack").splitlines()[:8])
        lines.append(f"  {pid}/{task.name} {''.join(state) or '?'} {read(task / 'comm')!r} "
                     f"wchan={read(task / 'wchan')} {stack}\n")
    return "".join(lines)


def _signal_thread(pid: int, tid: int, signum: int) -> None:
    """tgkill(2): a process-directed signal as the kernel may deliver it, to one given thread."""
    import ctypes
    import platform

    libc = ctypes.CDLL(None, use_errno=True)
    if hasattr(libc, "tgkill"):
        result = libc.tgkill(pid, tid, signum)
    else:
        result = libc.syscall({"x86_64": 234, "aarch64": 131}[platform.machine()], pid, tid, signum)
    assert result == 0, os.strerror(ctypes.get_errno())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="tgkill and /proc/PID/task are Linux's")
def test_sigterm_is_passed_on_whichever_launcher_thread_the_kernel_gives_it(
        tmp_path: Path, fake_provider: FakeProvider) -> None:
    """`kill PID` may land on any thread of the launcher (here the embedded receiver's): the command must still
    get it at once, not when it ends by itself."""
    (tmp_path / "app.py").write_text(SIGNAL_APP)
    env = launcher_env(tmp_path, FAKE_BASE=fake_provider.base_url)
    proc = subprocess.Popen([sys.executable, "-m", "signoz_litellm_run", "run", "--local", "--protocol",
                             "http/protobuf", "--", sys.executable, "app.py"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        others = [int(t) for t in os.listdir(f"/proc/{proc.pid}/task") if int(t) != proc.pid]
        assert others, "the --local launcher runs its receiver on threads of its own"
        _signal_thread(proc.pid, others[-1], signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=30)  # the command sleeps 60 s unless it gets the signal
    finally:
        if proc.poll() is None:
            proc.kill()
    assert stdout == "child got SIGTERM\n"
    assert proc.returncode == -signal.SIGTERM


def test_exit_statuses_as_a_shell_sees_them(tmp_path: Path) -> None:
    env = launcher_env(tmp_path)
    script = ('"$@" -c "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"; echo "killed=$?"; '
              '"$@" -c "import sys; sys.exit(5)"; echo "exit=$?"')
    cmd = [sys.executable, "-m", "signoz_litellm_run", "run", "--local", "--", sys.executable]
    result = subprocess.run(["bash", "-c", script, "bash", *cmd], env=env, cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.stdout == "killed=143\nexit=5\n", result.stderr
    assert result.stderr.count("No LiteLLM calls were seen") == 2  # the report prints after a signal too


def test_command_errors_are_those_of_exec_mode(tmp_path: Path) -> None:
    script = tmp_path / "not-executable.sh"
    script.write_text("echo hi\n")
    env = launcher_env(tmp_path)
    for command, status in (("no-such-command-xyz", 127), (str(script), 126)):
        results = [subprocess.run([sys.executable, "-m", "signoz_litellm_run", "run", *mode, "--", command],
                                  env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
                   for mode in (["--local"], ["--endpoint", "http://127.0.0.1:4317"])]
        assert [r.returncode for r in results] == [status, status]
        assert results[0].stderr == results[1].stderr and "error:" in results[0].stderr


def test_quickstart_demo_runs_offline(tmp_path: Path) -> None:
    """The core of `bash scripts/demo`, the README's first command: no account, no provider key."""
    env = launcher_env(tmp_path)
    result = run_local(["--", sys.executable, str(ROOT / "examples" / "quickstart.py")], env, ROOT)
    assert result.returncode == 0, result.stderr
    assert "offline, mock responses" in result.stdout and "failed call, as planned" in result.stdout
    calls, errors = (int(x) for x in model_row(result.stderr, "gpt-4o-mini")[:2])
    # plain, streaming, two async (delivered by the hook's asyncio drain) and the failing call
    assert calls == 5 and errors == 1, result.stderr
    assert re.search(r"Received: \d+ spans .*[1-9]\d* log records, [1-9]\d* metrics", result.stderr)


CTRL_C_APP = textwrap.dedent("""
    import signal, time
    received = []
    signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    print("ready", flush=True)
    while not received:
        time.sleep(0.01)
    time.sleep(1.0)  # room for a second, duplicated SIGINT to arrive
    print(f"sigint={len(received)}", flush=True)
""")


def test_ctrl_c_on_a_terminal_reaches_the_command_once(tmp_path: Path) -> None:
    """Ctrl-C goes to the terminal's whole foreground group: the launcher must not add a second one."""
    import pty

    (tmp_path / "app.py").write_text(CTRL_C_APP)
    argv = [sys.executable, "-m", "signoz_litellm_run", "run", "--local", "--", sys.executable, "app.py"]
    env = launcher_env(tmp_path)
    pid, master = pty.fork()
    if pid == 0:  # the child: session leader with the pty as its controlling terminal, in the foreground
        try:
            os.chdir(tmp_path)
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    output = b""
    try:
        deadline = time.monotonic() + 60
        while b"ready" not in output and time.monotonic() < deadline:
            output += os.read(master, 4096)
        os.write(master, b"\x03")  # the terminal's interrupt key
        while time.monotonic() < deadline:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the other side closed
                break
            if not chunk:
                break
            output += chunk
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(master)
    text = output.decode(errors="replace")
    assert "sigint=1" in text, text
    assert os.waitstatus_to_exitcode(status) == 0
    assert "No LiteLLM calls were seen" in text


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_the_command_inherits_what_exec_would_give_it(tmp_path: Path) -> None:
    """Open descriptors the caller passes (e.g. `3>file`) and signal dispositions are those of exec mode."""
    env = launcher_env(tmp_path)
    probe = "ls /proc/self/fd | sort -n | tr '\\n' ' '; echo; grep SigIgn /proc/self/status"
    read_end, write_end = os.pipe()
    os.set_inheritable(write_end, True)
    try:
        outputs = [subprocess.run([sys.executable, "-m", "signoz_litellm_run", "run", *mode, "--", "bash", "-c", probe],
                                  env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
                                  pass_fds=(write_end,)).stdout.splitlines()
                   for mode in (["--local"], ["--endpoint", "http://127.0.0.1:4317"])]
    finally:
        os.close(read_end)
        os.close(write_end)
    (local_fds, local_ignored), (exec_fds, exec_ignored) = outputs
    assert str(write_end) in local_fds.split() and local_fds == exec_fds
    # No signal is ignored in the command that exec mode does not ignore too.
    assert int(local_ignored.split()[1], 16) & ~int(exec_ignored.split()[1], 16) == 0


def test_local_from_the_environment_needs_no_destination_or_key(tmp_path: Path) -> None:
    env = launcher_env(tmp_path, SIGNOZ_LOCAL="true", SIGNOZ_REGION="us")  # Cloud region, and no key
    result = subprocess.run([sys.executable, "-m", "signoz_litellm_run", "run", "--", sys.executable, "-c",
                             "import os; print(os.environ['OTEL_EXPORTER_OTLP_ENDPOINT'])"],
                            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+\n", result.stdout)
    assert "No LiteLLM calls were seen" in result.stderr
