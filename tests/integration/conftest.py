"""Integration fixtures: the session lab (see tests/lab_fixture.py)."""

from tests.lab_fixture import lab  # noqa: F401  (session fixture, re-exported)
