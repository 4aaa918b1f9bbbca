#!/usr/bin/env python3
"""What one OpenTelemetry metric record costs, in instructions (callgrind): the SDK's own path, with
`hook/metric_record.py` (attribute copy and series key kept), and with `hook/metric_direct.py` on top (a seen
attribute set straight to its aggregations), as `run` installs them.

Each pass records a histogram value with the 8 attributes of a LiteLLM GenAI histogram and adds 1 to an up-down
counter with the 5 of the ASGI middleware's `http.server.active_requests`, with the exemplar filter off (as `run`
sets it), through a MeterProvider with one in-memory reader. Each mode runs in a child Python under callgrind
twice, with --passes and with 1,000 more; the difference divided by 1,000 is the cost of one pass (the start-up and
imports cancel out).

Usage: .venv/bin/python scripts/bench_metric_record.py [--passes 1000]
Needs valgrind; about a minute.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXTRA = 1000

CHILD = r"""
import os, sys
os.environ["OTEL_METRICS_EXEMPLAR_FILTER"] = "always_off"
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
mode = sys.argv[2]
if mode != "sdk":
    from signoz_litellm_run.hook import metric_record
    metric_record.install()
if mode == "direct":
    from signoz_litellm_run.hook import metric_direct
    assert metric_direct.install(), "this opentelemetry-sdk is not the one metric_direct was written against"
provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
meter = provider.get_meter("bench")
histogram = meter.create_histogram("gen_ai.client.operation.duration")
counter = meter.create_up_down_counter("http.server.active_requests")
for i in range(int(sys.argv[1])):
    histogram.record(0.5 + i % 7, attributes={
        "gen_ai.operation.name": "acompletion", "gen_ai.system": "openai", "gen_ai.request.model": "fake-model",
        "gen_ai.framework": "litellm", "gen_ai.response.model": "fake-model", "metadata.user_api_key_alias": "k",
        "metadata.user_api_key_team_alias": "t", "gen_ai.token.type": "input"})
    counter.add(1, {"http.method": "POST", "http.scheme": "http", "http.server_name": "127.0.0.1:4000",
                    "http.flavor": "1.1", "http.host": "127.0.0.1:4000"})
"""


def instructions(passes: int, mode: str, directory: str) -> int:
    out = os.path.join(directory, f"callgrind.{mode}.{passes}")
    result = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-c",
                             CHILD, str(passes), mode], capture_output=True, text=True, cwd=ROOT)
    found = re.search(r"Collected : (\d+)", result.stderr)
    if result.returncode != 0 or not found:
        raise SystemExit(f"error: the {mode} child failed:\n{result.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passes", type=int, default=1000, help="passes in the shorter run (default 1000)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        for mode in ("sdk", "record", "direct"):
            short, long = instructions(args.passes, mode, directory), instructions(args.passes + EXTRA, mode, directory)
            rows.append((mode, (long - short) / EXTRA))
    sdk = rows[0][1]
    print("| path | instructions a pass (histogram record + counter add) | x the SDK's |")
    print("|---|---|---|")
    names = {"sdk": "the SDK's own", "record": "+ metric_record", "direct": "+ metric_direct (as under `run`)"}
    for mode, cost in rows:
        print(f"| {names[mode]} | {cost / 1000:.1f} K | {cost / sdk:.2f} |")


if __name__ == "__main__":
    main()
