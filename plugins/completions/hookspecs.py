"""Hook specifications owned by the ``completions`` plugin (added through ``add_hookspecs``).

The pipeline of one ``POST /api/chat/completions`` request calls them in this order::

    completion_route_model -> completion_inlet (each, in turn) -> provider.complete(...)
        -> completion_stream_wrapper (composed, streams only) -> completion_outlet (each, in turn)

``register_llm_providers`` runs once, at start-up; ``completion_models`` on every ``GET /api/models``.
The provider protocol and the context object the runtime hooks receive are in
:mod:`colonnade.plugins.completions.providers`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from colonnade.hookspecs import hookspec

if TYPE_CHECKING:
    from colonnade.actors import Actor
    from colonnade.calling import StreamWrapper
    from colonnade.host import Host
    from colonnade.plugins.completions.providers import CompletionContext, LLMProvider


@hookspec
def register_llm_providers(host: Host) -> list[LLMProvider]:
    """Register sources of chat models (OpenAI-compatible upstreams, Ollama, workspace models, pipes).

    Called once when the ``completions`` plugin starts. The providers are kept in a registry
    published at ``host.state("completions").providers``; ``GET /api/models`` merges what each one's
    ``list_models(actor)`` returns, and a completion request is handed to the provider that routing
    picked (see ``completion_route_model``).

    :param host: The application host (read your own ``[plugins.<name>]`` section and get pooled HTTP
        clients through it).
    :return: A list of objects implementing
        :class:`colonnade.plugins.completions.providers.LLMProvider`, each with a unique ``name``.
        Construction must be cheap and do no I/O.

    Collect, sync. A duplicate provider name is a start-up error. Provider plugins that must also load
    without ``completions`` mark their impl ``@hookimpl(optionalhook=True)``. Implemented by: ``openai``,
    ``ollama``, ``models`` (workspace models, registered by ``completions`` on its behalf).
    """


@hookspec(firstresult=True)
def completion_route_model(host: Host, model_id: str, actor: Actor) -> str | None:
    """Claim a model id: name the LLM provider that should answer it.

    Called once per completion request, before any ``completion_inlet``. The default impl (``trylast``)
    asks each provider's ``list_models(actor)`` (cached briefly) which one lists the id.

    :param host: The application host.
    :param model_id: The ``model`` field of the incoming request.
    :param actor: The user making the request.
    :return: The name of a registered LLM provider, or ``None`` to decline. When every impl declines
        the request is answered 404 ("model not found").

    First result wins. Implementations must be plain (not ``async``) functions: an ``async def``
    would return a coroutine, which counts as a result even when it resolves to ``None``. A name that
    is not a registered provider is a 404 naming it. Implemented by: ``completions`` (trylast default),
    ``pipelines``.
    """


@hookspec
def completion_inlet(host: Host, ctx: CompletionContext) -> Any:
    """Inspect or change a completion request before it reaches the provider.

    Called once per completion request, after routing, in hook order; each impl sees the changes of
    the previous ones (Open WebUI's filter ``inlet``).

    :param host: The application host.
    :param ctx: The request's :class:`~colonnade.plugins.completions.providers.CompletionContext`;
        change ``ctx.request`` (the OpenAI request body, a dict) in place. ``ctx.model_id`` and
        ``ctx.provider`` say where it is going; ``ctx.metadata`` is free for plugins to share state
        with their own outlet or stream wrapper.
    :return: Nothing. To refuse the request raise
        :class:`~colonnade.plugins.completions.providers.CompletionRejected` (a 4xx with its detail).

    Collect, awaitable (a value, a callable or an awaitable), run sequentially. Changing
    ``request["model"]`` does not re-route: set ``ctx.provider`` too. Implemented by: filters
    (``functions``), ``rag`` (context injection), ``tasks``.
    """


@hookspec
def completion_stream_wrapper(host: Host, ctx: CompletionContext) -> StreamWrapper | None:
    """Wrap the stream of chunks a provider returns for a streaming request.

    Called once per streaming completion request, after the inlets, before the first chunk is read.

    :param host: The application host.
    :param ctx: The request's context (``ctx.request`` is final by now).
    :return: ``None`` to leave the stream alone, or a function taking an async iterator of OpenAI
        ``chat.completion.chunk`` dicts and returning one, usually an async generator::

            async def wrap(chunks):
                async for chunk in chunks:
                    yield chunk

    Collect, sync. The wrappers are composed once per request; the first one returned is the
    outermost (it sees the chunks last). A wrapper must not swallow ``GeneratorExit``: the client
    going away closes the outermost iterator and that close must reach the provider. Not called for
    non-streaming requests. Implemented by: filters with a ``stream`` method (``functions``).
    """


@hookspec
def completion_outlet(host: Host, ctx: CompletionContext, response: dict) -> Any:
    """Post-process a finished completion.

    Called once per completion request after the provider answered: for a non-streaming request
    before the response is sent, for a streaming one after the last chunk was relayed (the chunks are
    re-assembled into one ``chat.completion`` dict first). Not called when the provider failed or the
    client went away mid-stream.

    :param host: The application host.
    :param ctx: The request's context.
    :param response: An OpenAI ``chat.completion`` dict; change it in place. Changes reach the client
        only for non-streaming requests; in both cases they reach what is saved to the chat.
    :return: Nothing.

    Collect, awaitable, run sequentially in hook order. Implemented by: filters (``functions``),
    ``tasks``, ``evaluations``.
    """


@hookspec
def completion_models(host: Host, actor: Actor, models: list[dict]) -> Any:
    """Add to the model list ``GET /api/models`` answers (Open WebUI's ``filters`` and ``actions``).

    Called once per ``GET /api/models`` (and ``/api/v1/models``), after the providers' lists were
    merged and filtered for the caller. Not called when a completion is routed.

    :param host: The application host.
    :param actor: The user asking.
    :param models: The entries about to be sent, in order. Change the list in place; replace an entry
        (``models[i] = {**entry, "actions": [...]}``) rather than changing it: the entries are shared
        with the providers' cached lists.
    :return: Nothing.

    Collect, awaitable, run sequentially in hook order. Implemented by: ``functions`` (the toggleable
    filters and the actions that apply to each model).
    """
