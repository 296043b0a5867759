"""Ollama upstreams: the ``/ollama`` proxy and an LLM provider for completions."""
