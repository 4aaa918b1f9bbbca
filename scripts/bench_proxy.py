#!/usr/bin/env python3
"""Benchmark: the LiteLLM proxy bare, under the plain OpenTelemetry recipe and under `signoz-litellm run`, side by side.

One run measures the three ways of running `litellm --config` (model -> the fake provider on loopback):
- bare: `litellm --config` with no telemetry;
- recipe: `opentelemetry-instrument -- litellm --config` with `callbacks: ["otel"]` in the config and the
  equivalent OTEL_* variables (the plain recipe; without `--`, opentelemetry-instrument rejects `--config`);
- run: `signoz-litellm run --endpoint ... -- litellm --config`.

Throughput: the three proxies are started at once (one process each), pinned together to the last CPU, and, for
each row (N = 1, 16, 64 concurrent clients, non-streaming and streaming), loaded at once: N closed-loop clients on
each (each client sends its next chat when the last is answered), until every proxy has given --answers answers past
its clients' first ones; a proxy's rate is taken over those answers, while all are still loaded, --rounds times,
--gap seconds apart. The proxies then share one CPU at the same moments, so the host's speed, which on this VM moves
a proxy's requests/s by 10-45 % between windows a few seconds apart, moves all of them alike and drops out of
their ratios: a second bare proxy (--control) stays within 1-3 % of the first in each round, where measured in
turns it strayed by up to 45 %. Each proxy runs in a session of its own, so that where Linux groups tasks by
session (autogroup, the default on desktops and on this VM) the CPU is shared between the proxies, not between
their threads. What it measures is each proxy's requests/s at an equal share of the same CPU: for a proxy that
its event loop holds to one core, that is how its throughput on a core of its own compares, switches between the
proxies aside. The load generator, the OTLP receiver and the fake provider are pinned to the other CPUs, as on a
gateway whose clients and collector run elsewhere. With --in-turns each proxy gets --seconds of load alone instead,
in a rotating order (the previous method: steadier only on a quiet machine); --no-pin turns the pinning off. The
row's figure is the median over the rounds of each round's ratio to bare, with its 95 % bootstrap interval (how far
the median may be from the machine's usual figure), and the best round of each proxy. Beside them, each round's
CPU per request: the user + system time the proxy's process (and its workers) used during the round, over the
chats it answered (median of the rounds); on this VM CPU time is itself not always accounted truly (a process
pinned to one CPU was once charged 1.3 CPU-seconds a second). Then each proxy is stopped with SIGTERM, and the
`litellm_request` spans the receiver got are counted against the chats each proxy answered.

Instructions (--instructions, on by default): each proxy again, alone, under `valgrind --tool=callgrind` with
instrumentation off until the counting windows: an idle window of --settle seconds (the baseline), then --calls
sequential chats and --settle seconds more (the export of their spans falls in it; default export settings), then
the same for streaming chats. Instructions per request = (window - baseline) / calls, all threads. This is the
CPU a request costs, a figure that does not move with the machine's load. Each --variant is measured the same way
(its instructions over bare, and against run: what the part it turns off costs).

The load generator (aiohttp) and the OTLP receiver run in this process, the fake provider in a process of its own.

Where the instructions go (--functions N, Python 3.12+): the proxies run with Python's perf trampolines
(PYTHONPERFSUPPORT=1), so each Python function has a native entry point of its own that callgrind counts, and
/tmp/perf-<pid>.map names it; the N Python functions whose inclusive instructions per non-streaming request grew
most over bare are listed. The trampolines make every Python call dearer: compare the pieces, not the totals.
Run it with a venv made with Python 3.12 or later (e.g. `python3.12 -m venv /tmp/v312` and
`/tmp/v312/bin/pip install -e '.[dev,proxy]'`).

Usage: .venv/bin/python scripts/bench_proxy.py [--rounds 2] [--seconds 6] [--clients 1 16 64] [--calls 30]
       [--no-instructions] [--only-instructions] [--modes bare recipe run] [--span-detail lean|full]
       [--functions N] [--warm-up 5] [--gap 1.5] [--answers 256] [--in-turns] [--no-pin] [--control]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import glob
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from signoz_litellm_run.loopback import unused_port  # noqa: E402
from signoz_litellm_run.receiver import Receiver  # noqa: E402

from cpu_pin import split_cpus  # noqa: E402

KEY = "sk-bench-master"
MODES = ("bare", "recipe", "run")
CONTROL = "bare again"  # --control: a second bare proxy, the figure the noise alone gives
VARIANT = "run "  # --variant LABEL VAR=VALUE ...: a further run proxy, "run LABEL", with more environment variables
SERVICE = {"recipe": "bench-recipe", "run": "bench-run"}
BODY = {"model": "fake-model", "messages": [{"role": "user", "content": "hello there"}]}


# ---- loopback services ---------------------------------------------------------------------------------------

class ProviderProcess:
    """The fake provider (tests/support/fake_provider.py) in a process of its own, keeping only its last
    requests (a soak sends tens of thousands)."""

    CODE = ("import collections, sys; sys.path.insert(0, sys.argv[1]);"
            "from tests.support.fake_provider import FakeProvider; p = FakeProvider().start();"
            "p._requests = collections.deque(maxlen=100); p._peers = collections.deque(maxlen=100);"
            "print(p.base_url, flush=True); sys.stdin.read()")

    def __enter__(self) -> ProviderProcess:
        self.proc = subprocess.Popen([sys.executable, "-c", self.CODE, str(ROOT)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class SpanCounter:
    """An OTLP receiver that counts spans by service and name as they arrive and keeps nothing (a soak's spans
    would fill the memory). `stop()` / `start()` take the endpoint down and bring it back on the same port."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.spans: collections.Counter[tuple[str, str]] = collections.Counter()
        self.metric_points = 0
        self.receiver = self._new(0)

    def _new(self, port: int) -> Receiver:
        receiver = Receiver(http=False, grpc_port=port, on_request=self._count)
        receiver.start()
        return receiver

    @property
    def endpoint(self) -> str:
        return self.receiver.grpc_endpoint

    def _count(self, request: Any) -> None:
        message = request.message
        counts: collections.Counter[tuple[str, str]] = collections.Counter()
        if request.signal == "traces":
            for rs in message.resource_spans:
                service = next((a.value.string_value for a in rs.resource.attributes if a.key == "service.name"), "")
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        counts[(service, span.name)] += 1
        with self.lock:
            self.spans.update(counts)
        self.receiver.clear()

    def count(self, service: str, name: str | None = None) -> int:
        with self.lock:
            return sum(n for (s, span), n in self.spans.items() if s == service and (name is None or span == name))

    def stop(self) -> None:
        self.receiver.stop()

    def start(self) -> None:
        self.receiver = self._new(self.receiver.grpc_port)

    def close(self) -> None:
        self.receiver.stop()


# ---- the proxy -----------------------------------------------------------------------------------------------

def config(base_url: str, otel: bool) -> str:
    text = ("model_list:\n  - model_name: fake-model\n    litellm_params:\n      model: openai/fake-model\n"
            f"      api_base: {base_url}\n      api_key: sk-test\n")
    return text + ('litellm_settings:\n  callbacks: ["otel"]\n' if otel else "")


@dataclass
class Proxy:
    mode: str
    proc: subprocess.Popen
    port: int
    log: Path
    sent: int = 0  # chats answered with 200
    extra: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def pin_cpus(together: bool = False) -> tuple[list[str], str]:
    """Pin this process (load generator, receiver and, started after, the fake provider) to all CPUs but the last;
    return the prefix that starts a proxy on the last one, and what was done."""
    prefix, proxies, rest = split_cpus()
    if not prefix:
        return [], "not pinned (one CPU)"
    done = f"proxies pinned to CPU {proxies}, load generator, receiver and fake provider to CPU {rest}"
    if together:
        try:
            grouped = Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
        except OSError:
            grouped = False
        done += ("; each proxy in a session of its own, and the scheduler shares the CPU between sessions"
                 if grouped else "; the scheduler shares the CPU between threads (autogroup is off)")
    return prefix, done


def stem(mode: str) -> str:
    """A proxy's label as a file name or service name part: "run sdk-off" -> "run-sdk-off"."""
    return mode.replace(" ", "-")


def variant_modes(args: argparse.Namespace) -> dict[str, dict[str, str]]:
    """--variant's proxies: "run LABEL" -> the environment variables it adds."""
    return {VARIANT + label: env for label, env in args.variant}


def start_proxy(mode: str, workdir: Path, provider_url: str, endpoint: str, *, server_args: tuple[str, ...] = (),
                env_extra: dict[str, str] | None = None, valgrind: list[str] | None = None,
                run_args: tuple[str, ...] = (), prefix: list[str] | None = None, session: bool = False) -> Proxy:
    """Start one proxy; `session`: in a session of its own, so that where Linux groups tasks by session for the
    scheduler (autogroup), proxies sharing a CPU share it as processes, not as threads (run has more of them)."""
    bindir = os.path.dirname(sys.executable)
    cfg = workdir / f"{stem(mode)}.yaml"
    cfg.write_text(config(provider_url, otel=(mode == "recipe")))
    port = unused_port()
    litellm = [os.path.join(bindir, "litellm")]
    if valgrind:  # the proxy's own interpreter under valgrind, whatever launches it
        litellm = [*valgrind, sys.executable, os.path.join(bindir, "litellm")]
    litellm += ["--config", str(cfg), "--host", "127.0.0.1", "--port", str(port), *server_args]
    env = dict(os.environ, LITELLM_MASTER_KEY=KEY, LITELLM_LOCAL_MODEL_COST_MAP="True",
               LITELLM_DONT_SHOW_FEEDBACK_BOX="true", DISABLE_SCHEMA_UPDATE="true")
    for name in ("DATABASE_URL", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"):
        env.pop(name, None)
    env.update(env_extra or {})
    if mode in ("bare", CONTROL):
        argv = litellm
    elif mode == "recipe":
        # The plain recipe as a user without signoz-litellm has it: OpenTelemetry's own distro. Otherwise
        # opentelemetry-instrument loads the first distro installed, which in this venv is ours.
        env.update(OTEL_PYTHON_DISTRO="distro", OTEL_SERVICE_NAME=SERVICE[mode],
                   OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_EXPORTER_OTLP_PROTOCOL="grpc",
                   OTEL_EXPORTER_OTLP_INSECURE="true", OTEL_TRACES_EXPORTER="otlp", OTEL_METRICS_EXPORTER="otlp",
                   OTEL_LOGS_EXPORTER="otlp")
        # Without "--", opentelemetry-instrument takes --config as an ambiguous abbreviation of its own options.
        argv = [os.path.join(bindir, "opentelemetry-instrument"), "--", *litellm]
    else:
        service = SERVICE.get(mode) or "bench-" + stem(mode)
        argv = [sys.executable, "-m", "signoz_litellm_run", "run", "--endpoint", endpoint, "--no-bootstrap",
                "--service-name", service, *run_args, "--", *litellm]
    argv = [*(prefix or ()), *argv]
    log = workdir / f"{stem(mode)}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=workdir,
                                start_new_session=session)
    return Proxy(mode, proc, port, log)


def wait_ready(proxy: Proxy, timeout: float = 900.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=proxy.url, timeout=60) as client:
        while True:
            if proxy.proc.poll() is not None:
                raise SystemExit(f"{proxy.mode}: the proxy exited; see {proxy.log}")
            try:
                if client.get("/health/readiness").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{proxy.mode}: not ready after {timeout:.0f} s; see {proxy.log}")
            time.sleep(0.3)


def stop(proxy: Proxy, timeout: float = 300.0) -> int:
    proxy.proc.send_signal(signal.SIGTERM)
    try:
        return proxy.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proxy.proc.kill()
        return proxy.proc.wait()


def processes(proxy: Proxy) -> list[Any]:
    """The proxy's process and its Python descendants (uvicorn's workers; not multiprocessing's resource tracker)."""
    import psutil

    root = psutil.Process(proxy.proc.pid)
    found = [root]
    for child in root.children(recursive=True):
        try:
            if "resource_tracker" not in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            pass
    return found


def cpu_seconds(proxy: Proxy) -> float:
    """User + system CPU time of the proxy's process and its workers so far."""
    return cpu_of(processes(proxy))


def cpu_of(found: list[Any]) -> float:
    """User + system CPU time of these psutil processes so far (one that has gone counts 0)."""
    import psutil

    total = 0.0
    for process in found:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


# ---- load ----------------------------------------------------------------------------------------------------

@dataclass
class Load:
    answered: int = 0
    failed: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    counted: int | None = None  # at once: the answers the rate is taken over, `seconds` apart (not all answers)

    @property
    def rps(self) -> float:
        answers = self.answered if self.counted is None else self.counted
        return answers / self.seconds if self.seconds else 0.0


async def _load(url: str, clients: int, stream: bool, *, seconds: float | None = None, total: int | None = None,
                on_answer: Callable[[int, float], None] | None = None, keep_latencies: bool = True) -> Load:
    import aiohttp

    body = dict(BODY, stream=True) if stream else BODY
    payload = json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    result = Load()
    issued = 0
    started = time.perf_counter()
    end = started + seconds if seconds else None
    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    timeout = aiohttp.ClientTimeout(total=120)

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal issued
        while True:
            if total is not None and issued >= total:
                return
            if end is not None and time.perf_counter() >= end:
                return
            issued += 1
            t0 = time.perf_counter()
            try:
                async with session.post(url + "/v1/chat/completions", data=payload, headers=headers) as response:
                    await response.read()
                    ok = response.status == 200
            except (aiohttp.ClientError, asyncio.TimeoutError):
                ok = False
            t1 = time.perf_counter()
            if ok:
                result.answered += 1
                if keep_latencies:
                    result.latencies.append(t1 - t0)
                if on_answer is not None:
                    on_answer(result.answered, t1 - t0)
            else:
                result.failed += 1

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(client(session) for _ in range(clients)))
    result.seconds = time.perf_counter() - started
    return result


def load(url: str, clients: int, stream: bool, **kwargs: Any) -> Load:
    return asyncio.run(_load(url, clients, stream, **kwargs))


def load_at_once(urls: list[str], clients: int, stream: bool, answers: int, limit: float = 900.0) -> list[Load]:
    """`clients` closed-loop clients on each of `urls`, all loaded until each proxy has given its answers; a
    proxy's rate is taken from its `clients`-th answer (each client's first, with its start-up, left out) to its
    `clients` + `counted`-th, `counted` being `answers` rounded up to a multiple of `clients` (at 64 clients a proxy
    answers in waves of 64: the rate then spans whole waves). The load goes on until the slowest proxy has its
    answers, so each one's rate is taken while all of them are loaded; then no client sends again, and the chats
    in flight are waited for (each `answered` counts every chat answered, as the proxy's spans will). A proxy that
    answers nothing (or fails as many) ends the load at `limit` seconds with no rate."""
    return asyncio.run(_load_at_once(urls, clients, stream, answers, limit))


def whole_waves(answers: int, clients: int) -> int:
    """`answers` rounded up to a multiple of `clients`: the answers a proxy's rate is taken over at once."""
    return clients * -(-answers // clients)


async def _load_at_once(urls: list[str], clients: int, stream: bool, answers: int, limit: float) -> list[Load]:
    import aiohttp

    counted = whole_waves(answers, clients)
    last = clients + counted  # the answer that ends a proxy's count
    payload = json.dumps(dict(BODY, stream=True) if stream else BODY).encode()
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    done = [0] * len(urls)
    marks: list[dict[int, float]] = [{} for _ in urls]  # answer number -> when it came, for the first and last
    results = [Load(counted=counted) for _ in urls]
    enough = asyncio.Event()

    async def client(i: int, session: aiohttp.ClientSession) -> None:
        result = results[i]
        while not enough.is_set():
            t0 = time.perf_counter()
            try:
                async with session.post(urls[i] + "/v1/chat/completions", data=payload, headers=headers) as response:
                    await response.read()
                    ok = response.status == 200
            except (aiohttp.ClientError, asyncio.TimeoutError):
                ok = False
            t1 = time.perf_counter()
            if not ok:
                result.failed += 1
                if result.failed >= last:
                    await asyncio.sleep(0.1)  # a proxy that fails fast must not starve the others' clients
                continue
            result.answered += 1
            if result.answered in (clients, last):
                marks[i][result.answered] = t1
            if clients < result.answered <= last:
                result.latencies.append(t1 - t0)
            if result.answered >= last:
                done[i] = 1
                if all(done):
                    enough.set()

    sessions = [aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients),
                                      timeout=aiohttp.ClientTimeout(total=120)) for _ in urls]
    tasks = [asyncio.create_task(client(i, session)) for i, session in enumerate(sessions) for _ in range(clients)]
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(enough.wait(), limit)
    enough.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    for session in sessions:
        await session.close()
    for result, mark in zip(results, marks):
        if last in mark:
            result.seconds = mark[last] - mark[clients]
    return results


# ---- throughput ----------------------------------------------------------------------------------------------

Key = tuple[int, bool, str]  # (clients, streaming, mode)


@dataclass(frozen=True)
class Throughput:
    """What the throughput windows measured, for `print_throughput`."""
    rounds: int
    measure: str  # what a round measured: windows in turn, or the proxies at once
    rows: list[tuple[int, bool]]
    best: dict[Key, Load]  # each proxy's best window of a row
    rps: dict[Key, list[float]]  # each round's requests/s, in order
    cpu_ms: dict[Key, list[float]]  # each round's CPU ms per chat answered
    spans: dict[str, tuple[int, int, int]]  # mode -> (litellm_request spans, chats answered, spans in all)
    codes: dict[str, Any]  # mode -> the proxy's exit status after SIGTERM
    pinned: str  # where the proxies and the rest ran
    harness_busy: float  # the most CPU-seconds a second this script and the fake provider used in a window


def throughput(args: argparse.Namespace, workdir: Path, provider: ProviderProcess, counter: SpanCounter) -> Throughput:
    import psutil

    run_args = ("--span-detail", args.span_detail) if args.span_detail else ()
    variants = variant_modes(args)
    modes = (*MODES, *((CONTROL,) if args.control else ()), *variants)
    proxies = {mode: start_proxy(mode, workdir, provider.base_url, counter.endpoint, run_args=run_args,
                                 env_extra=variants.get(mode), prefix=args.proxy_cpu, session=not args.in_turns)
               for mode in modes}
    rows = [(n, stream) for stream in (False, True) for n in args.clients]
    best: dict[Key, Load] = {}
    cpu_ms: dict[Key, list[float]] = collections.defaultdict(list)
    rps: dict[Key, list[float]] = collections.defaultdict(list)
    harness = [psutil.Process(), psutil.Process(provider.proc.pid)]  # load generator + receiver, fake provider
    harness_busy = 0.0
    try:
        for proxy in proxies.values():
            wait_ready(proxy)
        for proxy in proxies.values():  # warm-up: first requests import, build and fill caches, grow the heap
            for stream in (False, True):
                proxy.sent += load(proxy.url, 16, stream, seconds=args.warm_up).answered
        for round_ in range(args.rounds):
            for i, (n, stream) in enumerate(rows):
                turn = (i + round_) % len(modes)
                order = modes[turn:] + modes[:turn]
                windows = [[mode] for mode in order] if args.in_turns else [order]
                for window in windows:
                    time.sleep(args.gap)  # the last window's spans exported before this one starts
                    cpu_before = {mode: cpu_seconds(proxies[mode]) for mode in window}
                    harness_before = cpu_of(harness)
                    started = time.perf_counter()
                    if args.in_turns:
                        results = [load(proxies[window[0]].url, n, stream, seconds=args.seconds)]
                    else:
                        results = load_at_once([proxies[mode].url for mode in window], n, stream, args.answers)
                    elapsed = time.perf_counter() - started
                    harness_busy = max(harness_busy, (cpu_of(harness) - harness_before) / elapsed)
                    for mode, result in zip(window, results):
                        proxies[mode].sent += result.answered
                        key = (n, stream, mode)
                        if result.answered:
                            cpu_ms[key].append((cpu_seconds(proxies[mode]) - cpu_before[mode]) * 1000
                                               / result.answered)
                        rps[key].append(result.rps)
                        if key not in best or result.rps > best[key].rps:
                            best[key] = result
                        print(f"  round {round_ + 1} N={n:<3} {'stream' if stream else 'plain ':6} {mode:10} "
                              f"{result.rps:7.1f} req/s ({result.failed} failed)", file=sys.stderr, flush=True)
        time.sleep(2)
    finally:
        codes = {mode: stop(proxy) for mode, proxy in proxies.items()}
    time.sleep(1)
    spans = {mode: (counter.count(SERVICE[mode], "litellm_request"), proxies[mode].sent, counter.count(SERVICE[mode]))
             for mode in ("recipe", "run")}
    measure = (f"{args.seconds:g} s windows, each proxy in turn" if args.in_turns else
               "the proxies loaded at once, each one's rate over " + ", ".join(
                   f"{whole_waves(args.answers, n)} answers at {n} client{'s' * (n > 1)}" for n in args.clients))
    return Throughput(args.rounds, measure, rows, best, dict(rps), dict(cpu_ms), spans, codes, args.pinned,
                      harness_busy)



def print_throughput(t: Throughput) -> None:
    print(f"\nThroughput: {t.pinned}; the load generator, receiver and fake provider used at most "
          f"{t.harness_busy:.2f} CPU-seconds a second in a window")
    print(f"\nRequests per second, best of {t.rounds} rounds ({t.measure}), x bare in brackets; "
          "median latency ms")
    print("| clients | streaming | bare req/s | recipe req/s | run req/s | run / recipe | bare ms | recipe ms "
          "| run ms |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n, stream in t.rows:
        b, r, s = (t.best[(n, stream, m)] for m in MODES)
        med = [statistics.median(x.latencies) * 1000 if x.latencies else float("nan") for x in (b, r, s)]
        print(f"| {n} | {_yes(stream)} | {b.rps:.1f} | {r.rps:.1f} (x{r.rps / b.rps:.2f}) | "
              f"{s.rps:.1f} (x{s.rps / b.rps:.2f}) | x{s.rps / r.rps:.2f} | {med[0]:.1f} | {med[1]:.1f} | "
              f"{med[2]:.1f} |")
    print(f"\nRequests per second as the median of {t.rounds} rounds' ratios (each round's run or recipe over "
          "bare in the same round:\nthe machine's speed drifts between rounds, less within one), the spread of "
          "run's ratios, and the\n95 % interval of run's median (bootstrap over the rounds: how far the median "
          "itself may be off)")
    control = any(key[2] == CONTROL for key in t.rps)
    if control:
        print("and the same for a second bare proxy measured with the others (--control): its ratio to bare is 1 "
              "but for the noise")
    print("| clients | streaming | recipe / bare | run / bare | run / recipe | run / bare, lowest - highest "
          "| run / bare, 95 % interval |" + (" bare again / bare | lowest - highest | 95 % interval |" * control))
    print("|---|---|---|---|---|---|---|" + "---|---|---|" * control)
    for n, stream in t.rows:
        b, r, s = (t.rps[(n, stream, m)] for m in MODES)
        run_bare = _ratios(b, s)
        recipe_bare = _ratios(b, r)
        run_recipe = _ratios(r, s)
        low, high = median_interval(run_bare)
        line = (f"| {n} | {_yes(stream)} | x{statistics.median(recipe_bare):.2f} | "
                f"x{statistics.median(run_bare):.2f} | x{statistics.median(run_recipe):.2f} | "
                f"x{min(run_bare):.2f} - x{max(run_bare):.2f} | x{low:.2f} - x{high:.2f} |")
        if control:
            again = _ratios(b, t.rps[(n, stream, CONTROL)])
            low, high = median_interval(again)
            line += (f" x{statistics.median(again):.2f} | x{min(again):.2f} - x{max(again):.2f} | "
                     f"x{low:.2f} - x{high:.2f} |")
        print(line)
    variants = [mode for mode in dict.fromkeys(key[2] for key in t.rps) if mode.startswith(VARIANT)]
    if variants:
        print("\nVariants of run (--variant): the median of the rounds' ratios to bare (lowest - highest round; "
              "95 % interval)")
        print("| clients | streaming | run / bare | " + " | ".join(f"{mode} / bare" for mode in variants) + " |")
        print("|---|---|---|" + "---|" * len(variants))
        for n, stream in t.rows:
            b = t.rps[(n, stream, "bare")]
            print(f"| {n} | {_yes(stream)} | " + " | ".join(
                _summary(_ratios(b, t.rps[(n, stream, mode)])) for mode in ("run", *variants)) + " |")
    print("\nCPU per request (user + system time of the proxy's process over a window / chats answered in it; "
          f"median of {t.rounds} rounds), ms, x bare in brackets")
    print("| clients | streaming | bare | recipe | run |")
    print("|---|---|---|---|---|")
    for n, stream in t.rows:
        b_ms, r_ms, s_ms = (statistics.median(t.cpu_ms[(n, stream, m)]) for m in MODES)
        print(f"| {n} | {_yes(stream)} | {b_ms:.2f} | {r_ms:.2f} (x{r_ms / b_ms:.2f}) | "
              f"{s_ms:.2f} (x{s_ms / b_ms:.2f}) |")
    print("\nSpans after SIGTERM (exit status):")
    for mode, (got, sent, spans) in t.spans.items():
        print(f"  {mode:7} litellm_request {got} of {sent} chats answered; {spans} spans in all ({t.codes[mode]})")


def _ratios(over: list[float], values: list[float]) -> list[float]:
    """Each round's value over the same round's `over`."""
    return [y / x for x, y in zip(over, values) if x]


def _summary(ratios: list[float]) -> str:
    low, high = median_interval(ratios)
    return (f"x{statistics.median(ratios):.2f} (x{min(ratios):.2f} - x{max(ratios):.2f}; x{low:.2f} - x{high:.2f})"
            if ratios else "-")


def _yes(stream: bool) -> str:
    return "yes" if stream else "no"


def median_interval(values: list[float], resamples: int = 2000, seed: int = 1) -> tuple[float, float]:
    """The 95 % percentile-bootstrap interval of the median of `values` (seeded: the same rounds give the same
    interval). With a handful of rounds it is wide: that width is how far the median may be from the machine's
    usual figure."""
    if not values:
        return float("nan"), float("nan")
    pick = random.Random(seed).choices
    medians = sorted(statistics.median(pick(values, k=len(values))) for _ in range(resamples))
    return medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]


# ---- instructions --------------------------------------------------------------------------------------------

def instructions(args: argparse.Namespace, workdir: Path, provider: ProviderProcess, counter: SpanCounter) -> None:
    if not shutil.which("callgrind_control"):
        raise SystemExit("error: valgrind is not installed (callgrind_control not found)\nhint: apt install valgrind")
    import httpx

    run_args = ("--span-detail", args.span_detail) if args.span_detail else ()
    results: dict[str, dict[str, float]] = {}
    functions: dict[str, dict[str, float]] = {}
    variants = variant_modes(args)
    modes = [m for m in MODES if m == "bare" or not args.modes or m in args.modes] + list(variants)
    if args.functions and sys.version_info < (3, 12):
        raise SystemExit("error: --functions needs Python 3.12 or later (perf trampolines)\n"
                         "hint: run this script with a venv made with python3.12")
    for mode in modes:
        out = workdir / f"callgrind.{stem(mode)}.out"
        valgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--dump-instr=no",
                    f"--callgrind-out-file={out}"]
        print(f"[{mode}] proxy under callgrind: starting (minutes) ...", file=sys.stderr, flush=True)
        env_extra = dict(variants.get(mode, {}), **({"PYTHONPERFSUPPORT": "1"} if args.functions else {}))
        proxy = start_proxy(mode, workdir, provider.base_url, counter.endpoint, valgrind=valgrind,
                            run_args=run_args, env_extra=env_extra)
        pid = ""
        try:
            wait_ready(proxy, timeout=1800)
            for stream in (False, True):
                load(proxy.url, 1, stream, total=10)
            time.sleep(args.settle)
            pid = str(_valgrind_pid(proxy, out))

            def control(*what: str) -> None:
                subprocess.run(["callgrind_control", *what, pid], check=True, capture_output=True)

            control("-i", "on")
            time.sleep(args.settle)
            control("-d")  # dump 1: the idle baseline
            with httpx.Client(base_url=proxy.url, timeout=300) as client:
                for stream in (False, True):
                    body = dict(BODY, stream=True) if stream else BODY
                    for _ in range(args.calls):
                        response = client.post("/v1/chat/completions", json=body,
                                               headers={"Authorization": f"Bearer {KEY}"})
                        assert response.status_code == 200, response.text
                        response.read()
                    time.sleep(args.settle)
                    control("-d")  # dumps 2 and 3: plain and streaming
            control("-i", "off")
        finally:
            stop(proxy, timeout=600)
        dumps = sorted(glob.glob(f"{out}*"), key=_dump_number)
        totals = [_totals(path) for path in dumps if _dump_number(path) > 0]
        if len(totals) < 3:
            raise SystemExit(f"{mode}: expected 3 callgrind dumps, got {dumps}")
        baseline, plain, streaming = totals[:3]
        results[mode] = {"plain": (plain - baseline) / args.calls, "stream": (streaming - baseline) / args.calls}
        if args.functions:
            plain_dump = next(path for path in dumps if _dump_number(path) == 2)
            functions[mode] = python_functions(plain_dump, args.calls)
    print(f"\nInstructions per request (callgrind, all threads; {args.calls} sequential chats, idle baseline "
          f"of {args.settle:g} s subtracted)")
    print("| | bare | recipe | run | recipe over bare | run over bare |")
    print("|---|---|---|---|---|---|")
    nan = float("nan")
    for kind in ("plain", "stream"):
        b, r, s = (results.get(m, {}).get(kind, nan) for m in MODES)
        print(f"| {'streaming' if kind == 'stream' else 'non-streaming'} | {b / 1e6:.2f} M | {r / 1e6:.2f} M | "
              f"{s / 1e6:.2f} M | {r / b - 1:+.1%} | {s / b - 1:+.1%} |")
    if variants:
        print("\nVariants of run (--variant) under callgrind: instructions per request, over bare and against run")
        print("| variant | non-streaming | over bare | against run | streaming | over bare | against run |")
        print("|---|---|---|---|---|---|---|")
        for mode in variants:
            cells = []
            for kind in ("plain", "stream"):
                v, b, s = (results.get(m, {}).get(kind, nan) for m in (mode, "bare", "run"))
                cells += [f"{v / 1e6:.2f} M", f"{v / b - 1:+.1%}", f"{(v - s) / 1e6:+.2f} M"]
            print(f"| {mode} | " + " | ".join(cells) + " |")
    if args.functions:
        print_functions(functions, args.functions)


def python_functions(dump: str, calls: int) -> dict[str, float]:
    """Inclusive instructions per request of each Python function in a callgrind dump of a process that ran
    with perf trampolines: callgrind names each trampoline by its address, /tmp/perf-<pid>.map names that."""
    import bisect
    import re

    pid = ""
    with open(dump) as handle:
        for line in handle:
            if line.startswith("pid:"):
                pid = line.split()[1]
                break
    ranges = []
    try:
        with open(f"/tmp/perf-{pid}.map") as handle:
            for line in handle:
                parts = line.rstrip("\n").split(" ", 2)
                if len(parts) == 3:
                    ranges.append((int(parts[0], 16), int(parts[1], 16), parts[2].removeprefix("py::")))
    except OSError:
        return {}
    ranges.sort()
    starts = [start for start, _, _ in ranges]
    text = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", dump],
                          capture_output=True, text=True).stdout
    found: dict[str, float] = {}
    for line in text.splitlines():
        match = re.match(r"\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+\?\?\?:0x([0-9a-f]+)('\d+)?\s", line)
        if not match:
            continue
        address = int(match.group(2), 16)
        i = bisect.bisect_right(starts, address) - 1
        if i < 0 or address >= ranges[i][0] + ranges[i][1]:
            continue
        name = ranges[i][2].replace(str(ROOT) + "/", "")
        name = re.sub(r"/\S*/site-packages/", "", name)
        cost = int(match.group(1).replace(",", "")) / calls
        found[name] = max(found.get(name, 0.0), cost)  # a recursive function: its outermost entry
    return found


def print_functions(functions: dict[str, dict[str, float]], top: int) -> None:
    bare = functions.get("bare", {})
    for mode in ("recipe", "run"):
        other = functions.get(mode)
        if not other:
            continue
        grown = sorted(((cost - bare.get(name, 0.0), name) for name, cost in other.items()), reverse=True)[:top]
        print(f"\nPython functions by inclusive instructions per non-streaming request, {mode} over bare "
              "(perf trampolines: the pieces compare, the totals are inflated)")
        print(f"| function | bare M | {mode} M | grown M |")
        print("|---|---|---|---|")
        for grew, name in grown:
            print(f"| {name} | {bare.get(name, 0.0) / 1e6:.3f} | {other[name] / 1e6:.3f} | {grew / 1e6:+.3f} |")


def _valgrind_pid(proxy: Proxy, out: Path) -> int:
    """The pid valgrind runs the proxy's interpreter in: the one started, since `run` and
    opentelemetry-instrument both exec their command."""
    return proxy.proc.pid


def _dump_number(path: str) -> int:
    tail = path.rsplit(".", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _totals(path: str) -> int:
    with open(path) as handle:
        for line in handle:
            if line.startswith(("totals:", "summary:")):
                return int(line.split()[1])
    raise SystemExit(f"no totals in {path}")


def variant(words: list[str], parser: argparse.ArgumentParser) -> tuple[str, dict[str, str]]:
    """`--variant LABEL VAR=VALUE ...` -> (LABEL, {VAR: VALUE})."""
    label, *assignments = words
    env = dict(a.split("=", 1) for a in assignments if "=" in a)
    if not assignments or len(env) != len(assignments) or not label.replace("-", "").isalnum():
        parser.error(f"--variant {' '.join(words)}: give a label (letters, digits, -) and then VAR=VALUE pairs, "
                     "e.g. --variant sdk-off OTEL_SDK_DISABLED=true")
    return label, env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=256,
                        help="answers a proxy's rate is taken over in a round, rounded up to a multiple of the "
                             "clients (default 256)")
    parser.add_argument("--in-turns", action="store_true",
                        help="load each proxy alone in a window of its own, in turns, instead of all at once")
    parser.add_argument("--seconds", type=float, default=6.0, help="with --in-turns: each window (default 6)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over every row and proxy (default 2)")
    parser.add_argument("--warm-up", type=float, default=5.0,
                        help="seconds of load at 16 clients per proxy, plain and streaming, before the rounds")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 16, 64], help="concurrent clients per row")
    parser.add_argument("--gap", type=float, default=1.5,
                        help="seconds between two windows, for the last one's spans to be exported (default 1.5: "
                             "run's 1 s schedule; 5.5 also clears the recipe's 5 s one)")
    parser.add_argument("--control", action="store_true",
                        help="measure a second bare proxy with the others: its ratio to bare shows how far the "
                             "machine's noise alone moves a ratio")
    parser.add_argument("--variant", nargs="+", action="append", default=[], metavar=("LABEL", "VAR=VALUE"),
                        help="measure a further run proxy, 'run LABEL', with these environment variables beside the "
                             "others (repeatable): what a part of run's cost is, e.g. --variant sdk-off "
                             "OTEL_SDK_DISABLED=true")
    parser.add_argument("--no-pin", action="store_true",
                        help="do not pin the proxies to one CPU and this script and the fake provider to the others")
    parser.add_argument("--calls", type=int, default=30, help="requests counted under callgrind (default 30)")
    parser.add_argument("--settle", type=float, default=7.0,
                        help="seconds of each callgrind window after its requests, and of the idle baseline "
                             "(default 7: the span processor exports every 5 s)")
    parser.add_argument("--no-instructions", action="store_true", help="skip the callgrind part")
    parser.add_argument("--only-instructions", action="store_true", help="only the callgrind part")
    parser.add_argument("--modes", nargs="+", choices=MODES, help="callgrind only these (bare is always run)")
    parser.add_argument("--span-detail", choices=("lean", "full"), help="passed to run (when it knows it)")
    parser.add_argument("--functions", type=int, metavar="N", default=0,
                        help="with Python 3.12+: list the N Python functions that grew most over bare (callgrind)")
    parser.add_argument("--keep", metavar="DIR", help="write the proxies' logs and callgrind files to DIR and keep "
                        "them (callgrind_annotate --inclusive=yes DIR/callgrind.run.out.2)")
    args = parser.parse_args()
    args.variant = [variant(words, parser) for words in args.variant]
    args.proxy_cpu, args.pinned = [], "not pinned"
    if not (args.no_pin or args.only_instructions):
        args.proxy_cpu, args.pinned = pin_cpus(together=not args.in_turns)  # before the receiver and provider
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
    with (contextlib.nullcontext(args.keep) if args.keep else tempfile.TemporaryDirectory()) as tmp, \
            ProviderProcess() as provider:
        counter = SpanCounter()
        try:
            if not args.only_instructions:
                print_throughput(throughput(args, Path(tmp), provider, counter))
            if not args.no_instructions:
                instructions(args, Path(tmp), provider, counter)
        finally:
            counter.close()


if __name__ == "__main__":
    main()
