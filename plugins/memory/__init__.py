"""Per-user memories, embedded and recalled into completions (being built: issue 6)."""
