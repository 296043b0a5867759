"""Migrations of the ``auth`` app."""
