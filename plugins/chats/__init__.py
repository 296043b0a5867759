"""Chats: conversations with their Open WebUI history tree, and messages queryable on their own."""
