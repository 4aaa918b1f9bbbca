#!/usr/bin/env python3
"""What secret scrubbing costs per LLM call, in instructions (callgrind): a figure that does not move with the
machine's load, as in scripts/bench_instructions.py.

A call's exported values are: its messages as LiteLLM puts them on the span (`gen_ai.input.messages`: a system
message and a ~2 KB user prompt of prose, a code excerpt, a URL and JSON; `gen_ai.output.messages`: a ~1 KB
completion), plus 24 short strings (model, ids, finish reason, ...). One "call" below runs `Scrubber.scrub_value`
on each of them. The prompt is measured clean and with three secrets planted (an OpenAI key, a `password=` pair,
an e-mail address); with the default kinds, with `pii=True`, with one user pattern; the baseline runs the same
loop with a function that returns its argument. Each scenario is a window of --calls calls in one child process
under `valgrind --tool=callgrind --instr-atstart=no`, counting switched on and off (`callgrind_control -i`)
around it and dumped after it; the child waits on its stdin between windows, so the waits cost nothing. Also
counted, once: importing `hook/scrub.py` and building the first Scrubber (which compiles the patterns).

Then, without valgrind, wall times for what user patterns may do: `(a+)+$` and `.*a.*b` (exponential and cubic:
refused when the Scrubber is built), `.*z` on a 64 KB value, which backtracks quadratically and is stopped by the
per-value budget, and `[\s\S]+`, which matches everything.

Usage: .venv/bin/python scripts/bench_scrub.py [--calls 200]
Needs valgrind (callgrind_control); about a minute.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROSE = (
    "You are the support assistant for Acme Cloud. Answer the customer's question using only the context below. "
    "If the context does not hold the answer, say so and suggest opening a ticket; never invent limits or prices. "
    "Keep the answer under 200 words, friendly and precise, and end with a link to the relevant page.\n\n"
    "Context: Acme Cloud projects are billed monthly. Each project has a quota of 40 build minutes per day on the "
    "free tier and 2,000 on the team tier. Tokens for the API are created in Settings > Access, expire after 90 "
    "days, and can be limited to one project. The key rotation guide explains how to replace a token without "
    "downtime: create the new one, deploy it, then revoke the old one. Logs are kept for 14 days (team: 30). "
    "Build minutes are counted from the moment a runner picks the job up until it reports a result, so queued "
    "time is free but time spent on retries, cancelled steps and cache uploads is not. Team quotas are shared by "
    "all projects of an organisation; the usage page lists minutes per project and per day for the last 31 days. "
    "When a quota is exceeded, running builds finish but new ones are refused until midnight UTC; an owner can "
    "raise the limit for the rest of the month from the billing page, and support can grant a one-off extension "
    "after an incident on our side. Self-hosted runners never count against the quota.\n"
    "Status page: https://status.acme-cloud.example.com/incidents?since=2024-05-01 and the docs at "
    "https://docs.acme-cloud.example.com/guides/rotation.\n\n"
    "Customer message: Hi! Since Tuesday our deploys fail with 'quota exceeded' although we only ran 12 builds. "
    "Our config is below; we're on the team plan (order #A-77120, invoice 2024-0412).\n"
    "```yaml\nproject: web-frontend\nregion: eu-west-1\nbuild:\n  command: npm run build\n  cache: true\n"
    "  timeout_minutes: 25\nnotify:\n  channel: '#deploys'\n```\n"
    '{"last_build": {"id": "b-5521", "status": "failed", "duration_s": 1493, "started": "2024-05-07T09:12:44Z"}}\n'
    "Could you tell us what counts against the quota and whether cancelled builds are included? Thanks, Dana"
)
COMPLETION = (
    "Hi Dana, thanks for the details! On the team tier your project has 2,000 build minutes per day, and every "
    "minute a build runs counts against it, including builds that were cancelled part-way or failed. With a "
    "25-minute timeout, twelve builds can use up to 300 minutes, so 12 builds alone should not exceed the quota. "
    "Two things to check: first, whether other projects in the same organisation share the quota (team quotas are "
    "per organisation, not per project); second, whether retries of failed builds were started automatically, "
    "since each retry is a new build. The build b-5521 ran for almost 25 minutes before failing, which suggests it "
    "hit the timeout. If the numbers still don't add up, please open a ticket with your order number so we can "
    "look at the usage records. More at https://docs.acme-cloud.example.com/guides/quotas."
)
SECRETS = (" Our deploy key is sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7dEf0hIj3kLm6n, the staging "
           "password=Tr0ub4dor-3, and you can reach me at dana.lee@example.org.")
SHORT = ["gpt-4o-mini", "chat", "openai", "chatcmpl-9x8y7z6w5v4u3t2s1r", "stop", "litellm_request", "acme-support",
         "user-42", "sess-7", "2024-05-07T09:13:02Z", "https://api.openai.com/v1", "completion", "eu-west-1",
         "200", "POST", "application/json", "web-frontend", "nightly", "eval", "acme", "gpt-4o-mini-2024-07-18",
         "fp_44709d6fcb", "assistant", "text"]
SCENARIOS = ("baseline", "default, clean, the 2 messages only", "default, clean", "default, secrets", "pii, clean",
             "pii, secrets", "default + 1 pattern, clean")


def call_values(prompt: str) -> list:
    messages = json.dumps([{"role": "system", "content": "You are a helpful support assistant."},
                           {"role": "user", "content": prompt}])
    output = json.dumps([{"role": "assistant", "content": COMPLETION, "finish_reason": "stop"}])
    return [messages, output, *SHORT]


def child(calls: int) -> None:
    """Runs in the process callgrind counts: one window per scenario, waiting on stdin between them."""
    import re  # noqa: F401  (imported by any process the hook runs in; not the scrubber's cost)

    import signoz_litellm_run.hook  # noqa: F401  (as is the hook's package)

    def window(name: str) -> None:
        print(f"ready {name}", flush=True)
        sys.stdin.readline()

    def settled() -> None:
        print("settled", flush=True)
        sys.stdin.readline()

    window("import + first Scrubber")
    from signoz_litellm_run.hook import scrub
    scrub.Scrubber()
    settled()

    clean, dirty = call_values(PROSE), call_values(PROSE + SECRETS)
    default, pii = scrub.Scrubber(), scrub.Scrubber(pii=True)
    custom = scrub.Scrubber(extra_patterns=[r"ACME-\d{6}"])
    assert not any(default.scrub_value(v)[1] for v in clean), "the clean call must be clean"
    assert len(PROSE.encode()) >= 2000, len(PROSE.encode())

    def identity(value: object) -> tuple:
        return value, ()

    runs = {"baseline": (identity, clean), "default, clean": (default.scrub_value, clean),
            "default, clean, the 2 messages only": (default.scrub_value, clean[:2]),
            "default, secrets": (default.scrub_value, dirty), "pii, clean": (pii.scrub_value, clean),
            "pii, secrets": (pii.scrub_value, dirty), "default + 1 pattern, clean": (custom.scrub_value, clean)}
    for name in SCENARIOS:
        fn, values = runs[name]
        for _ in range(20):  # warm-up
            for value in values:
                fn(value)
        window(name)
        for _ in range(calls):
            for value in values:
                fn(value)
        settled()


def counted(calls: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as workdir:
        out = os.path.join(workdir, "callgrind.out")
        cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--dump-instr=no", f"--callgrind-out-file={out}",
               sys.executable, __file__, "--child", "--calls", str(calls)]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        assert proc.stdin is not None and proc.stdout is not None
        totals: dict[str, float] = {}
        name = ""
        for line in proc.stdout:
            if line.startswith("ready "):
                name = line[6:].strip()
                print(f"[{name}] ...", file=sys.stderr, flush=True)
                subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True, capture_output=True)
            elif line.startswith("settled"):
                subprocess.run(["callgrind_control", "-i", "off", str(proc.pid)], check=True, capture_output=True)
                before = set(glob.glob(out + ".*"))
                subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True, capture_output=True)
                (dump,) = set(glob.glob(out + ".*")) - before
                with open(dump) as rows:
                    totals[name] = sum(int(row.split()[1]) for row in rows if row.startswith(("totals:", "summary:")))
            else:
                continue
            proc.stdin.write("\n")
            proc.stdin.flush()
        proc.wait(timeout=600)
        if len(totals) != len(SCENARIOS) + 1:
            raise SystemExit(f"the child ended early (status {proc.returncode}); windows counted: {list(totals)}")
        return totals


def pathological() -> list[str]:
    from signoz_litellm_run.hook import scrub

    lines = []
    for pattern in ("(a+)+$", ".*a.*b"):
        started = time.perf_counter()
        try:
            scrub.Scrubber(extra_patterns=[pattern])
            lines.append(f"`{pattern}`: accepted (unexpected)")
        except scrub.PatternError as exc:
            lines.append(f"`{pattern}`: refused in {(time.perf_counter() - started) * 1e3:.1f} ms: {exc.reason}")
    value = "a" * 65536
    slow = scrub.Scrubber(extra_patterns=[r".*z"])
    started = time.perf_counter()
    out, kinds = slow.scrub(value)
    took = time.perf_counter() - started
    scanned = out.find("[REDACTED:")
    lines.append(f"`.*z` on a 64 KB value: {took * 1e3:.0f} ms (budget {scrub.CUSTOM_BUDGET_S * 1e3:.0f} ms + one "
                 f"{scrub.WINDOW}-character window), {scanned if scanned >= 0 else len(value)} characters scanned, "
                 f"kinds {kinds}")
    everything = scrub.Scrubber(extra_patterns=[r"[\s\S]+"])
    started = time.perf_counter()
    out, kinds = everything.scrub(value)
    lines.append(f"`[\\s\\S]+` on a 64 KB value: {(time.perf_counter() - started) * 1e3:.1f} ms -> {out!r}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="calls counted per scenario (default 200)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.calls)
        return
    if not shutil.which("callgrind_control"):
        raise SystemExit("error: valgrind is not installed (callgrind_control not found)\nhint: apt install valgrind")
    import py_compile  # the child imports the module from its .pyc, as an installed package does

    py_compile.compile(str(ROOT / "signoz_litellm_run" / "hook" / "scrub.py"), doraise=True)
    totals = counted(args.calls)
    base = totals["baseline"] / args.calls
    values = call_values(PROSE)
    size = sum(len(v) for v in values)
    print(f"One call: {len(values)} values, {size:,} characters ({len(values[0]):,} + {len(values[1]):,} of "
          f"messages); {args.calls} calls per scenario, {sys.version.split()[0]}.\n")
    print("| scenario | instructions per call | over the baseline |")
    print("|---|---|---|")
    for name in SCENARIOS:
        per = totals[name] / args.calls
        base_here = base * 2 / len(values) if "only" in name else base
        over = "" if name == "baseline" else f"{(per - base_here) / 1e3:+,.0f} K"
        print(f"| {name} | {per / 1e3:,.0f} K | {over} |")
    print(f"| import + first Scrubber (once a process) | {totals['import + first Scrubber'] / 1e6:,.2f} M | |")
    print()
    for line in pathological():
        print(f"- {line}")


if __name__ == "__main__":
    main()
