"""Where the templates and static files are, both in a source checkout and in an installed wheel.

The wheel installs ``templates/`` and ``static/`` as data of the ``app`` package (see
pyproject.toml); a checkout has them at the top of the repository.
"""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    return _PACKAGE.parent / name


TEMPLATES_DIR = _find("templates")
STATIC_DIR = _find("static")
