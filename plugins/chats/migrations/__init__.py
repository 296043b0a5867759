"""Migrations of the chats plugin."""
