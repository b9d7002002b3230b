"""The TCP facts of one packet that its summary and its tree show, read from the index."""
from __future__ import annotations

from app.core.index import CaptureIndex
from app.core.summary.context import TcpContext
from app.core.tcp.flags import names_of


def context(idx: CaptureIndex, i: int) -> TcpContext | None:
    """Relative numbers and analysis flags of packet ``i``, or None when it is not TCP."""
    if int(idx["l4"][i]) != 6 or "tcp_seq" not in idx.cols:
        return None
    dup_num = int(idx["tcp_dup_num"][i])
    dup_frame = int(idx["tcp_dup_frame"][i])
    return TcpContext(
        seq=int(idx["tcp_seq"][i]),
        ack=int(idx["tcp_ack"][i]),
        nxtseq=int(idx["tcp_nxtseq"][i]),
        window=int(idx["tcp_window"][i]),
        analysis=names_of(int(idx["tcp_analysis"][i])),
        dup_ack_frame=dup_frame if dup_frame > 0 else None,
        dup_ack_num=dup_num if dup_num > 0 else None,
    )


def as_dict(ctx: TcpContext | None, idx: CaptureIndex, i: int) -> dict | None:
    """The same facts as the dissector's ``tcp_context`` argument takes them."""
    if ctx is None:
        return None
    return {
        "seq": ctx.seq, "ack": ctx.ack, "nxtseq": ctx.nxtseq,
        "stream": int(idx["tcp_stream"][i]), "analysis": list(ctx.analysis),
    }
