"""Open WebUI functions (Pipe, Filter, Action) loaded as run-time plugins (being built: issue 7)."""
