"""signoz-litellm's sitecustomize, first on PYTHONPATH in every Python process of a job.

It starts the instrumentation, then runs the next `sitecustomize` on sys.path (the user's own, which
Python alone would never run once ours was found). It must stay tiny and must never break the
program: any failure is reported in one line and the program runs on.
"""

import os
import sys


def _chain_next_sitecustomize() -> None:
    import importlib.machinery
    import importlib.util

    skip = {os.path.realpath(os.path.dirname(os.path.abspath(__file__)))}
    otel = sys.modules.get("opentelemetry.instrumentation.auto_instrumentation")
    if otel is not None and getattr(otel, "__file__", None):
        # opentelemetry-instrument's sitecustomize only calls initialize(), which already ran.
        skip.add(os.path.realpath(os.path.dirname(os.path.abspath(otel.__file__))))
    cwd = os.getcwd()
    path = [p for p in sys.path if os.path.realpath(p or cwd) not in skip]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the same report Python gives for a failing sitecustomize
        print(f"Error in sitecustomize; set PYTHONVERBOSE for traceback:\n{type(exc).__name__}: {exc}", file=sys.stderr)


def _start() -> None:
    try:
        from signoz_litellm_run.hook import lazy_start
    except ImportError as exc:
        print(
            f"signoz-litellm: telemetry is off in this process ({sys.executable}): {exc}. "
            f"Install signoz-litellm there ({sys.executable} -m pip install signoz-litellm), or run the command "
            "with the Python signoz-litellm is installed in.",
            file=sys.stderr,
        )
        _counted_off(f"{sys.executable}: {exc}")
        return
    try:
        armed = lazy_start.arm()  # at the first import, log record or second that needs it (hook/lazy_start.py)
    except Exception:
        armed = False
    if not armed:
        from signoz_litellm_run.hook.boot import start

        start()


def _counted_off(reason: str) -> None:
    """When the job wants a report: this process is named in it (the launcher's `delivery` module, standard
    library only, loaded from beside this file, since this Python cannot import signoz-litellm)."""
    if not os.environ.get("SIGNOZ_LITELLM_JOB_DIR"):
        return
    try:
        import importlib.util

        path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "delivery.py")
        spec = importlib.util.spec_from_file_location("_signoz_litellm_delivery", path)
        delivery = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(delivery)
        delivery.telemetry_off(reason)
    except Exception:  # an older Python, a removed install: the line above is all this process can say
        pass


try:
    _start()
finally:
    _chain_next_sitecustomize()
