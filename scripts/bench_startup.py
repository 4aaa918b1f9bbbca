#!/usr/bin/env python3
"""Start-up cost of the launcher against the plain recipe, in one run, alternating order.

Measures the wall time of
    signoz-litellm run -- python -c pass
against
    opentelemetry-instrument python -c pass     (with the equivalent OTEL_* environment, OpenTelemetry's distro)
both exporting to the same local OTLP receiver, and bare `python -c pass`, and reports medians and the median ratio
of the interleaved pairs. Also, in the same rounds:
- the launcher's own cost, from its start to the exec: `signoz-litellm run -- true` less `true`, over bare Python;
- `--local`: how much later the command starts than under plain `run` (the command is `date +%s.%N`, which prints
  when it started);
- what the command's Python process under `run` still imports (`python -X importtime -c pass`: the heaviest
  top-level imports, and how many OpenTelemetry modules).
Our package's modules are compiled first (`compileall`), as pip does when it installs; an editable checkout with
PYTHONDONTWRITEBYTECODE would otherwise compile them in every process.

With --instructions, it also counts the instructions the command's Python process executes from start to exit
(`valgrind --tool=callgrind --trace-children=yes`; both launchers exec it, and the count kept for a process is its
last image's, so the launchers' own start is not in it): the cost the hook adds to every Python process of a
job, in a figure that does not move with the machine's load; and each launcher's own, from its start to the exec
(its Python run with the exec replaced by an exit). About 15 s per command.

Usage: python scripts/bench_startup.py [--runs 21] [--json] [--instructions]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from signoz_litellm_run.receiver import Receiver  # noqa: E402

BIN = Path(sys.executable).parent


def _env(endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SIGNOZ_", "PYTHONPATH"))}
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    return env


def _recipe_env(endpoint: str) -> dict[str, str]:
    """What SigNoz's LiteLLM guide has the user export before `opentelemetry-instrument`."""
    env = _env(endpoint)
    env.update({
        "OTEL_SERVICE_NAME": "bench",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_PYTHON_LOG_CORRELATION": "true",
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "openai",
        "LITELLM_OTEL_INTEGRATION_ENABLE_METRICS": "true",
        "OTEL_PYTHON_DISTRO": "distro",
    })
    return env


def _time(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    return time.perf_counter() - start


def _start_delay(argv: list[str], env: dict[str, str]) -> float:
    """Seconds from starting `argv` (which ends in the command `date +%s.%N`) to the command's start."""
    start = time.time()
    out = subprocess.run([*argv, "date", "+%s.%N"], env=env, check=True, capture_output=True, text=True, timeout=120)
    return float(out.stdout.split()[0]) - start


def _instructions(argv: list[str], env: dict[str, str]) -> int:
    """Instructions the command's last image executes (the Python process a launcher execs), with any children."""
    with tempfile.TemporaryDirectory() as workdir:
        out = os.path.join(workdir, "callgrind.%p")
        subprocess.run(["valgrind", "--tool=callgrind", "--trace-children=yes", "--dump-instr=no",
                        f"--callgrind-out-file={out}", *argv], env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=600)
        return sum(int(line.split()[1]) for name in os.listdir(workdir)
                   for line in open(os.path.join(workdir, name)) if line.startswith("totals:"))


# Each launcher's Python, from its start to its exec, which exits instead (callgrind keeps no count for an image
# that execs): the console script's own code, with `os.execve` / `os.execl` replaced.
_OURS_TO_EXEC = ("import os, sys; os.execve = lambda *a: os._exit(0); sys.argv = ['signoz-litellm', *sys.argv[1:]]; "
                 "from signoz_litellm_run.entry import main; main()")
_RECIPE_TO_EXEC = ("import os, sys; os.execl = lambda *a: os._exit(0); sys.argv = ['opentelemetry-instrument', "
                   "*sys.argv[1:]]; import opentelemetry.instrumentation.auto_instrumentation as a; a.execl = os.execl;"
                   " a.run()")


def _importtime(argv: list[str], env: dict[str, str], top: int = 8) -> tuple[list[tuple[str, float]], int, int]:
    """The heaviest top-level imports of `argv`'s Python (ms, cumulative), its module count and OpenTelemetry's."""
    result = subprocess.run(argv, env=env, check=True, capture_output=True, text=True, timeout=120)
    rows = []
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = line[len("import time:"):].split("|")
            if cumulative.strip().isdigit():
                rows.append((name.rstrip(), int(cumulative) / 1000))
    # The heaviest imports at any depth but `site`'s own (which holds everything sitecustomize imports)
    top_level = sorted(((n.strip(), ms) for n, ms in rows if n.strip() != "site"), key=lambda r: -r[1])
    otel = sum(1 for n, _ in rows if n.strip().startswith("opentelemetry"))
    return top_level[:top], len(rows), otel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--instructions", action="store_true", help="also count instructions (needs valgrind)")
    args = parser.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "signoz_litellm_run")], check=True,
                   stdout=subprocess.DEVNULL)

    with Receiver() as receiver:
        endpoint = receiver.grpc_endpoint
        run = [str(BIN / "signoz-litellm"), "run", "--endpoint", endpoint, "--no-bootstrap", "--"]
        ours = [*run, sys.executable, "-c", "pass"]
        recipe = [str(BIN / "opentelemetry-instrument"), sys.executable, "-c", "pass"]
        bare = [sys.executable, "-c", "pass"]
        true = shutil.which("true") or "/bin/true"
        cases = {"signoz-litellm run": (ours, _env(endpoint)), "opentelemetry-instrument": (recipe, _recipe_env(endpoint)),
                 "bare python": (bare, _env(endpoint)), "signoz-litellm run -- true": ([*run, true], _env(endpoint)),
                 "true": ([true], _env(endpoint))}
        local = [str(BIN / "signoz-litellm"), "run", "--local", "--no-bootstrap", "--"]
        for argv, env in cases.values():  # warm the file cache (and write the hook's entry-point cache)
            _time(argv, env)
        times: dict[str, list[float]] = {name: [] for name in cases}
        delays: dict[str, list[float]] = {"run": [], "run --local": []}
        ratios = []
        for i in range(args.runs):
            order = list(cases) if i % 2 == 0 else list(reversed(cases))
            sample = {name: _time(*cases[name]) for name in order}
            for name, value in sample.items():
                times[name].append(value)
            ratios.append(sample["signoz-litellm run"] / sample["opentelemetry-instrument"])
            for name in (("run", "run --local") if i % 2 == 0 else ("run --local", "run")):
                delays[name].append(_start_delay(run if name == "run" else local, _env(endpoint)))
        imports = _importtime([*run, sys.executable, "-X", "importtime", "-c", "pass"], _env(endpoint))
        counts: dict[str, int] = {}
        if args.instructions:
            counts = {name: _instructions(*cases[name]) for name in ("signoz-litellm run", "opentelemetry-instrument",
                                                                        "bare python")}
            counts["signoz-litellm launcher to exec"] = _instructions(
                [sys.executable, "-c", _OURS_TO_EXEC, *ours[1:]], _env(endpoint))
            counts["opentelemetry-instrument launcher to exec"] = _instructions(
                [sys.executable, "-c", _RECIPE_TO_EXEC, *recipe[1:]], _recipe_env(endpoint))

    medians = {name: statistics.median(values) for name, values in times.items()}
    result: dict[str, object] = {name: round(value, 4) for name, value in medians.items()}
    result["median ratio (ours / recipe)"] = round(statistics.median(ratios), 3)
    result["runs"] = args.runs
    launcher = medians["signoz-litellm run -- true"] - medians["true"]
    result["launcher to exec (s)"] = round(launcher, 4)
    result["launcher to exec over bare python (s)"] = round(launcher - medians["bare python"], 4)
    start_delays = {name: statistics.median(values) for name, values in delays.items()}
    result["command start delay (s)"] = {name: round(value, 4) for name, value in start_delays.items()}
    result["--local delays the command's start by (s)"] = round(start_delays["run --local"] - start_delays["run"], 4)
    top, modules, otel = imports
    result["child imports (python -X importtime -c pass under run)"] = {
        "modules": modules, "opentelemetry modules": otel, "heaviest (ms)": {n: round(ms, 1) for n, ms in top}}
    for name, count in counts.items():
        result[f"{name} instructions (M)"] = round(count / 1e6, 1)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{'case':<32} {'median s':>10}")
    for name in cases:
        print(f"{name:<32} {medians[name]:>10.3f}")
    print(f"median ratio signoz-litellm / opentelemetry-instrument: {result['median ratio (ours / recipe)']:.3f} "
          f"over {args.runs} alternating runs")
    print(f"launcher from start to exec: {launcher * 1000:.1f} ms, {result['launcher to exec over bare python (s)'] * 1000:.1f} "  # type: ignore[operator]
          "ms over bare python")
    print(f"command start: {start_delays['run'] * 1000:.1f} ms after the launcher's under run, "
          f"{start_delays['run --local'] * 1000:.1f} ms under run --local "
          f"(+{(start_delays['run --local'] - start_delays['run']) * 1000:.1f} ms)")
    print(f"python -X importtime -c pass under run: {modules} modules imported, {otel} of them OpenTelemetry's; "
          "heaviest imports (cumulative):")
    for name, ms in top:
        print(f"  {name:<40} {ms:>8.1f} ms")
    if counts:
        print(f"{'process':<44} {'instructions':>12}")
        for name, count in counts.items():
            print(f"{name:<44} {count / 1e6:>10.1f} M")
        ours_total = counts["signoz-litellm run"] + counts["signoz-litellm launcher to exec"]
        recipe_total = counts["opentelemetry-instrument"] + counts["opentelemetry-instrument launcher to exec"]
        print(f"instruction ratio signoz-litellm / opentelemetry-instrument, command's process: "
              f"{counts['signoz-litellm run'] / counts['opentelemetry-instrument']:.3f}; launcher and command: "
              f"{ours_total / recipe_total:.3f}")


if __name__ == "__main__":
    main()
