"""Listings tests share the federation fixtures (real instances on loopback)."""

from tests.federation.conftest import three, two

__all__ = ["three", "two"]
