"""Record walking of pcap/pcapng files against tshark's reading of the same corpus files."""
from __future__ import annotations

import gzip
import struct

import pytest

from app.core import pcapfile
from app.core.errors import CaptureFormatError, CaptureTooLarge
from app.core.pcapfile import RecordReader
from tests.reference import CORPUS, capture_names, load_reference, reference_frames


@pytest.mark.parametrize("name", capture_names())
def test_records_match_tshark(name):
    reader = RecordReader(CORPUS / name)
    batch = reader.read()
    frames = reference_frames(name)
    assert len(batch) == len(frames) == load_reference(name)["frame_count"]
    epochs = [f"{s}.{ns:09d}" for s, ns in zip(batch.ts_sec.tolist(), batch.ts_nsec.tolist())]
    assert epochs == [f["frame.time_epoch"] for f in frames]
    assert batch.wirelen.tolist() == [int(f["frame.len"]) for f in frames]
    assert batch.caplen.tolist() == [int(f["frame.cap_len"]) for f in frames]
    if reader.info.format == "pcapng":
        assert batch.iface.tolist() == [int(f["frame.interface_id"]) for f in frames]
    encap = {1: 1, 113: 25, 276: 210, 0: 15, 101: 7, 228: 129}
    for f, lt in zip(frames, batch.linktype.tolist()):
        if lt in encap and f["frame.encap_type"] is not None:
            assert encap[lt] == int(f["frame.encap_type"]), (f["frame.number"], lt)
    # tshark read the damaged file up to the cut; so does the walk, and it says where.
    assert reader.info.truncated == bool(load_reference(name)["read_error"])


def test_truncated_file_keeps_packets_before_the_cut(tmp_path):
    data = (CORPUS / "dpkt_http.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) - 30])
    reader = RecordReader(cut)
    batch = reader.read()
    assert len(batch) == 42
    assert reader.info.truncated
    assert "cut short in the middle of packet 43" in reader.info.error
    assert "packet 42" in reader.info.error


def test_record_claiming_a_huge_length_stops_the_walk(tmp_path):
    data = bytearray((CORPUS / "dpkt_http.pcap").read_bytes())
    # The third record's header starts after the file header and two records.
    first_len = struct.unpack_from("<I", data, 24 + 8)[0]
    second = 24 + 16 + first_len
    third = second + 16 + struct.unpack_from("<I", data, second + 8)[0]
    struct.pack_into("<I", data, third + 8, 0x7FFFFFFF)
    bad = tmp_path / "huge.pcap"
    bad.write_bytes(bytes(data))
    reader = RecordReader(bad)
    batch = reader.read()
    assert len(batch) == 2
    assert reader.info.truncated
    assert "Packet 3 claims 2147483647 bytes" in reader.info.error


def test_growing_file_is_read_incrementally(tmp_path):
    data = (CORPUS / "dpkt_http.pcap").read_bytes()
    path = tmp_path / "growing.pcap"
    path.write_bytes(data[:1000])
    reader = RecordReader(path)
    first = reader.read(final=False)
    assert not reader.info.truncated
    path.write_bytes(data)
    rest = reader.read(final=False)
    assert len(first) + len(rest) == 43
    assert rest.offset[0] > first.offset[-1]


def test_max_records_reads_in_chunks():
    reader = RecordReader(CORPUS / "dpkt_http.pcap")
    sizes = []
    while len(batch := reader.read(max_records=10)):
        sizes.append(len(batch))
    assert sizes == [10, 10, 10, 10, 3]
    assert not reader.info.truncated


def test_pcapng_comments_and_interfaces_are_kept():
    reader = RecordReader(CORPUS / "epb.pcapng")
    reader.read()
    assert reader.info.comments[1][0] == "this is a comment"
    assert [i.name for i in reader.info.interfaces] == ["dummy-0", "ens33"]
    assert reader.info.section_comments and "ptcpdump" in reader.info.section_comments[0]


def test_sniff_format_refuses_text_and_empty():
    with pytest.raises(CaptureFormatError, match="not a capture file"):
        pcapfile.sniff_format(b"hello world, this is text")
    with pytest.raises(CaptureFormatError, match="empty"):
        pcapfile.sniff_format(b"")


def test_inflate_gzip_and_refuse_a_bomb(tmp_path):
    original = (CORPUS / "dpkt_http.pcap").read_bytes()
    packed = tmp_path / "c.pcap.gz"
    packed.write_bytes(gzip.compress(original))
    assert pcapfile.sniff_format(packed.read_bytes()[:4]) == "gzip"
    out = tmp_path / "c.pcap"
    pcapfile.inflate(packed, out, limit=1 << 20)
    assert out.read_bytes() == original
    bomb = tmp_path / "bomb.gz"
    bomb.write_bytes(gzip.compress(b"\0" * (8 << 20)))
    with pytest.raises(CaptureTooLarge):
        pcapfile.inflate(bomb, tmp_path / "bomb.out", limit=1 << 20)


def test_pcapng_with_several_sections_reads_every_section(tmp_path):
    """Two pcapng files put end to end are one file of two sections, each with its interfaces."""
    first = (CORPUS / "epb.pcapng").read_bytes()
    second = (CORPUS / "pcapng-multi-interface.pcapng").read_bytes()
    both = tmp_path / "two-sections.pcapng"
    both.write_bytes(first + second)
    reader = RecordReader(both)
    batch = reader.read()
    n1 = load_reference("epb.pcapng")["frame_count"]
    n2 = load_reference("pcapng-multi-interface.pcapng")["frame_count"]
    assert len(batch) == n1 + n2 and not reader.info.truncated
    # Interface numbers of the second section follow those of the first.
    assert len(reader.info.interfaces) == 4
    assert set(batch.iface[n1:].tolist()) <= {2, 3}
    epochs = [f"{s}.{ns:09d}" for s, ns in zip(batch.ts_sec.tolist(), batch.ts_nsec.tolist())]
    assert epochs[n1:] == [f["frame.time_epoch"] for f in reference_frames("pcapng-multi-interface.pcapng")]
