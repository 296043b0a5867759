"""Calling a hook one plugin at a time, so that a failure names the plugin (and the hook) at fault.

A plain pluggy call (``pm.hook.register_actions(host=host)``) lets a plugin's exception escape as a raw
traceback with nothing saying whose it was. The registration hooks the host calls while it builds and
starts an application (``register_config_models``, ``register_blueprints``, ``register_db_models``,
``register_actions``, ``register_events``, ``register_commands``) go through :func:`results_by_plugin`
instead: each implementation is called with only the arguments it declares (pluggy lets a hookimpl take
fewer arguments than its spec), and any exception becomes a :class:`~colonnade.errors.StartupError`
that ``colonnade serve`` prints in one line.
"""

from __future__ import annotations

import logging
from typing import Any

from colonnade.errors import StartupError
from colonnade.plugin_manager import TRACE_LOGGER


def call_impl(pm: Any, impl: Any, **kwargs: Any) -> Any:
    """Call one hook implementation with the subset of ``kwargs`` it asks for.

    These calls bypass pluggy's monitoring, so they are traced here when tracing is on.
    """
    if getattr(pm, "tracing", False):
        logging.getLogger(TRACE_LOGGER).warning(
            "hook %s(%s) -> [%r]",
            impl.opts.get("specname") or impl.function.__name__,
            ", ".join(kwargs),
            impl.plugin_name,
        )
    return impl.function(**{name: kwargs[name] for name in impl.argnames})


def plain_impls(caller: Any, *, reverse: bool = False) -> list[Any]:
    """A hook's implementations in start-up order, without wrappers (they wrap a whole pluggy call).

    Start-up order is registration order (core plugins, then entry points with each plugin after
    those it ``requires``, then test plugins), ``tryfirst`` ones first and ``trylast`` ones last, so a
    plugin's ``startup`` can use what the plugins it needs set up. ``reverse`` gives shutdown order.
    """
    impls = [impl for impl in caller.get_hookimpls() if not (impl.wrapper or impl.hookwrapper)]
    first = [impl for impl in impls if impl.tryfirst]
    last = [impl for impl in impls if impl.trylast]
    middle = [impl for impl in impls if not impl.tryfirst and not impl.trylast]
    ordered = [*first, *middle, *last]
    return ordered[::-1] if reverse else ordered


def call_order(caller: Any) -> list[Any]:
    """A hook's plain implementations in the order a pluggy call runs them (last registered first)."""
    return [impl for impl in reversed(caller.get_hookimpls()) if not (impl.wrapper or impl.hookwrapper)]


def hook_failure(plugin_name: str, hook_name: str, error: Exception) -> StartupError:
    """The one-line start-up error for a plugin whose hook raised ``error``."""
    return StartupError(f"plugin {plugin_name!r} failed in {hook_name}: {type(error).__name__}: {error}")


def results_by_plugin(
    pm: Any, hook_name: str, *, order: str = "call", **kwargs: Any
) -> list[tuple[str, Any]]:
    """Call a hook plugin by plugin: ``[(plugin name, what it returned)]`` (``None`` results included).

    :param order: ``"call"`` for pluggy's order (what ``pm.hook.<name>(...)`` would return), or
        ``"startup"`` for :func:`plain_impls`' order.
    :raises StartupError: When an implementation raises; the message names the plugin and the hook.

    Hook wrappers (``@hookimpl(wrapper=True)``) still wrap each plugin's call, through a subset caller;
    a wrapper's failure is then reported against the plugin it was wrapping.
    """
    caller = getattr(pm.hook, hook_name)
    impls = call_order(caller) if order == "call" else plain_impls(caller)
    wrapped = len(impls) != len(caller.get_hookimpls())
    results: list[tuple[str, Any]] = []
    for impl in impls:
        try:
            if wrapped:
                others = [other.plugin for other in impls if other is not impl]
                returned = pm.subset_hook_caller(hook_name, others)(**kwargs)
                result = returned[0] if returned else None
            else:
                result = call_impl(pm, impl, **kwargs)
        except StartupError:
            raise
        except Exception as error:
            raise hook_failure(impl.plugin_name, hook_name, error) from error
        results.append((impl.plugin_name, result))
    return results


def items_by_plugin(
    pm: Any, hook_name: str, *, order: str = "call", **kwargs: Any
) -> list[tuple[str, list[Any]]]:
    """:func:`results_by_plugin` for hooks that return lists: ``[(plugin name, items)]``."""
    return [
        (name, list(result or ())) for name, result in results_by_plugin(pm, hook_name, order=order, **kwargs)
    ]
