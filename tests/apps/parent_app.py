"""Starts a grandchild Python process that makes a LiteLLM call, and reports its own pid."""
import os
import subprocess
import sys

print("parent pid", os.getpid(), flush=True)
child = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sync_app.py")
env = dict(os.environ, CALLS="1")
raise SystemExit(subprocess.call([sys.executable, child], env=env) or int(os.environ.get("EXIT_WITH", "0")))
