"""Data of the field registry (see :mod:`app.core.fields`): one protocol or field per line.

Format: ``name TYPE description`` with TYPE one of the short names in ``app.core.fields._SHORT``.
Names, types and descriptions are those of Wireshark 4.0 so that filters written for tshark
resolve identically.  Every protocol that appears in ``frame.protocols`` of the corpus is
listed; application protocols are in :mod:`app.core.dfilter.fieldtable_app`.
"""

from app.core.dfilter.fieldtable_app import APP_TABLE

# Aggregate fields: every occurrence of their parts (ip.addr is each ip.src and each ip.dst),
# so by construction two occurrences per header.
AGGREGATES = {
    "eth.addr": ("eth.src", "eth.dst"), "ip.addr": ("ip.src", "ip.dst"),
    "ip.host": ("ip.src_host", "ip.dst_host"), "ipv6.addr": ("ipv6.src", "ipv6.dst"),
    "ipv6.host": ("ipv6.src_host", "ipv6.dst_host"), "tcp.port": ("tcp.srcport", "tcp.dstport"),
    "udp.port": ("udp.srcport", "udp.dstport"), "sctp.port": ("sctp.srcport", "sctp.dstport"),
}
MULTI = frozenset(AGGREGATES)

LINK_TO_TRANSPORT = """
frame PROTO Frame
frame.number U32 Frame Number
frame.len U32 Frame Length
frame.cap_len U32 Capture Length
frame.time ABS Arrival Time
frame.time_utc ABS UTC Arrival Time
frame.time_epoch ABS Epoch Arrival Time
frame.time_relative REL Time since reference or first frame
frame.time_delta REL Time delta from previous captured frame
frame.time_delta_displayed REL Time delta from previous displayed frame
frame.protocols STR Protocols in frame
frame.interface_id U32 Interface id
frame.interface_name STR Interface name
frame.comment STR Comment
frame.encap_type I16 Encapsulation type
frame.marked BOOL Frame is marked
frame.ignored BOOL Frame is ignored
frame.file_off I64 File Offset
eth PROTO Ethernet
eth.dst ETHER Destination
eth.src ETHER Source
eth.addr ETHER Address
eth.dst_resolved STR Destination (resolved)
eth.src_resolved STR Source (resolved)
eth.addr_resolved STR Address (resolved)
eth.dst.lg BOOL LG bit
eth.dst.ig BOOL IG bit
eth.src.lg BOOL LG bit
eth.src.ig BOOL IG bit
eth.lg BOOL LG bit
eth.ig BOOL IG bit
eth.type U16 Type
eth.len U16 Length
eth.padding BYTES Padding
eth.trailer BYTES Trailer
eth.fcs U32 Frame check sequence
ethertype PROTO Ethertype
vlan PROTO 802.1Q Virtual LAN
vlan.priority U16 Priority
vlan.dei U16 DEI
vlan.id U16 ID
vlan.etype U16 Type
vlan.len U16 Length
vlan.trailer BYTES Trailer
sll PROTO Linux cooked-mode capture
sll.pkttype U16 Packet type
sll.hatype U16 Link-layer address type
sll.halen U16 Link-layer address length
sll.src.eth ETHER Source
sll.src.ipv4 IPV4 Source
sll.src.other BYTES Source
sll.unused BYTES Unused
sll.etype U16 Protocol
sll.ltype U16 Protocol
sll.reserved U16 Reserved
sll.ifindex U32 Interface index
null PROTO Null/Loopback
null.family U32 Family
null.type U16 Type
raw PROTO Raw packet data
llc PROTO Logical-Link Control
llc.dsap U8 DSAP
llc.ssap U8 SSAP
llc.control U16 Control field
llc.oui U24 Organization Code
llc.pid U16 Protocol ID
llc.type U16 Type
stp PROTO Spanning Tree Protocol
stp.protocol U16 Protocol Identifier
stp.version U8 Protocol Version Identifier
stp.type U8 BPDU Type
stp.flags U8 BPDU flags
stp.root.prio U16 Root Bridge Priority
stp.root.hw ETHER Root Bridge System ID
stp.root.cost U32 Root Path Cost
stp.bridge.prio U16 Bridge Priority
stp.bridge.hw ETHER Bridge System ID
stp.port U16 Port identifier
cdp PROTO Cisco Discovery Protocol
cdp.version U8 Version
cdp.ttl U16 TTL
cdp.checksum U16 Checksum
cdp.deviceid STR Device ID
cdp.portid STR Sent through Interface
cdp.platform STR Platform
cdp.software_version STR Software Version
lldp PROTO Link Layer Discovery Protocol
pppoe PROTO PPP-over-Ethernet
pppoes PROTO PPP-over-Ethernet Session
pppoed PROTO PPP-over-Ethernet Discovery
pppoe.version U8 Version
pppoe.type U8 Type
pppoe.code U8 Code
pppoe.session_id U16 Session ID
pppoe.payload_length U16 Payload Length
ppp PROTO Point-to-Point Protocol
ppp.address U8 Address
ppp.control U8 Control
ppp.protocol U16 Protocol
mpls PROTO MultiProtocol Label Switching Header
mpls.label U32 MPLS Label
mpls.ttl U8 MPLS TTL
arp PROTO Address Resolution Protocol
arp.hw.type U16 Hardware type
arp.proto.type U16 Protocol type
arp.hw.size U8 Hardware size
arp.proto.size U8 Protocol size
arp.opcode U16 Opcode
arp.isgratuitous BOOL Is gratuitous
arp.isannouncement BOOL Is announcement
arp.src.hw_mac ETHER Sender MAC address
arp.src.proto_ipv4 IPV4 Sender IP address
arp.dst.hw_mac ETHER Target MAC address
arp.dst.proto_ipv4 IPV4 Target IP address
ip PROTO Internet Protocol Version 4
ip.version U8 Version
ip.hdr_len U8 Header Length
ip.dsfield U8 Differentiated Services Field
ip.dsfield.dscp U8 Differentiated Services Codepoint
ip.dsfield.ecn U8 Explicit Congestion Notification
ip.len U16 Total Length
ip.id U16 Identification
ip.flags U8 Flags
ip.flags.rb BOOL Reserved bit
ip.flags.df BOOL Don't fragment
ip.flags.mf BOOL More fragments
ip.frag_offset U16 Fragment Offset
ip.ttl U8 Time to Live
ip.proto U8 Protocol
ip.checksum U16 Header Checksum
ip.checksum.status U8 Header checksum status
ip.src IPV4 Source Address
ip.dst IPV4 Destination Address
ip.addr IPV4 Source or Destination Address
ip.src_host STR Source Host
ip.dst_host STR Destination Host
ip.host STR Source or Destination Host
ip.fragments NONE IPv4 Fragments
ip.fragment FNUM IPv4 Fragment
ip.fragment.count U32 Fragment count
ip.reassembled_in FNUM Reassembled IPv4 in frame
ip.reassembled.length U32 Reassembled IPv4 length
ipv6 PROTO Internet Protocol Version 6
ipv6.version U8 Version
ipv6.tclass U32 Traffic Class
ipv6.tclass.dscp U32 Differentiated Services Codepoint
ipv6.tclass.ecn U32 Explicit Congestion Notification
ipv6.flow U32 Flow Label
ipv6.plen U16 Payload Length
ipv6.nxt U8 Next Header
ipv6.hlim U8 Hop Limit
ipv6.src IPV6 Source Address
ipv6.dst IPV6 Destination Address
ipv6.addr IPV6 Source or Destination Address
ipv6.src_host STR Source Host
ipv6.dst_host STR Destination Host
ipv6.host STR Source or Destination Host
ipv6.hopopts PROTO IPv6 Hop-by-Hop Option
ipv6.routing PROTO Routing Header for IPv6
ipv6.dstopts PROTO Destination Options for IPv6
ipv6.fraghdr PROTO IPv6 Fragment
ipv6.fraghdr.nxt U8 Next header
ipv6.fraghdr.offset U16 Offset
ipv6.fraghdr.more BOOL More Fragments
ipv6.fraghdr.ident U32 Identification
ipv6.fragment FNUM IPv6 Fragment
ipv6.reassembled_in FNUM Reassembled IPv6 in frame
icmp PROTO Internet Control Message Protocol
icmp.type U8 Type
icmp.code U8 Code
icmp.checksum U16 Checksum
icmp.checksum.status U8 Checksum Status
icmp.ident U16 Identifier (BE)
icmp.ident_le U16 Identifier (LE)
icmp.seq U16 Sequence Number (BE)
icmp.seq_le U16 Sequence Number (LE)
icmp.data_time ABS Timestamp from icmp data
icmp.resp_in FNUM Response frame
icmp.resp_to FNUM Request frame
icmp.resptime DBL Response time
icmp.no_resp NONE No response seen
icmp.mtu U16 MTU of next hop
icmp.redir_gw IPV4 Gateway address
icmpv6 PROTO Internet Control Message Protocol v6
icmpv6.type U8 Type
icmpv6.code U8 Code
icmpv6.checksum U16 Checksum
icmpv6.checksum.status U8 Checksum Status
icmpv6.echo.identifier U16 Identifier
icmpv6.echo.sequence_number U16 Sequence
icmpv6.mtu U32 MTU
icmpv6.nd.ns.target_address IPV6 Target Address
icmpv6.nd.na.target_address IPV6 Target Address
icmpv6.opt NONE ICMPv6 Option
icmpv6.opt.type U8 Type
icmpv6.opt.linkaddr ETHER Link-layer address
icmpv6.resp_in FNUM Response In
icmpv6.resp_to FNUM Response To
icmpv6.resptime DBL Response Time
igmp PROTO Internet Group Management Protocol
igmp.type U8 Type
igmp.maddr IPV4 Multicast Address
gre PROTO Generic Routing Encapsulation
gre.flags_and_version U16 Flags and Version
gre.flags.checksum BOOL Checksum Bit
gre.flags.routing BOOL Routing Bit
gre.flags.key BOOL Key Bit
gre.flags.sequence_number BOOL Sequence Number Bit
gre.flags.version U16 Version
gre.proto U16 Protocol Type
gre.checksum U16 Checksum
gre.key U32 GRE Key
gre.sequence_number U32 Sequence Number
vxlan PROTO Virtual eXtensible Local Area Network
vxlan.vni U24 VXLAN Network Identifier (VNI)
tcp PROTO Transmission Control Protocol
tcp.srcport U16 Source Port
tcp.dstport U16 Destination Port
tcp.port U16 Source or Destination Port
tcp.stream U32 Stream index
tcp.completeness U8 Conversation completeness
tcp.len U32 TCP Segment Len
tcp.seq U32 Sequence Number
tcp.seq_raw U32 Sequence Number (raw)
tcp.nxtseq U32 Next Sequence Number
tcp.ack U32 Acknowledgment Number
tcp.ack_raw U32 Acknowledgment number (raw)
tcp.hdr_len U8 Header Length
tcp.flags U16 Flags
tcp.flags.res BOOL Reserved
tcp.flags.ns BOOL Nonce
tcp.flags.ae BOOL Accurate ECN
tcp.flags.cwr BOOL Congestion Window Reduced
tcp.flags.ece BOOL ECN-Echo
tcp.flags.ecn BOOL ECN-Echo
tcp.flags.urg BOOL Urgent
tcp.flags.ack BOOL Acknowledgment
tcp.flags.push BOOL Push
tcp.flags.reset BOOL Reset
tcp.flags.syn BOOL Syn
tcp.flags.fin BOOL Fin
tcp.flags.str STR TCP Flags
tcp.window_size_value U16 Window
tcp.window_size U32 Calculated window size
tcp.window_size_scalefactor I32 Window size scaling factor
tcp.checksum U16 Checksum
tcp.checksum.status U8 Checksum Status
tcp.urgent_pointer U16 Urgent Pointer
tcp.options BYTES TCP Options
tcp.option_kind U8 Kind
tcp.option_len U8 Length
tcp.options.nop NONE TCP Option - No-Operation (NOP)
tcp.options.eol NONE TCP Option - End of Option List (EOL)
tcp.options.mss NONE TCP Option - Maximum segment size
tcp.options.mss_val U16 MSS Value
tcp.options.wscale NONE TCP Option - Window scale
tcp.options.wscale.shift U8 Shift count
tcp.options.wscale.multiplier U16 Multiplier
tcp.options.sack_perm NONE TCP Option - SACK permitted
tcp.options.sack NONE TCP Option - SACK
tcp.options.sack_le U32 left edge
tcp.options.sack_re U32 right edge
tcp.options.timestamp.tsval U32 Timestamp value
tcp.options.timestamp.tsecr U32 Timestamp echo reply
tcp.payload BYTES TCP payload
tcp.segment_data BYTES TCP segment data
tcp.pdu.size U32 PDU Size
tcp.time_relative REL Time since first frame in this TCP stream
tcp.time_delta REL Time since previous frame in this TCP stream
tcp.analysis NONE SEQ/ACK analysis
tcp.analysis.flags NONE TCP Analysis Flags
tcp.analysis.acks_frame FNUM This is an ACK to the segment in frame
tcp.analysis.ack_rtt REL The RTT to ACK the segment was
tcp.analysis.initial_rtt REL iRTT
tcp.analysis.bytes_in_flight U32 Bytes in flight
tcp.analysis.push_bytes_sent U32 Bytes sent since last PSH flag
tcp.analysis.retransmission NONE Retransmission
tcp.analysis.fast_retransmission NONE Fast Retransmission
tcp.analysis.spurious_retransmission NONE Spurious Retransmission
tcp.analysis.out_of_order NONE Out Of Order
tcp.analysis.lost_segment NONE Previous segment(s) not captured
tcp.analysis.ack_lost_segment NONE ACKed segment that wasn't captured
tcp.analysis.window_update NONE Window update
tcp.analysis.window_full NONE Window full
tcp.analysis.keep_alive NONE TCP Keep-Alive
tcp.analysis.keep_alive_ack NONE TCP Keep-Alive ACK
tcp.analysis.duplicate_ack NONE Duplicate ACK
tcp.analysis.duplicate_ack_num U32 Duplicate ACK #
tcp.analysis.duplicate_ack_frame FNUM Duplicate to the ACK in frame
tcp.analysis.zero_window NONE Zero window
tcp.analysis.zero_window_probe NONE Zero Window Probe
tcp.analysis.zero_window_probe_ack NONE Zero Window Probe Ack
tcp.analysis.reused_ports NONE TCP Port numbers reused
tcp.analysis.rto REL The RTO for this segment was
tcp.analysis.rto_frame FNUM RTO based on delta from frame
tcp.segments NONE Reassembled TCP Segments
tcp.segment FNUM TCP Segment
tcp.segment.count U32 Segment count
tcp.reassembled_in FNUM Reassembled PDU in frame
tcp.reassembled.length U32 Reassembled TCP length
tcp.reassembled.data BYTES Reassembled TCP Data
udp PROTO User Datagram Protocol
udp.srcport U16 Source Port
udp.dstport U16 Destination Port
udp.port U16 Source or Destination Port
udp.length U16 Length
udp.checksum U16 Checksum
udp.checksum.status U8 Checksum Status
udp.stream U32 Stream index
udp.payload BYTES Payload
udp.time_relative REL Time since first frame
udp.time_delta REL Time since previous frame
sctp PROTO Stream Control Transmission Protocol
sctp.srcport U16 Source port
sctp.dstport U16 Destination port
sctp.port U16 Port
"""

TABLE = LINK_TO_TRANSPORT + APP_TABLE
