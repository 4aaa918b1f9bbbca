"""A LiteLLM batch job, configured by environment variables; used by tests/test_batch_*.py and
scripts/bench_batch.py (run as a script, never imported by them).

CALLS (default 5)       number of chat completions
MODE                    "sync" (default) or "async" (asyncio.run with CONCURRENCY concurrent acompletion)
CONCURRENCY             async concurrency (default: CALLS)
FAKE_BASE               the fake provider's base URL
APP_OTEL=1              set litellm.callbacks = ["otel"] as SigNoz's guide tells users (the plain recipe)
APP_HANDLER=<status>    install a SIGTERM handler that prints APP-HANDLER and exits with <status>
APP_IGNORE=1            ignore SIGTERM
WAIT=<seconds>          after the calls, sleep this long (a job waiting to be cancelled)
END=exit:<n> | raise    end with sys.exit(n) or an uncaught exception (default: fall off the end)
TIMING=1                print "timing <median ms per call> <mean ms> <process CPU ms per call>" over the sync calls
                        after 20 warm-up calls and a 2 s pause (LiteLLM's first success callback imports its
                        callback registry on a background thread, ~0.7 s of CPU once; the pause keeps that
                        one-time cost out of the per-call figures); CPU: all threads, from time.process_time
POOL=<workers>          make one call, pause 2 s, then make the CALLS calls in a multiprocessing Pool of that many
                        fork workers, closed and joined (its workers end with os._exit(), skipping atexit)
QUIET=1                 do not print "done <i>" lines
PROMPT_BYTES=<n>        append n characters of context to each call's prompt (a long-prompt job: LiteLLM puts the
                        prompt on the call's span); SINGLE_HUGE=<n>: also one call with n characters, in the middle
SYNC=<path>             (scripts/bench_instructions.py) after 20 warm-up calls, a 2 s pause and until the process is
                        idle (under a tenth of a CPU over 0.5 s, at most 300 s), export the spans
                        queued so far, print "ready <pid>" and wait for <path>.on; after the calls wait SETTLE
                        seconds (default 3) for LiteLLM's callbacks, export the calls' spans, print "settled" and
                        wait for <path>.off: the window in which a profiler counts the calls, their spans' export
                        included (whatever tracer provider the process has; none for bare LiteLLM)
Prints "done <i>" after each completed call, and "getsignal ..." lines when SIGTERM / SIGINT look untouched.
"""

import os
import signal
import sys
import time

import litellm

if os.environ.get("APP_OTEL"):
    litellm.callbacks = ["otel"]
if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
    print("getsignal SIG_DFL", flush=True)
if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    print("getsignal SIGINT default_int_handler", flush=True)
if os.environ.get("APP_HANDLER"):
    def _handler(signum, frame):
        print("APP-HANDLER", signum, flush=True)
        sys.exit(int(os.environ["APP_HANDLER"]))

    signal.signal(signal.SIGTERM, _handler)
if os.environ.get("APP_IGNORE"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

CALLS = int(os.environ.get("CALLS", "5"))
ARGS = {"model": "openai/gpt-4o-mini", "api_base": os.environ.get("FAKE_BASE"), "api_key": "sk-fake"}


QUIET = bool(os.environ.get("QUIET"))
_CONTEXT = ("lorem ipsum dolor sit amet " * (int(os.environ.get("PROMPT_BYTES") or 0) // 27 + 1))[
    :int(os.environ.get("PROMPT_BYTES") or 0)]
_HUGE = int(os.environ.get("SINGLE_HUGE") or 0)


def prompt(i: int) -> str:
    """The i-th call's prompt: "hello <i>", plus the context asked for."""
    if _HUGE and i == CALLS // 2:
        return f"hello {i} " + "x" * _HUGE
    return f"hello {i} {_CONTEXT}" if _CONTEXT else f"hello {i}"


def _wait_for(path: str) -> None:
    while not os.path.exists(path):
        time.sleep(0.05)


def export_spans() -> None:
    """Export the spans the process's tracer provider holds, if it has one (bare LiteLLM has none)."""
    from opentelemetry import trace

    flush = getattr(trace.get_tracer_provider(), "force_flush", None)
    if flush is not None:
        flush()


def _until_idle(most: float = 300) -> None:
    """Wait (at most `most` seconds) until the process's threads use under a tenth of a CPU over half a second:
    under callgrind, LiteLLM's one-time import on its callback thread can outlast the 2 s pause by far."""
    deadline = time.monotonic() + most
    while time.monotonic() < deadline:
        cpu = time.process_time()
        time.sleep(0.5)
        if time.process_time() - cpu < 0.05:
            return


def run_sync() -> None:
    durations = []
    cpu_mark = 0.0
    sync = os.environ.get("SYNC")
    for i in range(CALLS):
        if i == 20 and (os.environ.get("TIMING") or sync):
            time.sleep(2)
            cpu_mark = time.process_time()
            if sync:
                _until_idle()
                export_spans()
                print("ready", os.getpid(), flush=True)
                _wait_for(sync + ".on")
        started = time.perf_counter()
        litellm.completion(messages=[{"role": "user", "content": prompt(i)}], **ARGS)
        durations.append(time.perf_counter() - started)
        if not QUIET:
            print(f"done {i}", flush=True)
    if sync:
        time.sleep(float(os.environ.get("SETTLE", "3")))
        export_spans()
        print("settled", flush=True)
        _wait_for(sync + ".off")
    if os.environ.get("TIMING") and len(durations) > 20:
        import statistics

        kept = durations[20:]
        cpu = (time.process_time() - cpu_mark) / len(kept)
        print(f"timing {statistics.median(kept) * 1000:.3f} {statistics.fmean(kept) * 1000:.3f} {cpu * 1000:.3f}",
              flush=True)


def run_async() -> None:
    import asyncio

    async def main() -> None:
        gate = asyncio.Semaphore(int(os.environ.get("CONCURRENCY") or CALLS))

        async def one(i: int) -> None:
            async with gate:
                await litellm.acompletion(messages=[{"role": "user", "content": prompt(i)}], **ARGS)
                if not QUIET:
                    print(f"done {i}", flush=True)

        await asyncio.gather(*(one(i) for i in range(CALLS)))

    asyncio.run(main())


def _pool_call(i: int) -> int:
    litellm.completion(messages=[{"role": "user", "content": f"hello {i}"}], **ARGS)
    return os.getpid()


def run_pool() -> None:
    import multiprocessing

    litellm.completion(messages=[{"role": "user", "content": "parent"}], **ARGS)
    time.sleep(2)  # the parent's first callback (module imports) is done: no fork waits for it
    with multiprocessing.get_context("fork").Pool(int(os.environ["POOL"])) as pool:
        workers = len(set(pool.map(_pool_call, range(CALLS), chunksize=1)))
        pool.close()
        pool.join()
    print("done pool", workers, flush=True)


if os.environ.get("POOL"):
    run_pool()
else:
    (run_async if os.environ.get("MODE") == "async" else run_sync)()
if os.environ.get("WAIT"):
    time.sleep(float(os.environ["WAIT"]))
END = os.environ.get("END", "")
if END.startswith("exit:"):
    sys.exit(int(END[5:]))
if END == "raise":
    raise RuntimeError("the batch job failed")
