"""Builds the web application: settings, the library, routes, static files and error handling."""
from __future__ import annotations

import gc
import threading
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.staticfiles import StaticFiles

from app import __version__
from app.core import procpool
from app.core.capture import Captures
from app.core.library import Library
from app.paths import STATIC_DIR
from app.settings import Settings
from app.web import api, api_filter, api_flows, errors, pages, security
from app.web.jobs import Jobs
# Live capture and server-sent events.
from app.live.feed import Hub
from app.live.manager import LiveCaptures
from app.web import api_live, events
from app.web import pages_flows


def _warm_up() -> None:
    """Load the packet dissectors (Scapy) now rather than on the first packet someone opens,
    which would otherwise wait a good part of a second for them; start the index worker
    process too, so that a big upload is decoded there from its first bytes on (starting it
    takes about half a second, a good part of such an upload)."""
    procpool.warm()
    from app.core import dissect  # noqa: F401, PLC0415

    # What is loaded by now (Scapy's layers, the web framework) lives as long as the server:
    # kept out of the garbage collector's full passes, which otherwise walk it all and stall
    # a request by tens of milliseconds now and then.
    gc.collect()
    gc.freeze()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    library = Library(settings.data_dir, max_upload_bytes=settings.max_upload_bytes,
                      max_packets=settings.max_packets)
    captures = Captures(library)
    jobs = Jobs(captures)
    live = LiveCaptures(captures, settings)
    feeds = Hub(captures, live.progress_of, settings.max_filter_length, settings.sse_queue_rows)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Captures whose indexing a restart interrupted are indexed again, from the stored file.
        for capture_id in library.pending():
            jobs.index(capture_id)
        # Live capture: captures a dead server left running are indexed as they are, and a
        # shutdown signal ends the event streams first (the server waits for open responses).
        live.recover(jobs.index)
        events.end_streams_on_signal(feeds)
        threading.Thread(target=_warm_up, name="warm-up", daemon=True).start()
        yield
        feeds.shutdown()
        await run_in_threadpool(live.shutdown)
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
    app.state.live = live
    app.state.feeds = feeds
    errors.install(app)
    # Access token, CSRF and Host checks, security headers and the upload limit (see security).
    security.install(app, settings)
    app.include_router(api.router)
    app.include_router(api_flows.router)
    app.include_router(api_filter.router)
    app.include_router(api_live.router)
    app.include_router(api_live.pages_router)
    app.include_router(events.router)
    app.include_router(pages.router)
    app.include_router(pages_flows.router)  # flows, ladders, follow stream, statistics
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    return app
