"""Helpers for tests that drive the bot as people would (see people.py)."""
