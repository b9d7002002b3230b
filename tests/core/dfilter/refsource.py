"""A FieldSource built from a tshark reference JSON, to run display filters without dissecting.

Values are tshark's text parsed with the registry types (``frames`` gives the first occurrence,
``multi_occurrence`` all of them when there are several).  Protocol presence comes from
``frame.protocols``, FT_NONE flags from ``presence_fields``.  A few fields are derived from
others exactly as Wireshark defines them: ``tcp.flags.*`` are the bits of ``tcp.flags``,
``http.request``/``http.response`` are set on messages with a request method / status code,
``_ws.expert`` is present with an expert message.  Aggregates (``ip.addr`` ...) are left to the
evaluator, which unites their parts (``ip.src`` and ``ip.dst``).  Anything else the reference
lacks (frame bytes, tcp.payload, http.user_agent ...) is reported as unavailable (None).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from app.core.dfilter.source import IPV6, Occurrences, kind_of, normalize, parse_text
from app.core.fields import FieldType, lookup
from tests.reference import load_reference

_TCP_FLAG_BITS = {
    "fin": 0x001, "syn": 0x002, "reset": 0x004, "push": 0x008, "ack": 0x010, "urg": 0x020,
    "ece": 0x040, "cwr": 0x080, "ns": 0x100, "ae": 0x100, "res": 0xE00,
}
_MESSAGE_FLAGS = {"http.request": "http.request.method", "http.response": "http.response.code"}


class ReferenceSource:
    """FieldSource over one capture's ``<capture>.tshark.json``."""

    def __init__(self, capture: str) -> None:
        ref = load_reference(capture)
        names, frames = ref["fields"], ref["frames"]
        self.n = len(frames)
        col = {name: j for j, name in enumerate(names)}
        self.numbers = np.array([int(f[col["frame.number"]]) for f in frames], dtype=np.int64)
        multi = ref["multi_occurrence"]
        presence = set(ref["presence_fields"])
        self._values: dict[str, Occurrences] = {}
        self._present: dict[str, np.ndarray] = {}
        for name, j in col.items():
            field = lookup(name)
            if field is None:  # tshark column names such as _ws.col.Info
                continue
            if name in presence:
                self._present[name] = np.array([bool(f[j]) for f in frames], dtype=bool)
                continue
            rows, vals = [], []
            for i, frame in enumerate(frames):
                texts = multi.get(str(self.numbers[i]), {}).get(name)
                if texts is None:
                    texts = [] if frame[j] is None else [frame[j]]
                for text in texts:
                    rows.append(i)
                    vals.append(parse_text(str(text), field.type))
            self._values[name] = _occurrences(rows, vals, kind_of(field.type))
        self._protocols(frames, col["frame.protocols"])
        self._derive()

    def _protocols(self, frames: list, j: int) -> None:
        self._present["frame"] = np.ones(self.n, dtype=bool)
        seen: dict[str, np.ndarray] = {}
        for i, frame in enumerate(frames):
            for proto in (frame[j] or "").split(":"):
                if proto:
                    seen.setdefault(proto, np.zeros(self.n, dtype=bool))[i] = True
        self._seen_protocols = seen

    def _derive(self) -> None:
        flags = self._values.get("tcp.flags")
        if flags is not None:
            for bit, mask in _TCP_FLAG_BITS.items():
                self._values[f"tcp.flags.{bit}"] = Occurrences(
                    flags.rows, ((flags.values & mask) != 0).astype(np.int64))
        for flag, source in _MESSAGE_FLAGS.items():
            if source in self._values:
                rows = np.unique(self._values[source].rows)
                self._values[flag] = Occurrences(rows, np.ones(len(rows), dtype=np.int64))
        if "_ws.expert.message" in self._values:
            rows = self._values["_ws.expert.message"].rows
            self._present["_ws.expert"] = np.isin(np.arange(self.n), rows)

    # -- FieldSource -----------------------------------------------------------------------
    def values(self, name: str) -> Occurrences | None:
        return self._values.get(name)

    def present(self, name: str) -> np.ndarray | None:
        if name in self._present:
            return self._present[name]
        field = lookup(name)
        if field is not None and field.type is FieldType.PROTOCOL:
            # frame.protocols lists every protocol of the frame: absent there means absent.
            return self._seen_protocols.get(name, np.zeros(self.n, dtype=bool))
        return None


def _occurrences(rows: list[int], vals: list, kind: str) -> Occurrences:
    if kind == IPV6:
        arr = np.frombuffer(b"".join(vals), dtype=np.uint8).reshape(-1, 16)
    else:
        arr = np.array(vals + [None], dtype=object)[:-1] if vals else np.zeros(0, dtype=object)
    return Occurrences(np.array(rows, dtype=np.int64), normalize(arr, kind) if vals else
                       _empty(kind))


def _empty(kind: str) -> np.ndarray:
    return np.zeros((0, 16), dtype=np.uint8) if kind == IPV6 else np.zeros(0, dtype=np.int64)


@lru_cache(maxsize=None)
def reference_source(capture: str) -> ReferenceSource:
    return ReferenceSource(capture)
