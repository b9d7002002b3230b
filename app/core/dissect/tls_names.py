"""Name tables for TLS: versions, content types, handshake types, cipher suites, extensions."""
from __future__ import annotations

VERSIONS = {0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2", 0x0304: "TLS 1.3"}
SHORT_VERSIONS = {0x0300: "SSLv3", 0x0301: "TLSv1", 0x0302: "TLSv1.1", 0x0303: "TLSv1.2", 0x0304: "TLSv1.3"}
CONTENT_TYPES = {20: "Change Cipher Spec", 21: "Alert", 22: "Handshake", 23: "Application Data", 24: "Heartbeat"}
HANDSHAKE_TYPES = {0: "Hello Request", 1: "Client Hello", 2: "Server Hello", 3: "Hello Verify Request",
                   4: "New Session Ticket", 5: "End of Early Data", 8: "Encrypted Extensions",
                   11: "Certificate", 12: "Server Key Exchange", 13: "Certificate Request",
                   14: "Server Hello Done", 15: "Certificate Verify", 16: "Client Key Exchange",
                   20: "Finished", 21: "Certificate URL", 22: "Certificate Status", 24: "Key Update",
                   67: "Next Protocol"}
ALERT_LEVELS = {1: "Warning", 2: "Fatal"}
ALERT_DESCS = {0: "Close Notify", 10: "Unexpected Message", 20: "Bad Record MAC", 21: "Decryption Failed",
               22: "Record Overflow", 30: "Decompression Failure", 40: "Handshake Failure",
               41: "No Certificate", 42: "Bad Certificate", 43: "Unsupported Certificate",
               44: "Certificate Revoked", 45: "Certificate Expired", 46: "Certificate Unknown",
               47: "Illegal Parameter", 48: "Unknown CA", 49: "Access Denied", 50: "Decode Error",
               51: "Decrypt Error", 70: "Protocol Version", 71: "Insufficient Security",
               80: "Internal Error", 86: "Inappropriate Fallback", 90: "User Canceled",
               100: "No Renegotiation", 109: "Missing Extension", 110: "Unsupported Extension",
               112: "Unrecognized Name", 116: "Certificate Required", 120: "No Application Protocol"}
EXTENSIONS = {0: "server_name", 1: "max_fragment_length", 2: "client_certificate_url", 3: "trusted_ca_keys",
              4: "truncated_hmac", 5: "status_request", 10: "supported_groups", 11: "ec_point_formats",
              13: "signature_algorithms", 14: "use_srtp", 15: "heartbeat",
              16: "application_layer_protocol_negotiation", 18: "signed_certificate_timestamp",
              19: "client_certificate_type", 20: "server_certificate_type", 21: "padding",
              22: "encrypt_then_mac", 23: "extended_master_secret", 27: "compress_certificate",
              28: "record_size_limit", 35: "session_ticket", 41: "pre_shared_key", 42: "early_data",
              43: "supported_versions", 44: "cookie", 45: "psk_key_exchange_modes",
              47: "certificate_authorities", 49: "post_handshake_auth", 50: "signature_algorithms_cert",
              51: "key_share", 57: "quic_transport_parameters", 13172: "next_protocol_negotiation",
              17513: "application_settings", 30032: "channel_id", 65281: "renegotiation_info",
              65037: "encrypted_client_hello"}
CIPHER_SUITES = {
    0x0000: "TLS_NULL_WITH_NULL_NULL", 0x0004: "TLS_RSA_WITH_RC4_128_MD5", 0x0005: "TLS_RSA_WITH_RC4_128_SHA",
    0x000A: "TLS_RSA_WITH_3DES_EDE_CBC_SHA", 0x0016: "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
    0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA", 0x0032: "TLS_DHE_DSS_WITH_AES_128_CBC_SHA",
    0x0033: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", 0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
    0x0038: "TLS_DHE_DSS_WITH_AES_256_CBC_SHA", 0x0039: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
    0x003C: "TLS_RSA_WITH_AES_128_CBC_SHA256", 0x003D: "TLS_RSA_WITH_AES_256_CBC_SHA256",
    0x0041: "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA", 0x0045: "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA",
    0x0067: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", 0x006B: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
    0x0084: "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA", 0x0088: "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA",
    0x009C: "TLS_RSA_WITH_AES_128_GCM_SHA256", 0x009D: "TLS_RSA_WITH_AES_256_GCM_SHA384",
    0x009E: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", 0x009F: "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    0x00FF: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV", 0x5600: "TLS_FALLBACK_SCSV",
    0x1301: "TLS_AES_128_GCM_SHA256", 0x1302: "TLS_AES_256_GCM_SHA384", 0x1303: "TLS_CHACHA20_POLY1305_SHA256",
    0x1304: "TLS_AES_128_CCM_SHA256", 0x1305: "TLS_AES_128_CCM_8_SHA256",
    0xC002: "TLS_ECDH_ECDSA_WITH_RC4_128_SHA", 0xC004: "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA",
    0xC005: "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA", 0xC007: "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    0xC008: "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA", 0xC009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    0xC00A: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", 0xC00C: "TLS_ECDH_RSA_WITH_RC4_128_SHA",
    0xC00E: "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA", 0xC00F: "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA",
    0xC011: "TLS_ECDHE_RSA_WITH_RC4_128_SHA", 0xC012: "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    0xC013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", 0xC014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    0xC023: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", 0xC024: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    0xC027: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", 0xC028: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    0xC02B: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", 0xC02C: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    0xC02F: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 0xC030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    0xCCA8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCA9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCAA: "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCC13: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 (draft)",
    0xCC14: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 (draft)",
}
GROUPS = {i + 1: n for i, n in enumerate(
    ("sect163k1 sect163r1 sect163r2 sect193r1 sect193r2 sect233k1 sect233r1 sect239k1 sect283k1 sect283r1 "
     "sect409k1 sect409r1 sect571k1 sect571r1 secp160k1 secp160r1 secp160r2 secp192k1 secp192r1 secp224k1 "
     "secp224r1 secp256k1 secp256r1 secp384r1 secp521r1 brainpoolP256r1 brainpoolP384r1 brainpoolP512r1 "
     "x25519 x448").split())}
GROUPS.update({256: "ffdhe2048", 257: "ffdhe3072", 258: "ffdhe4096", 259: "ffdhe6144", 260: "ffdhe8192",
               0x6399: "X25519Kyber768Draft00", 0x11EC: "X25519MLKEM768"})


def is_grease(v: int) -> bool:
    """RFC 8701 reserved values (0x0a0a, 0x1a1a, ...)."""
    return v & 0x0F0F == 0x0A0A and (v >> 8) == (v & 0xFF)


def version_label(v: int) -> str:
    return f"{VERSIONS.get(v, 'Unknown')} (0x{v:04x})"


def suite_label(v: int) -> str:
    if is_grease(v):
        return f"Reserved (GREASE) (0x{v:04x})"
    return f"{CIPHER_SUITES.get(v, 'Unknown')} (0x{v:04x})"


def ext_name(v: int) -> str:
    if is_grease(v):
        return "Reserved (GREASE)"
    return EXTENSIONS.get(v, "Unknown")
