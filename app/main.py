"""Builds the web application: settings, the library, routes, static files and error handling."""
from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app import __version__
from app.core.capture import Captures
from app.core.library import Library
from app.paths import STATIC_DIR
from app.settings import Settings
from app.web import api, api_filter, api_flows, errors, pages
from app.web.jobs import Jobs


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    library = Library(settings.data_dir, max_upload_bytes=settings.max_upload_bytes)
    captures = Captures(library)
    jobs = Jobs(captures)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Captures whose indexing a restart interrupted are indexed again, from the stored file.
        for capture_id in library.pending():
            jobs.index(capture_id)
        yield
        jobs.shutdown()

    app = FastAPI(
        title="Wirelens",
        version=__version__,
        description="A packet viewer in the browser: captures, display filters, flows and ladders.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.captures = captures
    app.state.jobs = jobs
    errors.install(app)
    app.include_router(api.router)
    app.include_router(api_flows.router)
    app.include_router(api_filter.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    return app
