"""Migrations of the files plugin."""
