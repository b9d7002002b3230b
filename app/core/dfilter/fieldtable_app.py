"""Application-layer part of the field registry data.

Format: see :mod:`app.core.dfilter.fieldtable`.
"""

APP_TABLE = """
dns PROTO Domain Name System
dns.id U16 Transaction ID
dns.flags U16 Flags
dns.flags.response BOOL Response
dns.flags.opcode U16 Opcode
dns.flags.authoritative BOOL Authoritative
dns.flags.truncated BOOL Truncated
dns.flags.recdesired BOOL Recursion desired
dns.flags.recavail BOOL Recursion available
dns.flags.z BOOL Z
dns.flags.authenticated BOOL Answer authenticated
dns.flags.checkdisable BOOL Non-authenticated data
dns.flags.rcode U16 Reply code
dns.count.queries U16 Questions
dns.count.answers U16 Answer RRs
dns.count.auth_rr U16 Authority RRs
dns.count.add_rr U16 Additional RRs
dns.qry.name STR Name
dns.qry.name.len U16 Name Length
dns.count.labels U16 Label Count
dns.qry.type U16 Type
dns.qry.class U16 Class
dns.resp.name STR Name
dns.resp.type U16 Type
dns.resp.class U16 Class
dns.resp.ttl U32 Time to live
dns.resp.len U32 Data length
dns.a IPV4 Address
dns.aaaa IPV6 AAAA Address
dns.cname STR CNAME
dns.ns STR Name Server
dns.ptr.domain_name STR Domain Name
dns.mx.mail_exchange STR Mail Exchange
dns.txt STR TXT
dns.srv.target STR Target
dns.srv.port U16 Port
dns.response_in FNUM Response In
dns.response_to FNUM Request In
dns.time REL Time
dns.retransmission BOOL Retransmission
mdns PROTO Multicast Domain Name System
llmnr PROTO Link-local Multicast Name Resolution
nbns PROTO NetBIOS Name Service
nbns.id U16 Transaction ID
nbns.name STR Name
nbss PROTO NetBIOS Session Service
nbdgm PROTO NetBIOS Datagram Service
smb PROTO SMB (Server Message Block Protocol)
browser PROTO Microsoft Windows Browser Protocol
http PROTO Hypertext Transfer Protocol
http.request BOOL Request
http.response BOOL Response
http.request.method STR Request Method
http.request.uri STR Request URI
http.request.uri.path STR Request URI Path
http.request.uri.query STR Request URI Query
http.request.full_uri STR Full request URI
http.request.version STR Request Version
http.request.line STR Request line
http.request_number U32 Request number
http.response.version STR Response Version
http.response.code U16 Status Code
http.response.code.desc STR Status Code Description
http.response.phrase STR Response Phrase
http.response.line STR Response line
http.response_number U32 Response number
http.host STR Host
http.user_agent STR User-Agent
http.accept STR Accept
http.accept_encoding STR Accept Encoding
http.accept_language STR Accept-Language
http.referer STR Referer
http.cookie STR Cookie
http.set_cookie STR Set-Cookie
http.server STR Server
http.content_type STR Content-Type
http.content_length U64 Content length
http.content_length_header STR Content-Length
http.content_encoding STR Content-Encoding
http.transfer_encoding STR Transfer-Encoding
http.connection STR Connection
http.location STR Location
http.authorization STR Authorization
http.authbasic STR Credentials
http.cache_control STR Cache-Control
http.date STR Date
http.last_modified STR Last-Modified
http.x_forwarded_for STR X-Forwarded-For
http.file_data BYTES File Data
http.time REL Time since request
http.request_in FNUM Request in frame
http.response_in FNUM Response in frame
http.prev_request_in FNUM Prev request in frame
http.next_request_in FNUM Next request in frame
http.prev_response_in FNUM Prev response in frame
http.next_response_in FNUM Next response in frame
ssdp PROTO Simple Service Discovery Protocol
tls PROTO Transport Layer Security
tls.record NONE Record Layer
tls.record.content_type U8 Content Type
tls.record.version U16 Version
tls.record.length U16 Length
tls.app_data BYTES Encrypted Application Data
tls.change_cipher_spec NONE Change Cipher Spec Message
tls.alert_message NONE Alert Message
tls.alert_message.level U8 Level
tls.alert_message.desc U8 Description
tls.handshake NONE Handshake Protocol
tls.handshake.type U8 Handshake Type
tls.handshake.length U24 Length
tls.handshake.version U16 Version
tls.handshake.random BYTES Random
tls.handshake.session_id_length U8 Session ID Length
tls.handshake.session_id BYTES Session ID
tls.handshake.cipher_suites_length U16 Cipher Suites Length
tls.handshake.ciphersuite U16 Cipher Suite
tls.handshake.comp_method U8 Compression Method
tls.handshake.extensions_length U16 Extensions Length
tls.handshake.extension.type U16 Type
tls.handshake.extension.len U16 Length
tls.handshake.extensions_server_name_len U16 Server Name length
tls.handshake.extensions_server_name STR Server Name
tls.handshake.extensions_alpn_str STR ALPN Next Protocol
tls.handshake.extensions.supported_version U16 Supported Version
tls.handshake.certificates_length U24 Certificates Length
tls.handshake.certificate BYTES Certificate
dhcp PROTO Dynamic Host Configuration Protocol
dhcp.type U8 Message type
dhcp.hw.type U8 Hardware type
dhcp.hw.len U8 Hardware address length
dhcp.hops U8 Hops
dhcp.id U32 Transaction ID
dhcp.secs U16 Seconds elapsed
dhcp.flags U16 Bootp flags
dhcp.flags.bc BOOL Broadcast flag
dhcp.ip.client IPV4 Client IP address
dhcp.ip.your IPV4 Your (client) IP address
dhcp.ip.server IPV4 Next server IP address
dhcp.ip.relay IPV4 Relay agent IP address
dhcp.hw.mac_addr ETHER Client MAC address
dhcp.server STRZ Server host name
dhcp.file STRZ Boot file name
dhcp.cookie IPV4 Magic cookie
dhcp.option.type U8 Option
dhcp.option.length U8 Length
dhcp.option.value BYTES Value
dhcp.option.dhcp U8 DHCP
dhcp.option.hostname STR Host Name
dhcp.option.requested_ip_address IPV4 Requested IP Address
dhcp.option.dhcp_server_id IPV4 DHCP Server Identifier
dhcp.option.subnet_mask IPV4 Subnet Mask
dhcp.option.router IPV4 Router
dhcp.option.domain_name_server IPV4 Domain Name Server
dhcp.option.ip_address_lease_time U32 IP Address Lease Time
dhcp.option.vendor_class_id STR Vendor class identifier
dhcp.option.request_list_item U8 Parameter Request List Item
dhcpv6 PROTO DHCPv6
dhcpv6.msgtype U8 Message type
dhcpv6.xid U24 Transaction ID
ntp PROTO Network Time Protocol
ntp.flags U8 Flags
ntp.flags.li U8 Leap Indicator
ntp.flags.vn U8 Version number
ntp.flags.mode U8 Mode
ntp.stratum U8 Peer Clock Stratum
ntp.ppoll I8 Peer Polling Interval
ntp.precision I8 Peer Clock Precision
ntp.rootdelay DBL Root Delay
ntp.rootdispersion DBL Root Dispersion
ntp.refid BYTES Reference ID
ntp.reftime ABS Reference Timestamp
ntp.org ABS Origin Timestamp
ntp.rec ABS Receive Timestamp
ntp.xmt ABS Transmit Timestamp
sip PROTO Session Initiation Protocol
sip.Method STR Method
sip.Request-Line STR Request-Line
sip.r-uri STR Request-URI
sip.Status-Line STR Status-Line
sip.Status-Code U32 Status-Code
sip.resend BOOL Resent Packet
sip.Call-ID STR Call-ID
sip.CSeq STR CSeq
sip.CSeq.seq U32 Sequence Number
sip.CSeq.method STR Method
sip.from.addr STR SIP from address
sip.from.user STR SIP from address User Part
sip.to.addr STR SIP to address
sip.to.user STR SIP to address User Part
sip.Via STR Via
sip.Contact STR Contact
sip.User-Agent STR User-Agent
sip.Content-Type STR Content-Type
sip.Content-Length U32 Content-Length
sdp PROTO Session Description Protocol
sdp.version STR Session Description Protocol Version (v)
sdp.owner.username STR Owner Username
sdp.connection_info.address STR Connection Address
sdp.media.media STR Media Type
sdp.media.port STR Media Port
ftp PROTO File Transfer Protocol (FTP)
ftp.request BOOL Request
ftp.response BOOL Response
ftp.request.command STR Request command
ftp.request.arg STR Request arg
ftp.response.code U32 Response code
ftp.response.arg STR Response arg
ftp.passive.ip IPV4 Passive IP address
ftp.passive.port U16 Passive port
ftp.active.cip IPV4 Active IP address
ftp.active.port U16 Active port
ftp-data PROTO FTP Data
ftp-data.command STR Command
ftp-data.current-working-directory STR Current working directory
smtp PROTO Simple Mail Transfer Protocol
smtp.req BOOL Request
smtp.rsp BOOL Response
smtp.req.command STR Command
smtp.req.parameter STR Request parameter
smtp.response.code U32 Response code
smtp.rsp.parameter STR Response parameter
imf PROTO Internet Message Format
pop PROTO Post Office Protocol
imap PROTO Internet Message Access Protocol
ssh PROTO SSH Protocol
ssh.protocol STR Protocol
ssh.packet_length U32 Packet Length
ssh.message_code U8 Message Code
ssh.direction BOOL Direction
telnet PROTO Telnet
tftp PROTO Trivial File Transfer Protocol
rip PROTO Routing Information Protocol
rip.command U8 Command
rip.version U8 Version
rip.ip IPV4 IP Address
rip.metric U16 Metric
nfs PROTO Network File System
nfs.procedure_v3 U32 V3 Procedure
rpc PROTO Remote Procedure Call
rpc.xid U32 XID
rpc.msgtyp U32 Message Type
rpc.program U32 Program
rpc.procedure U32 Procedure
quic PROTO QUIC IETF
quic.header_form U8 Header Form
quic.fixed_bit BOOL Fixed Bit
quic.spin_bit BOOL Spin Bit
quic.long.packet_type U8 Packet Type
quic.version U32 Version
quic.dcil U8 Destination Connection ID Length
quic.dcid BYTES Destination Connection ID
quic.scil U8 Source Connection ID Length
quic.scid BYTES Source Connection ID
quic.packet_length U32 Packet Length
quic.connection.number U32 Connection Number
quic.frame NONE Frame
quic.frame_type U64 Frame Type
quic.payload BYTES Payload
quic.remaining_payload BYTES Remaining Payload
gquic PROTO GQUIC (Google QUIC)
gquic.puflags U8 Public Flags
gquic.cid U64 CID
gquic.version STR Version
gquic.packet_number U64 Packet Number
gquic.tag STR Tag
rtp PROTO Real-Time Transport Protocol
rtp.ssrc U32 Synchronization Source identifier
rtp.seq U16 Sequence number
rtp.p_type U8 Payload type
rtcp PROTO Real-time Transport Control Protocol
syslog PROTO Syslog message
syslog.msg STR Message
snmp PROTO Simple Network Management Protocol
xml PROTO eXtensible Markup Language
json PROTO JavaScript Object Notation
json.key STR Key
json.value.string STR String value
media PROTO Media Type
ocsp PROTO Online Certificate Status Protocol
db-lsp-disc PROTO Dropbox LAN sync Discovery Protocol
data-text-lines PROTO Line-based text data
urlencoded-form PROTO HTML Form URL Encoded
image-gif PROTO Compuserve GIF
image-jfif PROTO JPEG File Interchange Format
png PROTO Portable Network Graphics
pkcs-1 PROTO PKCS #1
pkix1explicit PROTO PKIX1Explicit
pkix1implicit PROTO PKIX1Implicit
x509af PROTO X.509 Authentication Framework
x509ce PROTO X.509 Certificate Extensions
x509sat PROTO X.509 Selected Attribute Types
data PROTO Data
data.data BYTES Data
data.len I32 Length
_ws.malformed PROTO Malformed Packet
_ws.short PROTO Short Frame
_ws.unreassembled PROTO Unreassembled Fragmented Packet
_ws.expert PROTO Expert Info
_ws.expert.message STR Message
_ws.expert.group U32 Group
_ws.expert.severity U32 Severity level
"""
