"""Pydantic models: the JSON contract of the HTTP API, as the OpenAPI schema documents it."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    error: str = Field(description="A sentence saying what went wrong.")
    detail: dict[str, Any] | None = None


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class Capture(BaseModel):
    id: str
    name: str
    size_bytes: int
    format: str
    link_types: list[int]
    packets: int
    first_epoch: float | None
    last_epoch: float | None
    duration: float
    status: Literal["indexing", "ready", "capturing", "error"]
    progress: float
    truncated: bool
    warnings: list[str]
    created_epoch: float
    error: str | None = None


class CaptureList(BaseModel):
    captures: list[Capture]


class Row(BaseModel):
    number: int
    time: float
    epoch: float
    source: str
    destination: str
    protocol: str
    length: int
    info: str
    stream: int | None = None
    color: str | None = Field(None, description="CSS class of Wireshark's colouring rule.")


class PacketPage(BaseModel):
    total: int
    matched: int
    offset: int
    limit: int
    filter: str
    packets: list[Row]


class Node(BaseModel):
    name: str
    label: str
    value: Any = None
    offset: int | None = None
    length: int | None = None
    children: list["Node"] = []


class PacketDetail(BaseModel):
    number: int
    epoch: float
    length: int
    captured_length: int
    layers: list[Node]
    bytes: str = Field(description="Hex of the captured bytes.")
