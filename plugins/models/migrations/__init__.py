"""Migrations of the models plugin."""
