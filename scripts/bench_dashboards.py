"""Wall time of `signoz-litellm dashboards install` against the SigNoz double, and against servers that fail.

Usage: .venv/bin/python scripts/bench_dashboards.py [--runs N]

Each scenario runs `python -m signoz_litellm_run dashboards install` as a subprocess and prints the median
wall time and the exit status: a first install (three dashboards created), a second one (all unchanged), the
same two against a SigNoz with only the v1 API (v0.125: the v2 list is tried first, then v1 and the version), a
server that never answers (bounded by the 8 s request timeout) and a port that refuses connections. The
reference is `signoz-litellm --version` started the same way, so start-up cost is visible.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from signoz_litellm_run.loopback import unused_port  # noqa: E402
from tests.support.launch import clean_env  # noqa: E402
from tests.support.signoz_double import ADMIN, SigNozDouble  # noqa: E402

KEY = "bench-dashboards-key-0123456789"


def timed(url: str, *args: str) -> tuple[float, int]:
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "signoz_litellm_run", *args], capture_output=True, text=True,
                          env=clean_env({"SIGNOZ_URL": url, "SIGNOZ_API_KEY": KEY}), timeout=120)
    return time.monotonic() - start, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    rows: dict[str, list[tuple[float, int]]] = {"--version (start-up)": [], "install, first (3 created)": [],
                                                 "install, again (3 unchanged)": [], "v1 API (v0.125), first": [],
                                                 "v1 API (v0.125), again": [], "refused port": []}
    for _ in range(runs):
        rows["--version (start-up)"].append(timed("http://unused", "--version"))
        with SigNozDouble({KEY: ("bench@example.com", ADMIN)}) as api:
            rows["install, first (3 created)"].append(timed(api.url, "dashboards", "install"))
            rows["install, again (3 unchanged)"].append(timed(api.url, "dashboards", "install"))
        with SigNozDouble({KEY: ("bench@example.com", ADMIN)}, mode="v1") as api:
            rows["v1 API (v0.125), first"].append(timed(api.url, "dashboards", "install"))
            rows["v1 API (v0.125), again"].append(timed(api.url, "dashboards", "install"))
        rows["refused port"].append(timed(f"http://127.0.0.1:{unused_port()}", "dashboards", "install"))
    with SigNozDouble({KEY: ("bench@example.com", ADMIN)}, mode="hang") as api:
        rows["silent server (1 run)"] = [timed(api.url, "dashboards", "install")]
    for name, results in rows.items():
        print(f"{name:<32} median {statistics.median(t for t, _ in results):6.2f} s   exit {results[0][1]}")


if __name__ == "__main__":
    main()
