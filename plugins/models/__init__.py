"""Workspace models: a base model with a system prompt, parameters, meta and access control."""
