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


class Endpoint(BaseModel):
    address: str | None
    port: int


class Direction(BaseModel):
    packets: int
    bytes: int


class Handshake(BaseModel):
    syn: int | None
    syn_ack: int | None
    ack: int | None
    client_isn: int | None = Field(description="Raw initial sequence number of the SYN's sender.")
    server_isn: int | None = Field(description="Raw initial sequence number of the SYN-ACK's sender.")
    rtt: float | None = Field(description="Seconds from the SYN to the handshake's ACK.")


class EndpointStates(BaseModel):
    a: str
    b: str


class Flow(BaseModel):
    id: str
    capture: str
    protocol: Literal["tcp", "udp"]
    stream: int = Field(description="Wireshark's tcp.stream / udp.stream.")
    a: Endpoint
    b: Endpoint
    packets: int
    bytes: int
    a_to_b: Direction
    b_to_a: Direction
    start: float
    duration: float
    first_packet: int
    last_packet: int
    handshake: Handshake | None = None
    state: EndpointStates | None = None
    completeness: int | None = Field(None, description="Wireshark's tcp.completeness bitmask.")


class FlowList(BaseModel):
    flows: list[Flow]
    total: int
    offset: int


class FilterProblem(BaseModel):
    message: str
    position: int
    length: int = 1


class FilterCheck(BaseModel):
    valid: bool
    error: str | None = None
    position: int | None = Field(None, description="0-based character offset of the error.")
    length: int | None = None
    canonical: str | None = None
    warnings: list[FilterProblem] = []


class Extraction(BaseModel):
    """Reading a filter field the index lacks from the packets (the newest such pass)."""

    field: str | None = Field(None, description="The field or ``frame.protocols`` being read.")
    done: int = Field(0, description="Packets read so far.")
    total: int = Field(0, description="Packets this pass reads.")
    running: bool = False


class FieldInfo(BaseModel):
    name: str
    description: str
    type: str


class FieldList(BaseModel):
    fields: list[FieldInfo]


class LadderEvent(BaseModel):
    number: int
    time: float
    direction: Literal["a>b", "b>a"]
    flags: list[str]
    seq: int | None
    ack: int | None
    seq_raw: int | None
    ack_raw: int | None
    len: int
    window: int | None
    analysis: list[str] = Field(description="tcp.analysis.* flags without the prefix.")
    state_a: str | None = Field(description="RFC 9293 state of endpoint a after this segment.")
    state_b: str | None
    label: str
    explain: str = Field(description="One sentence explaining the segment, arithmetic checked.")


class LadderModel(BaseModel):
    flow: Flow
    lanes: list[Endpoint]
    events: list[LadderEvent]
    total_events: int
    offset: int
    limit: int


class StreamSegment(BaseModel):
    direction: Literal["a>b", "b>a"]
    number: int
    data_base64: str
    length: int


class FollowStream(BaseModel):
    segments: list[StreamSegment]
    bytes: int
    truncated: bool


class Conversation(BaseModel):
    a: str
    b: str
    packets: int
    bytes: int
    a_to_b: Direction
    b_to_a: Direction
    start: float
    duration: float
    first_packet: int


class ConversationList(BaseModel):
    type: str
    conversations: list[Conversation]


class EndpointStat(BaseModel):
    address: str
    packets: int
    bytes: int
    tx: Direction
    rx: Direction


class EndpointList(BaseModel):
    type: str
    endpoints: list[EndpointStat]


# -- live capture --------------------------------------------------------------------------------

class NetworkInterface(BaseModel):
    name: str
    description: str
    addresses: list[str] = Field(description="Addresses with prefix length, e.g. 10.0.0.1/24.")
    up: bool
    loopback: bool


class InterfaceList(BaseModel):
    interfaces: list[NetworkInterface]
    can_capture: bool = Field(description="Whether this server may capture packets.")
    message: str | None = Field(None, description="Why it may not, and what to grant.")


class LiveCaptureRequest(BaseModel):
    interface: str = Field(description="The interface to capture on, e.g. lo, eth0 or any.")
    capture_filter: str | None = Field(None, max_length=4096,
                                       description="A capture filter in tcpdump syntax (BPF).")
    name: str | None = Field(None, max_length=200, description="A name for the capture.")
