#!/usr/bin/env python3
"""Benchmark: `opentelemetry-bootstrap -a install` versus `signoz-litellm bootstrap`, side by side.

Both act on the same throwaway environment (opentelemetry-instrumentation 0.66b1 + requests), whose
instrumentation set is `opentelemetry-bootstrap -a requirements` for it. Scenarios:

- ready:   every instrumentation package is installed;
- missing: one of them (opentelemetry-instrumentation-requests) was uninstalled before each trial.

Installers see only a local wheel directory (PIP_NO_INDEX + PIP_FIND_LINKS), filled once with
`pip download` (the only step that uses the network; reused afterwards). Also measured: what `run`
itself spends on bootstrap on a ready environment (module import + `ensure()`, in a fresh process),
and a whole `signoz-litellm run` with and without bootstrap.

Usage: .venv/bin/python scripts/bench_bootstrap.py [--trials N] [--work DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

OTEL = "0.66b1"
INSTRUMENTATIONS = ["asyncio", "dbapi", "exceptions", "logging", "sqlite3", "threading", "urllib", "wsgi",
                    "requests", "urllib3"]
DROPPED = "opentelemetry-instrumentation-requests"
LAUNCHER = [sys.executable, "-m", "signoz_litellm_run"]


def sh(cmd: list[str], env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}")
    return proc


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = sh(cmd, env, check=False)
    return time.perf_counter() - start, proc


def prepare(work: Path) -> tuple[Path, dict[str, str]]:
    wheels = work / "wheels"
    packages = [f"opentelemetry-instrumentation=={OTEL}", "requests",
                *(f"opentelemetry-instrumentation-{name}=={OTEL}" for name in INSTRUMENTATIONS)]
    if not (wheels / ".complete").exists():
        print(f"downloading wheels into {wheels} (once) ...", flush=True)
        sh([sys.executable, "-m", "pip", "download", "--quiet", "-d", str(wheels), *packages])
        (wheels / ".complete").write_text("\n".join(packages))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "SIGNOZ_", "UV_"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheels),
               PIP_DISABLE_PIP_VERSION_CHECK="1", XDG_CACHE_HOME=str(work / "cache"),
               LITELLM_LOCAL_MODEL_COST_MAP="True")
    env.pop("CI", None)
    # Bytecode as an installed package has it (this workplace sets PYTHONDONTWRITEBYTECODE).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    sh([sys.executable, "-m", "compileall", "-q", str(Path(__file__).resolve().parent.parent / "signoz_litellm_run")])
    target = work / "target"
    python = target / "bin" / "python"
    if not python.exists():
        print(f"creating {target} ...", flush=True)
        sh([sys.executable, "-m", "venv", str(target)])
        sh([str(python), "-m", "pip", "install", "--quiet", f"opentelemetry-instrumentation=={OTEL}", "requests"], env)
    wanted = sh([str(target / "bin" / "opentelemetry-bootstrap"), "-a", "requirements"], env).stdout.split()
    print(f"opentelemetry-bootstrap -a requirements names {len(wanted)}: {' '.join(wanted)}")
    sh([str(python), "-m", "pip", "install", "--quiet", *wanted], env)  # start ready
    return python, env


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "signoz-bench-bootstrap")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    python, env = prepare(args.work)
    otel_bootstrap = [str(python.parent / "opentelemetry-bootstrap"), "-a", "install"]
    ours = [*LAUNCHER, "bootstrap", "--python", str(python)]
    uninstall = [str(python), "-m", "pip", "uninstall", "--quiet", "--yes", DROPPED]
    results: dict[str, list[float]] = {}

    def record(name: str, seconds: float, proc: subprocess.CompletedProcess[str]) -> None:
        results.setdefault(name, []).append(seconds)
        if proc.returncode != 0:
            print(f"  {name}: exit {proc.returncode}: {(proc.stdout + proc.stderr).strip().splitlines()[-1:]}")

    sh(ours, env)  # warm our cache once, as any previous run would have
    for trial in range(args.trials):
        print(f"trial {trial + 1}/{args.trials}", flush=True)
        record("ready: opentelemetry-bootstrap -a install", *timed(otel_bootstrap, env))
        record("ready: signoz-litellm bootstrap", *timed(ours, env))
        sh(uninstall, env)
        record("missing: opentelemetry-bootstrap -a install", *timed(otel_bootstrap, env))
        sh(uninstall, env)
        record("missing: signoz-litellm bootstrap", *timed(ours, env))
        # What `run` spends: importing the module and ensure() on the ready environment, in a fresh
        # process that has already imported what `run` imports before it.
        probe = ("import time; from signoz_litellm_run import cli, runner; t = time.perf_counter(); "
                 "from signoz_litellm_run import bootstrap; "
                 f"r = bootstrap.ensure({str(python)!r}, 120); print(time.perf_counter() - t, r.status, r.plan.cached)")
        out = sh([sys.executable, "-c", probe], env).stdout.split()
        assert out[1:] == ["ready", "True"], out
        results.setdefault("ready: bootstrap inside run (import + ensure)", []).append(float(out[0]))
        job = ["run", "--endpoint", "http://127.0.0.1:9"]
        record("ready: signoz-litellm run --no-bootstrap -- python -c pass",
               *timed([*LAUNCHER, *job, "--no-bootstrap", "--", str(python), "-c", "pass"], env))
        record("ready: signoz-litellm run -- python -c pass",
               *timed([*LAUNCHER, *job, "--", str(python), "-c", "pass"], env))

    print()
    print(f"| what (median of {args.trials}) | seconds |")
    print("|---|---|")
    for name, values in results.items():
        print(f"| {name} | {median(values):.3f} |")
    ratio_ready = median(results["ready: opentelemetry-bootstrap -a install"]) / median(results["ready: signoz-litellm bootstrap"])
    ratio_missing = (median(results["missing: opentelemetry-bootstrap -a install"])
                     / median(results["missing: signoz-litellm bootstrap"]))
    in_run = median(results["ready: opentelemetry-bootstrap -a install"]) / median(
        results["ready: bootstrap inside run (import + ensure)"])
    added = (median(results["ready: signoz-litellm run -- python -c pass"])
             - median(results["ready: signoz-litellm run --no-bootstrap -- python -c pass"]))
    print()
    print(f"ready:   opentelemetry-bootstrap / signoz-litellm bootstrap = {ratio_ready:.1f}x "
          f"(/ bootstrap inside run = {in_run:.0f}x)")
    print(f"missing: opentelemetry-bootstrap / signoz-litellm bootstrap = {ratio_missing:.1f}x")
    print(f"run with bootstrap minus run --no-bootstrap (ready): {added * 1000:+.0f} ms (noise included)")


if __name__ == "__main__":
    main()
