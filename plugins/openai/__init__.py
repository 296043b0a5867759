"""OpenAI-compatible upstreams: the ``/openai`` proxy and an LLM provider for completions."""
