"""Completions: ``/api/chat/completions`` and the merged ``/api/models`` list over every LLM provider."""
