"""Pytest fixtures for the history tests (loaded from tests/conftest.py)."""
