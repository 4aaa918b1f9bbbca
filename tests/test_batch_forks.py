"""Batch jobs with multiprocessing pools and forks: workers' spans delivered and counted, a worker signalled
on another thread, children forked next to exports, calls whose logging LiteLLM dropped counted as lost."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from pathlib import Path

import pytest

from signoz_litellm_run.loopback import SilentServer
from signoz_litellm_run.receiver import Receiver
from tests.support.batch_jobs import llm_spans, run_job, settle, write_app
from tests.support.fake_provider import FakeProvider
from tests.support.litellm_release import PROMPT_ATTRIBUTE

# A job of a few seconds can take a minute on a loaded machine (the suite's other workers, scripts/stress-test's
# CPU burners): run_job's guard only catches a hang, and this bound sits above it.
pytestmark = pytest.mark.timeout(300)


POOL_APP = """
import multiprocessing, os, sys
import litellm

def work(i):
    litellm.completion(model="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE"], api_key="sk-test",
                       messages=[{"role": "user", "content": f"worker {i}"}])
    print("call", i, os.getpid(), flush=True)
    return os.getpid()

if __name__ == "__main__":
    if os.environ.get("PARENT_FIRST"):
        # A call in the parent right before the fork: LiteLLM is still running its first success callback
        # (which imports modules) on its logging thread. Its own API key: the parent's HTTP client (and its
        # keep-alive connection, which forked children must not share) stays in the parent.
        litellm.completion(model="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE"], api_key="sk-parent",
                           messages=[{"role": "user", "content": "parent"}])
    with multiprocessing.get_context(sys.argv[1]).Pool(2) as pool:
        print("workers", len(set(pool.map(work, range(6)))), flush=True)
        if sys.argv[2] == "close":  # workers leave when told, through os._exit(); else __exit__ terminates them
            pool.close()
            pool.join()
"""


@pytest.mark.parametrize(("method", "end", "parent_first"), [("fork", "close", False), ("fork", "terminate", False),
                                                             ("fork", "close", True), ("forkserver", "close", False)])
def test_multiprocessing_workers_deliver_and_are_counted(receiver: Receiver, fake_provider: FakeProvider,
                                                        tmp_path: Path, method: str, end: str, parent_first: bool) -> None:
    """Pool workers end with os._exit(): no atexit, so their spans were lost (all 6 here) and the report said 0
    sent. Terminated workers were signalled during that exit flush and died with it half done. A fork while
    LiteLLM's logging thread held the import lock hung the job at the worker's exit."""
    job = run_job(receiver.grpc_endpoint, fake_provider, report_in=tmp_path,
                  app_env={"PARENT_FIRST": "1"} if parent_first else {},
                  command=[sys.executable, write_app(tmp_path, "pool_app.py", POOL_APP), method, end])
    assert job.returncode == 0, job.stderr
    assert "workers" in job.stdout
    calls = 7 if parent_first else 6
    settle(receiver, calls)
    report = job.report
    prompts = sorted(s.attributes.get(PROMPT_ATTRIBUTE, "") for s in llm_spans(receiver))
    assert len(prompts) == calls, (prompts, job.stdout, job.stderr, report)
    assert report["signals"]["traces"] == {"sent": len(receiver.spans()), "failed": 0, "dropped": 0}
    assert report["processes"] >= 3  # the parent and its two workers (and, with forkserver, the server)
    assert not job.warning_lines(), job.stderr


# Each worker, its call made, waits in C for a lock its parent holds (as an idle Pool worker waits for its next
# task on the pool's queue lock); then it gets SIGTERM on one of its threads other than the main one (tgkill), as
# the kernel may deliver `kill PID` or Pool.terminate()'s signal.
SIGNALLED_ON_ANOTHER_THREAD_APP = """
import ctypes, multiprocessing, os, platform, signal, time
import litellm

def work(lock, called, i):
    litellm.completion(model="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE"], api_key="sk-test",
                       messages=[{"role": "user", "content": f"worker {i}"}])
    called.put(i)
    lock.acquire()

if __name__ == "__main__":
    context = multiprocessing.get_context("fork")
    lock, called = context.Lock(), context.SimpleQueue()
    lock.acquire()
    workers = [context.Process(target=work, args=(lock, called, i)) for i in range(2)]
    for worker in workers:
        worker.start()
    for _ in workers:
        called.get()
    libc = ctypes.CDLL(None, use_errno=True)
    for worker in workers:
        others = sorted(int(t) for t in os.listdir(f"/proc/{worker.pid}/task") if int(t) != worker.pid)
        print("threads besides the main one", len(others), flush=True)
        assert libc.syscall({"x86_64": 234, "aarch64": 131}[platform.machine()], worker.pid, others[-1],
                            signal.SIGTERM) == 0
    deadline = time.monotonic() + 60  # a hang guard: a worker whose handler never runs waits for the lock for ever
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
    print("exit codes", [worker.exitcode for worker in workers], flush=True)
    lock.release()
    for worker in workers:
        worker.join()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.uname().machine not in ("x86_64", "aarch64"),
                    reason="tgkill and /proc/PID/task as on Linux x86_64 / aarch64")
def test_a_worker_signalled_on_another_thread_delivers_and_dies(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path) -> None:
    """The kernel may hand a worker's SIGTERM to any of its threads (the exporters', LiteLLM's, gRPC's); Python
    runs the handler on the main thread only, which was waiting in C: the worker never ran the handler and never
    died, and `with Pool(2)` hung in __exit__ waiting for such a worker (2 runs in 12 on a loaded machine). The
    signal now reaches the main thread: each worker delivers its span, then dies of the signal."""
    job = run_job(receiver.grpc_endpoint, fake_provider, report_in=tmp_path,
                  command=[sys.executable, write_app(tmp_path, "workers_app.py", SIGNALLED_ON_ANOTHER_THREAD_APP)])
    assert job.returncode == 0, job.stderr
    assert "threads besides the main one" in job.stdout, job.stdout
    assert f"exit codes {[-signal.SIGTERM] * 2}" in job.stdout, job.stdout
    settle(receiver, 2)
    assert sorted(re.search(r"worker \d", s.attributes[PROMPT_ATTRIBUTE]).group() for s in llm_spans(receiver)) == [
        "worker 0", "worker 1"]
    report = job.report
    assert report["signals"]["traces"] == {"sent": len(receiver.spans()), "failed": 0, "dropped": 0}
    assert not job.warning_lines(), job.stderr


ASYNC_POOL_APP = """
import asyncio, multiprocessing, os
import litellm

ARGS = dict(model="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE"], api_key="sk-test")

async def one(i):
    return await litellm.acompletion(messages=[{"role": "user", "content": f"async worker {i}"}], **ARGS)

def work(i):
    asyncio.run(one(i))
    return os.getpid()

if __name__ == "__main__":
    asyncio.run(one(-1))  # the parent's async client and its aiohttp session exist before the fork
    with multiprocessing.get_context("fork").Pool(2) as pool:
        workers = len(set(pool.map(work, range(8), chunksize=1)))
        pool.close()
        pool.join()
    print("workers", workers, flush=True)
"""


def test_async_calls_in_workers_forked_after_an_async_call_deliver(receiver: Receiver, fake_provider: FakeProvider,
                                                                   tmp_path: Path) -> None:
    """Workers forked after the parent's async call run their own event loops: each call's span arrives with its
    aiohttp client span under it, and none hangs or fails on a session made in the parent."""
    job = run_job(receiver.grpc_endpoint, fake_provider, report_in=tmp_path,
                  command=[sys.executable, write_app(tmp_path, "async_pool_app.py", ASYNC_POOL_APP)])
    assert job.returncode == 0, job.stderr
    assert "workers" in job.stdout
    settle(receiver, 9)
    spans = llm_spans(receiver)
    assert len(spans) == 9, [s.attributes.get(PROMPT_ATTRIBUTE) for s in spans]
    assert all(any(h.kind == 3 and h.parent_span_id == s.span_id and h.trace_id == s.trace_id
                   for h in receiver.spans() if h.name != "litellm_request") for s in spans)
    report = job.report
    assert report["signals"]["traces"] == {"sent": len(receiver.spans()), "failed": 0, "dropped": 0}
    assert not job.warning_lines(), job.stderr


FORK_AFTER_CALL_APP = """
import multiprocessing, os, sys, time
import litellm

def work(n):
    for i in range(n):
        litellm.completion(model="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE"], api_key="sk-test",
                           messages=[{"role": "user", "content": f"child {i}"}])

if __name__ == "__main__":
    litellm.completion(model="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE"], api_key="sk-parent",
                       messages=[{"role": "user", "content": "parent"}])
    time.sleep(0.3)  # LiteLLM's logging thread is idle again: its executor counts one idle thread
    child = multiprocessing.get_context("fork").Process(target=work, args=(int(sys.argv[1]),))
    child.start()
    child.join()
    print("child", child.exitcode, flush=True)
"""


@pytest.mark.parametrize("calls", [1, 3])
def test_a_child_forked_after_a_call_logs_its_own_calls_at_once(receiver: Receiver, fake_provider: FakeProvider,
                                                                 tmp_path: Path, calls: int) -> None:
    """A fork copies LiteLLM's logging thread pool, which counts the parent's idle thread, but not the thread:
    the child's first callback was queued for a thread that does not exist there. A child making one call
    lost its span (and spent its whole exit deadline waiting for it); with more calls, the first span waited
    for the next call. The pool app above lost a worker's span this way whenever that worker made one call."""
    job = run_job(receiver.grpc_endpoint, fake_provider, report_in=tmp_path,
                  command=[sys.executable, write_app(tmp_path, "fork_app.py", FORK_AFTER_CALL_APP), str(calls)])
    assert job.returncode == 0, job.stderr
    assert "child 0" in job.stdout
    settle(receiver, 1 + calls)
    prompts = sorted(s.attributes[PROMPT_ATTRIBUTE] for s in llm_spans(receiver))
    assert len(prompts) == 1 + calls, (prompts, job.stderr)
    assert all(f"child {i}" in "".join(prompts) for i in range(calls))  # JSON text, or the bare prompt up to 1.80.15
    report = job.report
    assert report["signals"]["traces"] == {"sent": len(receiver.spans()), "failed": 0, "dropped": 0}
    assert not job.warning_lines(), job.stderr  # no call waited for, or lost at, the exit deadline


SLOW_CALLBACK_APP = """
import os, time
import litellm

def slow_audit(kwargs, response, start_time, end_time):  # the program's own callback, ahead of ours
    time.sleep(30)

litellm.success_callback.insert(0, slow_audit)
litellm.completion(model="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE"], api_key="sk-test",
                   messages=[{"role": "user", "content": "audited"}])
print("done 0", flush=True)
time.sleep(60)
"""


def test_a_call_whose_callbacks_outlast_the_deadline_is_counted_as_lost(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path) -> None:
    """Cancelled while LiteLLM was still running the program's slow callback, ahead of the one that makes the
    call's span: that span is never made. The job still ends within the deadline, and the report counts it."""
    job = run_job(receiver.grpc_endpoint, fake_provider, report_in=tmp_path,
                  command=[sys.executable, write_app(tmp_path, "slow_app.py", SLOW_CALLBACK_APP)], signal_after=1)
    assert job.returncode == -signal.SIGTERM, job.stderr
    receiver.wait_for(lambda r: any(s.name.startswith("POST") for s in r.spans()), timeout=5)
    assert llm_spans(receiver) == []
    report = job.report
    assert report["signals"]["traces"] == {"sent": len(receiver.spans()), "failed": 0, "dropped": 1}
    assert report["signals"]["metrics"]["failed"] == 0  # the wait for LiteLLM left the export its share
    assert report["error"] == "LiteLLM had not logged 1 call by the 1 s exit deadline"
    [warning] = job.warning_lines()
    assert "1 span" in warning and "LiteLLM had not logged 1 call" in warning, warning


BACKLOG_APP = """
import os, time
import litellm

def slow_audit(kwargs, response, start_time, end_time):  # the program's own callback, ahead of ours
    time.sleep(3)

litellm.success_callback.insert(0, slow_audit)
for i in range(8):
    litellm.completion(model="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE"], api_key="sk-test",
                       messages=[{"role": "user", "content": f"backlog {i}"}])
time.sleep(4)  # the callbacks LiteLLM took have finished
"""


def test_calls_whose_logging_litellm_dropped_are_counted_as_lost(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path) -> None:
    """LiteLLM's logging pool refuses callbacks beyond its backlog limit (LOGGING_EXECUTOR_MAX_PENDING_TASKS,
    10,000 by default; 2 here, behind a program callback that takes 3 s): those calls never get a span, and the
    report says so rather than claiming everything was delivered."""
    job = run_job(receiver.grpc_endpoint, fake_provider, report_in=tmp_path,
                  app_env={"LOGGING_EXECUTOR_MAX_PENDING_TASKS": "2"},
                  command=[sys.executable, write_app(tmp_path, "backlog_app.py", BACKLOG_APP)])
    assert job.returncode == 0, job.stderr
    settle(receiver, 2)
    assert len(llm_spans(receiver)) == 2, job.stderr
    report = job.report
    assert report["signals"]["traces"] == {"sent": len(receiver.spans()), "failed": 0, "dropped": 6}
    assert report["error"].startswith("LiteLLM's logging backlog was full"), report
    [warning] = job.warning_lines()
    assert "6 spans" in warning and "logging backlog was full" in warning, warning


ASYNC_TIME_LIMIT_APP = """
import asyncio, os, sys
import litellm
from litellm.integrations.custom_logger import CustomLogger

class SlowAudit(CustomLogger):  # the program's own async callback: stuck for 5 s on every call
    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        await asyncio.sleep(5)

ARGS = dict(model="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE"], api_key="sk-test")

async def main():
    if sys.argv[1] == "before":  # listed before the first call: ahead of the OTel logger
        litellm.logging_callback_manager.add_litellm_async_success_callback(SlowAudit())
    await litellm.acompletion(messages=[{"role": "user", "content": "first"}], **ARGS)
    if sys.argv[1] == "after":  # added once the OTel logger is in the list: behind it
        litellm.logging_callback_manager.add_litellm_async_success_callback(SlowAudit())
    await asyncio.gather(*(litellm.acompletion(messages=[{"role": "user", "content": f"limit {i}"}], **ARGS)
                           for i in range(3)))
    await asyncio.sleep(3)  # past LiteLLM's 1 s limit for each call's logging

asyncio.run(main())
"""


@pytest.mark.parametrize("order", ["before", "after"])
def test_calls_whose_async_logging_litellm_stopped_are_counted_as_lost(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path, order: str) -> None:
    """LiteLLM's async logging worker stops a call's callbacks at its time limit (LOGGING_WORKER_MAX_TIME_PER_COROUTINE,
    20 s by default; 1 s here). Behind a slower callback of the program's, our logger never runs and the call gets no
    span: the report counts it. A call our logger had already logged is not counted, though LiteLLM stopped the
    slower callback after it."""
    job = run_job(receiver.grpc_endpoint, fake_provider, report_in=tmp_path,
                  app_env={"LOGGING_WORKER_MAX_TIME_PER_COROUTINE": "1"},
                  command=[sys.executable, write_app(tmp_path, "limit_app.py", ASYNC_TIME_LIMIT_APP), order])
    assert job.returncode == 0, job.stderr
    expected = 0 if order == "before" else 4
    receiver.wait_for(lambda r: len(llm_spans(r)) >= expected and any(s.name.startswith("POST") for s in r.spans()),
                      timeout=5)
    receiver.wait_for(lambda r: False, timeout=0.5)  # and no late ones
    assert len(llm_spans(receiver)) == expected, job.stderr
    report = job.report
    dropped = 4 - expected
    assert report["signals"]["traces"] == {"sent": len(receiver.spans()), "failed": 0, "dropped": dropped}
    if dropped:
        assert report["error"].startswith("LiteLLM stopped a call's logging at its 1 s limit"), report
        [warning] = job.warning_lines()
        assert f"{dropped} spans" in warning, warning
    else:
        assert not job.warning_lines(), job.stderr


FORK_NEXT_TO_EXPORTS_APP = """
import multiprocessing, sys, threading, time
from opentelemetry import trace

tracer = trace.get_tracer("forks")
stop = threading.Event()

def busy():  # a thread of the program producing spans: the exporter is almost always busy
    i = 0
    while not stop.is_set():
        with tracer.start_as_current_span(f"parent {i}"):
            pass
        i += 1
        time.sleep(0.002)

def child(n):
    for j in range(3):
        with tracer.start_as_current_span(f"child {n} {j}"):
            pass

threading.Thread(target=busy, daemon=True).start()
forking = 0.0  # seconds spent in fork (Process.start), the children's own run and exit left out
for n in range(int(sys.argv[1])):
    process = multiprocessing.get_context("fork").Process(target=child, args=(n,))
    started = time.monotonic()
    process.start()
    forking += time.monotonic() - started
    process.join()
    time.sleep(0.01)
print("forked in", round(forking, 2), flush=True)
from signoz_litellm_run.hook import fork_gate
print("fork waits", fork_gate._fork_gate.waits, flush=True)
stop.set()
"""


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_children_forked_while_spans_are_exported_deliver_theirs(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path, protocol: str) -> None:
    """A fork while an export was on the wire: gRPC skipped its fork handlers (and said so on the program's
    stderr), and such a child could never export: 1 child in 100 to 300 lost all its spans, sometimes with
    its counts. Forks now wait for the exports in flight and hold new ones until they are done."""
    endpoint = receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint
    children = 60
    job = run_job(endpoint, fake_provider, args=("--protocol", protocol), report_in=tmp_path,
                  app_env={"OTEL_BSP_SCHEDULE_DELAY": "5"},
                  command=[sys.executable, write_app(tmp_path, "forks.py", FORK_NEXT_TO_EXPORTS_APP), str(children)])
    assert job.returncode == 0, job.stderr
    assert "skipping fork() handlers" not in job.stderr, job.stderr
    expected = {f"child {n} {j}" for n in range(children) for j in range(3)}
    receiver.wait_for(lambda r: expected <= {s.name for s in r.spans()}, timeout=10)
    assert expected - {s.name for s in receiver.spans()} == set()
    report = job.report
    assert report["processes"] == children + 1
    assert report["signals"]["traces"] == {"sent": len(receiver.spans()), "failed": 0, "dropped": 0}


def test_forks_wait_for_a_dead_endpoint_once_not_once_per_child(fake_provider: FakeProvider, tmp_path: Path) -> None:
    """Exports to an endpoint that never answers stay in flight for seconds: the first fork waits for them (at
    most 2 s), later ones do not wait again until an export succeeds."""
    with SilentServer() as silent:
        job = run_job(silent.endpoint, fake_provider, app_env={"OTEL_BSP_SCHEDULE_DELAY": "5"},
                      command=[sys.executable, write_app(tmp_path, "forks.py", FORK_NEXT_TO_EXPORTS_APP), "8"])
    assert job.returncode == 0, job.stderr
    [waits] = [line.split(" ", 2)[-1] for line in job.stdout.splitlines() if line.startswith("fork waits")]
    ran_out = json.loads(waits.lower())  # per wait: whether it ran out (a wait may end early when an export fails)
    assert ran_out.count(True) == 1 and ran_out[-1] is True, job.stdout  # after it ran out, no fork waited again


SHARED_CLIENT_APP = """
import multiprocessing, os, time
import litellm

def call(text):
    litellm.completion(model="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE"], api_key="sk-test",
                       messages=[{"role": "user", "content": text}])

def child(n):
    call(f"child {n} a")
    call(f"child {n} b")

if __name__ == "__main__":
    call("parent a")  # LiteLLM caches its HTTP client, and the client keeps this connection open
    time.sleep(0.3)
    children = [multiprocessing.get_context("fork").Process(target=child, args=(n,)) for n in range(2)]
    for process in children:
        process.start()
    for process in children:
        process.join()
    call("parent b")
    print("exit codes", [p.exitcode for p in children], flush=True)
"""


def test_forked_children_open_their_own_connections_to_the_provider(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path) -> None:
    """LiteLLM keeps one HTTP client per key and the client keeps its connections open: children forked after a
    call sent their requests on the parent's socket, several processes at once, and their requests and answers
    mixed (a garbled request came back as a 400 whose exception cannot be unpickled, and a Pool's map then
    hung forever; 1 run in 4 of 40 calls in 4 workers, with or without telemetry). A forked child now leaves
    the parent's open connections to the parent."""
    job = run_job(receiver.grpc_endpoint, fake_provider,
                  command=[sys.executable, write_app(tmp_path, "shared_client.py", SHARED_CLIENT_APP)])
    assert job.returncode == 0, job.stderr
    assert "exit codes [0, 0]" in job.stdout, job.stdout
    port_of = {}
    for (path, _, body), port in zip(fake_provider.requests, fake_provider.peers):
        if path.endswith("/chat/completions"):
            port_of[body["messages"][0]["content"]] = port
    assert set(port_of) == {"parent a", "parent b", "child 0 a", "child 0 b", "child 1 a", "child 1 b"}
    assert port_of["parent b"] == port_of["parent a"]  # the parent keeps its connection
    assert port_of["child 0 a"] not in (port_of["parent a"], port_of["child 1 a"]), port_of
    assert port_of["child 1 a"] != port_of["parent a"], port_of
    settle(receiver, 6)
    assert len(llm_spans(receiver)) == 6
