"""Pytest fixtures for the streams tests (loaded from tests/conftest.py)."""
