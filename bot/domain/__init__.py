"""Pydantic models, enums and pure rules. No I/O."""
