"""A forked child's telemetry names the child (hook/forks.py): its own `process.pid` on the resource."""

from __future__ import annotations

import sys
import textwrap

from signoz_litellm_run.receiver import Receiver
from tests.support.launch import clean_env, launcher

SCRIPT = """
    import os, sys
    from opentelemetry import trace
    tracer = trace.get_tracer("forks")
    with tracer.start_as_current_span("parent before the fork"):
        pass
    pid = os.fork()
    if pid == 0:
        with trace.get_tracer("forks").start_as_current_span("child"):
            pass
        print("child", os.getpid(), flush=True)
        sys.exit(0)
    os.waitpid(pid, 0)
    with tracer.start_as_current_span("parent after the fork"):
        pass
    print("parent", os.getpid(), flush=True)
"""


def test_a_forked_child_names_its_own_pid(receiver: Receiver) -> None:
    done = launcher(["run", "--endpoint", receiver.grpc_endpoint, "--", sys.executable, "-c", textwrap.dedent(SCRIPT)],
                    env=clean_env({}))
    assert done.returncode == 0, done.stderr
    pids = dict(line.split() for line in done.stdout.splitlines())
    names = {"parent before the fork", "child", "parent after the fork"}
    assert receiver.wait_for(lambda r: names <= {s.name for s in r.spans()}, timeout=30)
    by_name = {s.name: str(s.resource.get("process.pid")) for s in receiver.spans()}
    assert by_name == {"parent before the fork": pids["parent"], "child": pids["child"],
                       "parent after the fork": pids["parent"]}
