"""LiteLLM's check for callbacks a request disabled, without importing the proxy when none is disabled.

With `litellm-enterprise` installed (LiteLLM's `proxy` extra brings it), LiteLLM asks
`EnterpriseCallbackControls.is_callback_disabled_dynamically` before it runs each callback of each call. Its first
line imports `litellm.litellm_core_utils.custom_logger_registry`, which imports most of the proxy, FastAPI and redis:
some 470 modules, 0.75 s of CPU (5-7 s on a busy machine, load 11 on 2 cores), on LiteLLM's logging thread, after
the call that needed it had returned. Our OTel logger is the callback that makes LiteLLM ask, so every process of an
SDK program paid it after its first call, and a process that ended soon after (a `multiprocessing.Pool` worker
terminated by `Pool.__exit__`, a script making one call) spent its exit deadline waiting for that import and lost the
spans of every call it had made.

The registry is needed only when the request names callbacks to disable (the `x-litellm-disable-callbacks` header,
or `litellm_disabled_callbacks`): when `get_disabled_callbacks` finds none, the answer is False, as LiteLLM's own
function answers, without the import. Any other case goes to LiteLLM's function. Only while that function is the
one this was written against (`hook.is_as_written`).
"""

from __future__ import annotations

from typing import Any

from signoz_litellm_run.hook import is_as_written

MODULE = "litellm_enterprise.enterprise_callbacks.callback_controls"
# The names LiteLLM's `is_callback_disabled_dynamically` uses (litellm-enterprise 0.1.x), the import first.
_AS_WRITTEN = ("litellm.litellm_core_utils.custom_logger_registry", "CustomLoggerRegistry",
               "EnterpriseCallbackControls", "get_disabled_callbacks", "verbose_logger", "debug",
               "_should_allow_dynamic_callback_disabling", "isinstance", "str", "lower", "X_LITELLM_DISABLE_CALLBACKS",
               "CustomLogger", "get_callback_str_from_class_type", "__class__", "Exception")


def install() -> None:
    import wrapt

    wrapt.register_post_import_hook(_stand_in, MODULE)


def _stand_in(module: Any) -> None:
    controls = getattr(module, "EnterpriseCallbackControls", None)
    found = getattr(controls, "__dict__", {}).get("is_callback_disabled_dynamically")
    original = getattr(found, "__func__", None)
    if (not isinstance(found, staticmethod) or not hasattr(controls, "get_disabled_callbacks")
            or not is_as_written(original, _AS_WRITTEN)):
        return

    def is_callback_disabled_dynamically(callback: Any, litellm_params: Any,
                                         standard_callback_dynamic_params: Any) -> bool:
        try:
            if controls.get_disabled_callbacks(litellm_params, standard_callback_dynamic_params) is None:
                return False  # what LiteLLM's function answers then, after its import
        except Exception:
            pass
        return original(callback, litellm_params, standard_callback_dynamic_params)

    is_callback_disabled_dynamically._signoz_litellm = True  # type: ignore[attr-defined]
    is_callback_disabled_dynamically.__wrapped__ = original  # type: ignore[attr-defined]
    is_callback_disabled_dynamically.__doc__ = original.__doc__
    controls.is_callback_disabled_dynamically = staticmethod(is_callback_disabled_dynamically)
