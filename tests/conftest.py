"""Fixtures shared by the test suite."""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import numpy as np
import pytest

import optikern


@pytest.fixture(params=optikern.available_simd_levels())
def simd_level(request: pytest.FixtureRequest) -> Iterator[str]:
    """Runs the test once per SIMD level this CPU has (Highway's per-target tests)."""
    with optikern.simd_level(request.param):
        yield request.param


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> np.random.Generator:
    """A generator seeded from the test's name: reproducible, different per test."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))
