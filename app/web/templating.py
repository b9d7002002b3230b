"""The Jinja2 environment shared by every page (templates ship inside the package)."""
from __future__ import annotations

from fastapi.templating import Jinja2Templates

from app.paths import TEMPLATES_DIR

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
