"""What runs inside the user's processes. Imported from `_site/sitecustomize.py`; keep it cheap."""

import os


def env_flag(name: str) -> bool:
    """A switch `run` set for the hook in the command's environment (`environment.child_updates`)."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
