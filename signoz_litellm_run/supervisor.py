"""When the launcher stays with the job: run the command as a child, then report and decide the exit status.

By default `run` execs the command and the top-level Python process reports for the whole job
(`delivery`). The launcher supervises instead when that cannot work:
- the command is not a Python program (a shell script, `make`, `uv run`, `npm`) and a report is wanted:
  no process of the job would know it is the last one;
- `--fail-on-telemetry-loss`: a process cannot know its own exit status from inside `atexit`, so the
  launcher, knowing the command's real status, turns "succeeded but lost telemetry" into `LOSS_STATUS`; so
  does a job in which Python ran but no process could send telemetry (`delivery.nothing_instrumented`).
Every Python process of the job leaves its counts in the job's directory; the launcher sums them once the
command has ended. Signals sent to the launcher (SIGTERM from CI or `docker stop`, SIGHUP, SIGQUIT,
SIGUSR1/2, and SIGINT unless a terminal already sent it to the whole foreground group) are passed on to
the command, as in `--local` (`launcher.spawn_and_wait`). A command killed by a signal makes the launcher
die of the same signal, so the caller sees the same status as without it.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import NoReturn

from signoz_litellm_run import delivery
from signoz_litellm_run.launcher import exit_like, resolve_executable, spawn_and_wait

LOSS_STATUS = 3


def run_supervised(argv: Sequence[str], env: Mapping[str, str], *, fail_on_loss: bool) -> NoReturn:
    """Run `argv` as a child (the launcher's one spawn path), publish the job's report, exit with its status."""
    path = resolve_executable(argv[0], env)
    job_dir = env[delivery.JOB_DIR_ENV]
    started: list[int] = []
    try:
        returncode = spawn_and_wait(argv, path, env, on_start=started.append)
    except BaseException:
        delivery.remove(job_dir)
        raise
    report = delivery.job_report(job_dir, started[0] if started else None, env)
    delivery.publish(report, env)
    if fail_on_loss and returncode == 0 and (report["lost"] or delivery.nothing_instrumented(report)):
        what = (f"{report['lost']} telemetry item(s) were not delivered" if report["lost"] else
                f"no Python process of the job could send telemetry ({report['without_telemetry_reason']})")
        print(f"signoz-litellm: {what}; exiting with status {LOSS_STATUS} (--fail-on-telemetry-loss).",
              file=sys.stderr)
        sys.exit(LOSS_STATUS)
    exit_like(returncode)  # the command's own status; a command killed by a signal: the same signal
