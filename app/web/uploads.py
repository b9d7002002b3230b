"""Receiving an upload as a stream: multipart parsed chunk by chunk straight into a file.

The body never sits whole in memory, nor in a spooled temporary file that would be copied once
more: each chunk from the socket is parsed and the file part's bytes are written to the library's
incoming file as they come.
"""
from __future__ import annotations

import errno
from pathlib import Path

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from python_multipart import MultipartParser
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header

from app.core.capture import Captures
from app.core.errors import CaptureTooLarge, WirelensError
from app.core.growing import GrowingIndex
from app.core.library import CaptureRecord, Library


DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
# Uploads bigger than this are indexed while they arrive; smaller ones index in a moment anyway.
FOLLOW_FROM = 4 << 20


class _Sink:
    """The incoming file, followed by a :class:`GrowingIndex` once it is big enough."""

    def __init__(self, out, path: Path, max_packets: int | None) -> None:
        self.out = out
        self.path = path
        self.max_packets = max_packets
        self.size = 0
        self.follower: GrowingIndex | None = None

    def write(self, data: bytes) -> None:
        self.out.write(data)
        before, self.size = self.size, self.size + len(data)
        if self.follower is not None:
            self.out.flush()  # the follower reads the file, not this buffer
        elif before < FOLLOW_FROM <= self.size:
            self.out.flush()
            self.follower = GrowingIndex.start_if_capture(self.path, self.max_packets)

    def stop(self):
        return self.follower.stop() if self.follower is not None else None

    def abandon(self) -> None:
        """The upload failed: stop following it and drop what was read."""
        builder = self.stop()
        if builder is not None:
            builder.discard()


class StorageFull(WirelensError):
    """The disk (or the server's file size limit) ran out while an upload was being stored."""

    status = 507

    def __init__(self) -> None:
        super().__init__("The server's disk is full: the upload could not be stored and nothing "
                         "was added to the library. Free some space (delete captures) and try again.")


class _FilePart:
    """Multipart callbacks that write the ``file`` field to ``out`` and remember its name."""

    def __init__(self, out, limit: int) -> None:
        self.out = out
        self.limit = limit
        self.size = 0
        self.name: str | None = None
        self.found = False
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self._in_file = False

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": lambda d, s, e: setattr(self, "_field", self._field + d[s:e]),
            "on_header_value": lambda d, s, e: setattr(self, "_value", self._value + d[s:e]),
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.data,
        }

    def part_begin(self) -> None:
        self._headers = {}
        self._in_file = False

    def header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field = self._value = b""

    def headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        if params.get(b"name") == b"file" and not self.found:
            self._in_file = True
            self.found = True
            raw = params.get(b"filename", b"capture")
            self.name = raw.decode("utf-8", "replace")

    def data(self, data: bytes, start: int, end: int) -> None:
        if not self._in_file:
            return
        self.size += end - start
        if self.size > self.limit:
            raise CaptureTooLarge(f"The upload is larger than the limit of {self.limit} bytes.")
        self.out.write(data[start:end])


async def store_upload(request: Request, captures: Captures, jobs) -> CaptureRecord:
    """Receive an upload, add it to the library and start (or continue) its indexing."""
    path, name, sink = await receive_upload(request, captures.library)
    builder = await run_in_threadpool(sink.stop)
    try:
        record = await run_in_threadpool(captures.library.add_file, path, name)
    except BaseException:
        if builder is not None:
            builder.discard()
        raise
    if builder is not None:
        builder.retarget(captures.library.original_path(record.id))
    jobs.index(record.id, builder=builder)
    return record


async def receive_upload(request: Request, library: Library) -> tuple[Path, str, _Sink]:
    """Stream a multipart (field ``file``) or raw body into library/incoming; (path, name, the
    sink that wrote it, whose follower may have indexed it meanwhile)."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > library.max_upload_bytes + 64 * 1024:
        raise CaptureTooLarge(f"The upload is larger than the limit of {library.max_upload_bytes} bytes.")
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    path, file = library.incoming_file()
    out = _Sink(file, path, library.max_packets)
    try:
        with file:
            if ctype == b"multipart/form-data":
                boundary = params.get(b"boundary")
                if not boundary:
                    raise WirelensError("The multipart upload has no boundary.")
                part = _FilePart(out, library.max_upload_bytes)
                parser = MultipartParser(boundary, part.callbacks())
                try:
                    async for chunk in request.stream():
                        parser.write(chunk)
                    parser.finalize()
                except MultipartParseError as exc:  # e.g. a part header over 4 kB
                    raise WirelensError(f"The multipart upload is malformed: {exc}.") from exc
                if not part.found:
                    raise WirelensError("The upload has no field named 'file'.")
                name = part.name or "capture"
            else:
                size = 0
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > library.max_upload_bytes:
                        raise CaptureTooLarge(
                            f"The upload is larger than the limit of {library.max_upload_bytes} bytes."
                        )
                    out.write(chunk)
                name = request.headers.get("x-filename", "capture")
    except OSError as exc:
        await run_in_threadpool(out.abandon)
        path.unlink(missing_ok=True)
        if exc.errno in DISK_FULL:
            raise StorageFull() from exc
        raise
    except BaseException:
        await run_in_threadpool(out.abandon)
        path.unlink(missing_ok=True)
        raise
    return path, name, out
