"""Pytest fixtures for the broker tests (loaded from tests/conftest.py)."""
