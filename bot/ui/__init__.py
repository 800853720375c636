"""Rendering helpers: HTML escaping, keyboards, the callback-data codec, times."""
