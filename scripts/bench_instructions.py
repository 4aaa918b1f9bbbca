#!/usr/bin/env python3
"""Per-call cost in instructions, side by side with the plain recipe, in one run: a figure that does not move
with the machine's load (timings on a shared 2-core VM swing by 0.3 ms per call from run to run).

Each recipe (bare LiteLLM, the plain recipe SigNoz documents, `signoz-litellm run`) runs the same sync job
(tests/support/batch_app.py) against the same real OTLP receiver and fake provider on loopback, under
`valgrind --tool=callgrind` with instrumentation off; after 20 warm-up calls and a pause, counting is switched on
(`callgrind_control -i on`) for --calls calls plus 3 s for LiteLLM's callback threads and the span exporter to finish
with them, then off. All threads are counted. Reported: instructions per call and the cost over bare LiteLLM as a
ratio and in milliseconds at the bare call's measured speed (--bare-ms, the median bare call of
scripts/bench_batch.py on the same machine).

The counted calls' spans are exported within the window, in one batch at its end (the job flushes its tracer
provider before and after the calls; no timed export runs meanwhile): at valgrind's speed the usual one-second
schedule would export a few spans at a time and overstate the per-export costs, which a real job spreads over
hundreds of spans. Metric exports, once a minute whatever the number of calls, are left out (the export
interval is set to 10 minutes for both recipes; before, one would sometimes fall in a window). Instruction counts
leave out what the CPU does not execute (cache misses, thread switches), so the milliseconds are an estimate (the
code telemetry adds runs at fewer instructions per cycle than LiteLLM's own: timed, it costs more than this
estimate); the ratio is exact for the build measured.
A full garbage collection that falls in the window is counted too (the recipes that queue spans make them more
frequent; `run` freezes LiteLLM's import heap out of them).

Usage: .venv/bin/python scripts/bench_instructions.py [--calls 50] [--bare-ms 3.9] [--recipe NAME ...] [--env K=V ...]
(--env: set in every recipe's job, e.g. PROMPT_BYTES=2000 for 2 KB prompts, SIGNOZ_LITELLM_SCRUB=off to compare
scrubbing on and off, SIGNOZ_LITELLM_CAPTURE_CONTENT=none)
Needs valgrind (callgrind_control); about a minute per recipe.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_batch import APP, base_env, command  # noqa: E402
from signoz_litellm_run.receiver import Receiver  # noqa: E402
from tests.support.fake_provider import FakeProvider  # noqa: E402

RECIPES = ("bare", "plain", "signoz-litellm")


def instructions_per_call(recipe: str, receiver: Receiver, provider: FakeProvider, calls: int, workdir: str,
                          extra: dict[str, str] | None = None) -> float:
    out = os.path.join(workdir, f"callgrind.{recipe}.out")
    sync = os.path.join(workdir, f"sync.{recipe}")
    env = base_env(provider, {"CALLS": str(calls + 20), "SYNC": sync, "QUIET": "1",
                              "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "512", "OTEL_BSP_SCHEDULE_DELAY": "600000",
                              # The periodic metric export (once a minute) is kept out of the window: at
                              # valgrind's speed it would otherwise fall in some windows and not others.
                              "OTEL_METRIC_EXPORT_INTERVAL": "600000", **(extra or {})})
    cmd = command(recipe, receiver.grpc_endpoint, env)
    python = cmd.index(APP) - 1  # the job's interpreter, whatever launches it
    valgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--dump-instr=no", f"--callgrind-out-file={out}"]
    cmd[python:python] = valgrind
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    pid = ""
    for line in proc.stdout:
        if line.startswith("ready "):
            pid = line.split()[1]
            subprocess.run(["callgrind_control", "-i", "on", pid], check=True, capture_output=True)
            Path(sync + ".on").touch()
        elif line.startswith("settled"):
            subprocess.run(["callgrind_control", "-i", "off", pid], check=True, capture_output=True)
            Path(sync + ".off").touch()
            break
    proc.communicate(timeout=900)
    if not pid:
        raise SystemExit(f"{recipe}: the job ended before its counting window (status {proc.returncode})")
    total = sum(int(line.split()[1]) for path in glob.glob(out + "*") for line in open(path)
                if line.startswith("totals:"))
    return total / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50, help="calls counted per recipe (default 50)")
    parser.add_argument("--bare-ms", type=float, default=3.9,
                        help="the bare median call in ms on this machine, to turn ratios into ms (default 3.9)")
    parser.add_argument("--recipe", action="append", choices=RECIPES, help="only these recipes (bare is always run)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="an environment variable for every recipe's job (repeat for several)")
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.env)
    if not shutil.which("callgrind_control"):
        raise SystemExit("error: valgrind is not installed (callgrind_control not found)\nhint: apt install valgrind")
    recipes = ("bare", *[r for r in RECIPES[1:] if not args.recipe or r in args.recipe])
    counts: dict[str, float] = {}
    with Receiver() as receiver, FakeProvider() as provider, tempfile.TemporaryDirectory() as workdir:
        for recipe in recipes:
            print(f"[{recipe}] {args.calls} calls under callgrind ...", file=sys.stderr, flush=True)
            counts[recipe] = instructions_per_call(recipe, receiver, provider, args.calls, workdir, extra)
    bare = counts["bare"]
    print("| recipe | instructions per call | over bare LiteLLM | estimated ms per call over bare |")
    print("|---|---|---|---|")
    for recipe in recipes:
        ratio = counts[recipe] / bare
        print(f"| {recipe} | {counts[recipe] / 1e6:.2f} M | x{ratio:.3f} | "
              f"{(ratio - 1) * args.bare_ms:+.2f} ms |")


if __name__ == "__main__":
    main()
