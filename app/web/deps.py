"""Dependencies shared by the routes: the settings and the capture services of the running app."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.core.capture import Captures
from app.settings import Settings
from app.web.jobs import Jobs


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_captures(request: Request) -> Captures:
    return request.app.state.captures


def get_jobs(request: Request) -> Jobs:
    return request.app.state.jobs


SettingsDep = Annotated[Settings, Depends(get_settings)]
CapturesDep = Annotated[Captures, Depends(get_captures)]
JobsDep = Annotated[Jobs, Depends(get_jobs)]
