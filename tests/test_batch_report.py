"""The job report: one report for every Python process of a job, Pythons without signoz-litellm named,
--fail-on-telemetry-loss, CI attributes and step summary, failed calls per model, uvicorn's graceful shutdown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from signoz_litellm_run.loopback import unused_port
from signoz_litellm_run.receiver import Receiver
from tests.support.batch_jobs import APP, CI_VARS, llm_spans, run_job, settle, summary_lines
from tests.support.fake_provider import FakeProvider

# A job of a few seconds can take a minute on a loaded machine (the suite's other workers, scripts/stress-test's
# CPU burners): run_job's guard only catches a hang, and this bound sits above it.
pytestmark = pytest.mark.timeout(300)


# --------------------------------------------------------------------------------------------- whole jobs
# The report and --fail-on-telemetry-loss cover every Python process of the job, whatever starts them.

TWO_APPS_FROM_PYTHON = [sys.executable, "-c", "import subprocess, sys; "
                        f"[subprocess.run([sys.executable, {APP!r}], check=True) for _ in range(2)]"]
TWO_APPS_FROM_A_SHELL = ["bash", "-c", f"{sys.executable} {APP} && {sys.executable} {APP}"]


@pytest.mark.parametrize("command", [TWO_APPS_FROM_PYTHON, TWO_APPS_FROM_A_SHELL], ids=["python", "shell"])
def test_one_report_counts_every_python_process_of_the_job(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path, command: list[str]) -> None:
    job = run_job(receiver.grpc_endpoint, fake_provider, args=("--report",), report_in=tmp_path,
                  app_env={"CALLS": "3", "TMPDIR": str(tmp_path)}, command=command)
    assert job.returncode == 0, job.stderr
    assert not list(tmp_path.glob("signoz-litellm-job-*"))  # the reporter removed the job's directory
    settle(receiver, 6)
    assert len(llm_spans(receiver)) == 6
    report = job.report
    python_processes = 3 if command is TWO_APPS_FROM_PYTHON else 2
    assert report["processes"] == python_processes
    assert report["signals"]["traces"] == {"sent": len(receiver.spans()), "failed": 0, "dropped": 0}
    assert report["signals"]["logs"]["sent"] == len(receiver.log_records())
    assert report["signals"]["metrics"]["sent"] == len([r for r in receiver.requests if r.signal == "metrics"])
    [line] = summary_lines(job)
    assert f"spans {len(receiver.spans())} sent, 0 failed, 0 dropped" in line
    assert f"({python_processes} processes)" in line
    # The job's LLM calls, summed over its processes, are what their spans say.
    spans = llm_spans(receiver)
    llm = report["llm"]
    assert (llm["calls"], llm["failed"], llm["calls_without_cost"]) == (6, 0, 0)
    assert llm["input_tokens"] == sum(s.attributes["gen_ai.usage.input_tokens"] for s in spans) > 0
    assert llm["output_tokens"] == sum(s.attributes["gen_ai.usage.output_tokens"] for s in spans) > 0
    assert llm["cost_usd"] > 0
    assert llm["cost_usd"] == pytest.approx(sum(s.attributes["gen_ai.cost.total_cost"] for s in spans))
    assert list(llm["models"]) == ["gpt-4o-mini"]


def test_a_job_that_runs_no_python_says_so(receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path) -> None:
    job = run_job(receiver.grpc_endpoint, fake_provider, args=("--report",), report_in=tmp_path,
                  command=["bash", "-c", "echo no python here; exit 7"])
    assert job.returncode == 7, job.stderr  # the command's own status
    [line] = summary_lines(job)
    assert "no process of the job sent telemetry" in line
    assert job.report["processes"] == 0


@pytest.fixture(scope="module")
def python_without_us(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The interpreter of a fresh virtual environment with nothing installed: signoz-litellm cannot load there."""
    where = tmp_path_factory.mktemp("venv-without-signoz-litellm")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = str(where / "bin" / "python")
    probe = subprocess.run([python, "-c", "import signoz_litellm_run"], cwd=where, capture_output=True)
    assert probe.returncode != 0, "the fresh environment can import signoz_litellm_run"
    return python


@pytest.mark.parametrize("where", ["elsewhere", "project"])
def test_a_python_without_signoz_litellm_is_named_in_the_report(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path, python_without_us: str, where: str) -> None:
    """The command's Python is not the one signoz-litellm is installed in: the top-level process (exec'd, same
    pid) still reports for the job, and says why nothing was sent. Run from elsewhere, our package cannot be
    imported there; from the project's directory (on the command's PYTHONPATH) it can, but OpenTelemetry cannot."""
    job = run_job(receiver.grpc_endpoint, fake_provider, args=("--report",), report_in=tmp_path / "reports",  # made
                  app_env={"TMPDIR": str(tmp_path)}, command=[python_without_us, "-c", "print('hi')"],
                  cwd=tmp_path if where == "elsewhere" else None)
    assert job.returncode == 0, job.stderr
    assert job.stdout == "hi\n"
    if where == "elsewhere":  # the process's own line names the fix
        assert (f"signoz-litellm: telemetry is off in this process ({python_without_us}): No module named "
                f"'signoz_litellm_run'. Install signoz-litellm there ({python_without_us} -m pip install "
                "signoz-litellm)") in job.stderr, job.stderr
    else:
        assert "signoz-litellm: telemetry could not start in this process: ModuleNotFoundError" in job.stderr
    [line] = summary_lines(job)
    cause = "No module named 'signoz_litellm_run'" if where == "elsewhere" else "No module named 'opentelemetry'"
    assert f"no process of the job sent telemetry: telemetry could not start in 1 Python process ({python_without_us}: " \
        in line, line
    assert cause in line, line
    report = job.report
    assert (report["processes"], report["processes_without_telemetry"]) == (0, 1)
    assert report["without_telemetry_reason"].startswith(python_without_us) and cause in report["without_telemetry_reason"]
    assert not list(tmp_path.glob("signoz-litellm-job-*"))  # the reporter removed the job's directory


def test_fail_on_telemetry_loss_fails_a_job_in_which_no_python_could_send(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path, python_without_us: str) -> None:
    job = run_job(receiver.grpc_endpoint, fake_provider, args=("--fail-on-telemetry-loss",),
                  command=[python_without_us, "-c", "pass"], cwd=tmp_path)
    assert job.returncode == 3, job.stderr
    assert "no Python process of the job could send telemetry" in job.stderr
    # One Python of the job without telemetry, one with: the job is reported, not failed (a helper script run
    # by the system's Python is not an LLM job), and the calls of the one with telemetry arrive.
    job = run_job(receiver.grpc_endpoint, fake_provider, args=("--fail-on-telemetry-loss", "--report"),
                  app_env={"CALLS": "2"}, command=["bash", "-c", f"{python_without_us} -c pass && {sys.executable} {APP}"],
                  cwd=tmp_path)
    assert job.returncode == 0, job.stderr
    [line] = summary_lines(job)
    assert "spans 4 sent, 0 failed, 0 dropped" in line, line  # two calls: litellm_request + its HTTP span each
    assert f"Telemetry could not start in 1 other Python process ({python_without_us}: " in line, line
    settle(receiver, 2)
    assert len(llm_spans(receiver)) == 2


def test_python_options_that_keep_telemetry_from_starting_are_named(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path) -> None:
    """`python -I` (or -E, -S) never reads our sitecustomize: said at once, reported, and failed on request."""
    job = run_job(receiver.grpc_endpoint, fake_provider, report_in=tmp_path,
                  app_env={"CALLS": "1"}, command=[sys.executable, "-I", APP])
    assert job.returncode == 0, job.stderr
    assert "done 0" in job.stdout
    assert [line for line in job.warning_lines() if "python -I isolates Python from PYTHONPATH" in line], job.stderr
    report = job.report
    assert (report["processes"], report["processes_without_telemetry"]) == (0, 1)
    assert report["without_telemetry_reason"] == f"{sys.executable} -I: telemetry cannot start"
    job = run_job(receiver.grpc_endpoint, fake_provider, args=("--fail-on-telemetry-loss",),
                  command=[sys.executable, "-S", "-c", "print('no site-packages either')"])
    assert job.returncode == 3, job.stderr
    assert f"no Python process of the job could send telemetry ({sys.executable} -S: telemetry cannot start)" \
        in job.stderr
    assert receiver.spans() == []


def test_fail_on_telemetry_loss_sees_the_loss_of_a_python_process_a_shell_started(
        receiver: Receiver, fake_provider: FakeProvider) -> None:
    receiver.behavior = "fail"
    job = run_job(receiver.grpc_endpoint, fake_provider, args=("--fail-on-telemetry-loss",), app_env={"CALLS": "1"},
                  command=["bash", "-c", f"{sys.executable} {APP}"])
    assert job.returncode == 3, job.stderr
    assert len(job.warning_lines()) == 1  # from the Python process that lost it


def test_a_report_does_not_cost_the_exec_of_a_python_command(receiver: Receiver, fake_provider: FakeProvider) -> None:
    """The launcher stays only when it must: a Python command is still exec'd (same pid) with --report."""
    env = {k: v for k, v in os.environ.items() if k not in CI_VARS and not k.startswith(("OTEL_", "SIGNOZ_"))}
    for command, same_pid in (([sys.executable, "-c", "import os; print(os.getpid())"], True),
                              (["bash", "-c", "echo $$"], False)):
        proc = subprocess.Popen([sys.executable, "-m", "signoz_litellm_run", "run", "--no-bootstrap", "--report",
                                 "--endpoint", receiver.grpc_endpoint, "--", *command],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert (int(out.split()[-1]) == proc.pid) is same_pid, (command, out, proc.pid)
        assert len([line for line in err.splitlines() if "telemetry report" in line]) == 1, err


# --------------------------------------------------------------------------------------------- CI


def test_github_actions_run_gets_ci_attributes_and_a_step_summary(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    github = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_WORKFLOW": "nightly-eval",
              "GITHUB_RUN_ID": "4242", "GITHUB_REPOSITORY": "acme/evals", "GITHUB_SERVER_URL": "https://github.com",
              "GITHUB_REF_NAME": "main", "GITHUB_SHA": "abc123", "OTEL_RESOURCE_ATTRIBUTES": "vcs.ref.head.name=mine"}
    job = run_job(receiver.grpc_endpoint, fake_provider, app_env={"CALLS": "1", **github})
    assert job.returncode == 0, job.stderr
    assert any("telemetry report" in line for line in job.stderr.splitlines())  # on by default in CI
    settle(receiver, 1)
    resource = llm_spans(receiver)[0].resource
    assert resource["cicd.pipeline.name"] == "nightly-eval"
    assert resource["cicd.pipeline.run.id"] == "4242"
    assert resource["vcs.repository.url.full"] == "https://github.com/acme/evals"
    assert resource["vcs.ref.head.revision"] == "abc123"
    assert resource["vcs.ref.head.name"] == "mine"  # the user's attribute wins
    text = summary.read_text()
    assert "SigNoz telemetry" in text and "| spans |" in text and "all telemetry delivered" in text
    assert "| `gpt-4o-mini` | 1 | 0 |" in text, text  # the run's LLM calls, per model


def test_the_report_counts_failed_llm_calls_per_model(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path) -> None:
    app = tmp_path / "mixed.py"
    app.write_text(
        "import os, litellm\n"
        "args = {'api_base': os.environ['FAKE_BASE'], 'api_key': 'sk-fake', 'num_retries': 0}\n"
        "for text in ('one', 'FAIL', 'two'):\n"
        "    try:\n"
        "        litellm.completion(model='openai/gpt-4o-mini', messages=[{'role': 'user', 'content': text}], **args)\n"
        "    except Exception:\n"
        "        print('failed as planned')\n"
        "litellm.embedding(model='openai/text-embedding-3-small', input=['a b c'], **args)\n")
    summary = tmp_path / "summary.md"
    job = run_job(receiver.grpc_endpoint, fake_provider, report_in=tmp_path,
                  app_env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)},
                  command=[sys.executable, str(app)])
    assert job.returncode == 0, job.stderr
    assert "failed as planned" in job.stdout
    llm = job.report["llm"]
    assert {m: (c["calls"], c["failed"]) for m, c in llm["models"].items()} == {
        "gpt-4o-mini": (3, 1), "text-embedding-3-small": (1, 0)}
    assert (llm["calls"], llm["failed"]) == (4, 1)
    settle(receiver, 4)
    spans = llm_spans(receiver)
    assert llm["input_tokens"] == sum(s.attributes.get("gen_ai.usage.input_tokens", 0) for s in spans)
    text = summary.read_text()
    assert "| `gpt-4o-mini` | 3 | 1 |" in text and "| **all** | 4 | 1 |" in text, text


def test_uvicorn_graceful_shutdown_still_works_and_delivers(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path) -> None:
    """uvicorn (the LiteLLM proxy's server) installs its own SIGTERM handler, shuts down gracefully,
    restores the previous handler and raises the signal again: all of it must keep working."""
    pytest.importorskip("uvicorn")
    import urllib.request

    (tmp_path / "asgi_app.py").write_text(
        "import os, litellm\n"
        "async def app(scope, receive, send):\n"
        "    if scope['type'] != 'http':\n"
        "        return\n"
        "    await litellm.acompletion(model='openai/gpt-4o-mini', api_base=os.environ['FAKE_BASE'],\n"
        "                              api_key='sk-fake', messages=[{'role': 'user', 'content': 'hi'}])\n"
        "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        "    await send({'type': 'http.response.body', 'body': b'ok'})\n")
    port = unused_port()
    env = {k: v for k, v in os.environ.items() if k not in CI_VARS and not k.startswith(("OTEL_", "SIGNOZ_"))}
    env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", FAKE_BASE=fake_provider.base_url, SIGNOZ_BOOTSTRAP="false")
    proc = subprocess.Popen(
        [sys.executable, "-m", "signoz_litellm_run", "run", "--endpoint", receiver.grpc_endpoint, "--", sys.executable,
         "-m", "uvicorn", "asgi_app:app", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, proc.stderr and proc.stderr.read()
                time.sleep(0.2)
        for _ in range(3):
            assert urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read() == b"ok"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Application shutdown complete" in err  # uvicorn's own graceful shutdown ran
    assert proc.returncode == -signal.SIGTERM  # as without the launcher: uvicorn re-raises the signal
    settle(receiver, 4)
    assert len(llm_spans(receiver)) == 4
