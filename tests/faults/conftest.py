"""Fixtures of the fault matrix: a private Docker engine a test may restart."""

from tests.support.private_engine import private_engine

__all__ = ["private_engine"]
