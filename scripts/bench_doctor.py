"""Wall time of `signoz-litellm doctor` against endpoints that misbehave, on loopback.

Usage: .venv/bin/python scripts/bench_doctor.py [--runs N] [--full]

Each scenario runs `python -m signoz_litellm_run doctor --json` as a subprocess (by default with
`--fast`, which skips the LiteLLM import check; `--full` includes it) and prints the median wall
time, the exit status and the status of the check that catches the problem. The reference is
`python -c pass` started the same way, so start-up cost is visible.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from typing import Any

from signoz_litellm_run.loopback import SilentServer, unused_port
from signoz_litellm_run.receiver import Receiver

KEY = "bench-doctor-key-0123456789abcdef"


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    start = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    return time.monotonic() - start, done.returncode, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--full", action="store_true", help="include the LiteLLM import check")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SIGNOZ_"))}
    env.update(SIGNOZ_INGESTION_KEY=KEY, LITELLM_LOCAL_MODEL_COST_MAP="True")
    base = [sys.executable, "-m", "signoz_litellm_run", "doctor", "--json", *([] if args.full else ["--fast"])]

    with ExitStack() as stack:
        ok = stack.enter_context(Receiver(required_key=KEY))
        unavailable = stack.enter_context(Receiver(behavior="unavailable"))
        hang = stack.enter_context(Receiver(behavior="hang"))
        silent = stack.enter_context(SilentServer())
        scenarios: list[tuple[str, list[str], str]] = [
            ("accepted (grpc)", ["--endpoint", ok.grpc_endpoint], "export-grpc"),
            ("accepted + --send-test", ["--endpoint", ok.grpc_endpoint, "--send-test"], "send-test"),
            ("accepted (http)", ["--endpoint", ok.http_endpoint, "--protocol", "http/protobuf"], "export-http"),
            ("UNAVAILABLE", ["--endpoint", unavailable.grpc_endpoint], "export-grpc"),
            ("hang (receiver)", ["--endpoint", hang.grpc_endpoint], "export-grpc"),
            ("accepts, never answers", ["--endpoint", silent.endpoint], "export-grpc"),
            ("refused", ["--endpoint", f"http://127.0.0.1:{unused_port()}"], "tcp"),
            ("does not resolve", ["--endpoint", "http://nonexistent.invalid:4317"], "dns"),
        ]
        reference = [timed([sys.executable, "-c", "pass"], env)[0] for _ in range(args.runs)]
        print(f"{'python -c pass':28} {statistics.median(reference):6.2f} s")
        for label, extra, check_name in scenarios:
            times, statuses = [], set()
            for _ in range(args.runs):
                seconds, rc, stdout = timed(base + extra, env)
                report: dict[str, Any] = json.loads(stdout)
                times.append(seconds)
                statuses.add((rc, next(c["status"] for c in report["checks"] if c["name"] == check_name)))
            print(f"{label:28} {statistics.median(times):6.2f} s  max {max(times):5.2f} s  "
                  f"exit/status {sorted(statuses)}")


if __name__ == "__main__":
    main()
