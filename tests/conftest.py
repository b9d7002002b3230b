"""Fixtures shared by every test module."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.reference import CORPUS


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The folder holding the third-party corpus captures and their tshark references."""
    return CORPUS
