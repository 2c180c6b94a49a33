"""Pytest fixtures for the devices tests (loaded from tests/conftest.py)."""
