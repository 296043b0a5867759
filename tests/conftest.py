"""Repository-only test helpers; the shared fixtures come from ``colonnade.testing`` (pytest11)."""
