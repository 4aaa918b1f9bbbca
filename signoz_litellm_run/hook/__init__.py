"""What runs inside the user's processes. Imported from `_site/sitecustomize.py`; keep it cheap."""

import os


def env_flag(name: str) -> bool:
    """A switch `run` set for the hook in the command's environment (`environment.child_updates`)."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def is_as_written(function: object, names: tuple[str, ...]) -> bool:
    """`function` is the library code a faster path of ours was written against: its code uses exactly `names`
    (the names it looks up), and it is not already one of ours."""
    code = getattr(function, "__code__", None)
    return code is not None and code.co_names == names and not getattr(function, "_signoz_litellm", False)


def freeze_heap() -> None:
    """Move every object that exists now (modules, classes, functions: what an import leaves) out of the cyclic
    garbage collector's view (`gc.freeze()`): full collections no longer walk them, nor does the last one Python
    makes at exit. Frozen objects are still freed by reference counting; only cyclic garbage among them would
    stay, and there is none to speak of right after imports. Young garbage is collected first. A program that
    turned the collector off is left alone."""
    import gc

    if gc.isenabled():
        gc.collect(1)
        gc.freeze()
