"""Pytest fixtures for the nms tests (loaded from tests/conftest.py)."""
