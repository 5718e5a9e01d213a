"""Fixtures shared by the unit tests."""

from transport_helpers import run

__all__ = ["run"]  # the transport tests' fixture: both event loops
