#!/usr/bin/env python3
"""Writes the binary seeds of fuzz/corpus/ (the text seeds are plan files,
traces, URLs and ranges copied or written by hand).

Each seed is what the protocol really carries, laid out as the crates'
encoders lay it out (the comments name the Rust function mirrored), so the
fuzzers start past the length and magic checks: UDP echo packets
(udp_echo::wire::Packet::emit), ICMP echo replies (ping::wire::Echo::emit,
with and without a raw socket's IPv4 header), DNS answers, iperf3 control
conversations (throughput::control, Params/Results::to_json) and UDP data
headers (UdpHeader::emit), and TAP frames with a virtio-net header
(vnet::tests::super_v4). Run from the repository root:

    python3 fuzz/seeds.py
"""

import json
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def messages(msgs):
    """netproof_fuzz::frame_messages: a length byte, then the message."""
    out = b""
    for m in msgs:
        m = m[:255]
        out += bytes([len(m)]) + m
    return out


# -- UDP echo: MAGIC, version 1, kind, reserved u16, seq u64, stamp u64 (BE).
def echo(kind, seq, stamp_ns, size=24):
    p = b"NPUE" + bytes([1, kind]) + b"\0\0" + struct.pack(">QQ", seq, stamp_ns)
    return p.ljust(size, b"\0")


MS = 1_000_000
write("udp_echo", "replies-in-order", messages(echo(1, s, 10 * s * MS) for s in range(16)))
write("udp_echo", "reordered-duplicate-stray",
      messages([echo(1, 3, 30 * MS), echo(1, 1, 10 * MS), echo(1, 1, 10 * MS),
                echo(1, 99, 0), echo(1, 2, 7), echo(0, 4, 40 * MS, 64)]))
write("udp_echo", "bad-magic-version-kind",
      messages([b"NPUX" + echo(1, 0, 0)[4:], b"NPUE\x02" + echo(1, 0, 0)[5:],
                b"NPUE\x01\x07" + echo(1, 0, 0)[6:], b"NPUE"]))


# -- ICMP echo (RFC 792 / RFC 4443): type, code, checksum, ident, seq, stamp.
def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(">%dH" % (len(b) // 2), b))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def icmp(v6, reply, ident, seq, stamp_ns, payload=56):
    t = (129 if reply else 128) if v6 else (0 if reply else 8)
    m = bytearray(struct.pack(">BBHHHQ", t, 0, 0, ident, seq, stamp_ns).ljust(8 + payload, b"\0"))
    if not v6:
        m[2:4] = struct.pack(">H", checksum(bytes(m)))
    return bytes(m)


def ipv4(payload, options=b""):
    ihl = (20 + len(options)) // 4
    h = bytearray(struct.pack(">BBHHHBBH4s4s", 0x40 | ihl, 0, 20 + len(options) + len(payload),
                              1, 0, 64, 1, 0, bytes([198, 18, 0, 2]), bytes([198, 18, 0, 1])))
    h += options
    return bytes(h) + payload


# Control byte: bit 0 family (0 v4), bit 1 raw socket (ident 0x4e50).
v4 = [icmp(False, True, 0, s, 10 * s * MS, 16) for s in range(20)]
write("ping", "v4-datagram", b"\x00" + messages(v4))
write("ping", "v6-datagram", b"\x01" + messages(icmp(True, True, 0, s, 10 * s * MS, 16) for s in range(20)))
write("ping", "v4-raw-with-options",
      b"\x02" + messages([ipv4(icmp(False, True, 0x4E50, 1, 10 * MS, 16)),
                          ipv4(icmp(False, True, 0x4E50, 2, 20 * MS, 16), b"\x01\x01\x01\x00"),
                          ipv4(icmp(False, False, 0x4E50, 3, 30 * MS, 16)),
                          ipv4(icmp(False, True, 0x1111, 4, 40 * MS, 16))]))
bad = bytearray(v4[5])
bad[-1] ^= 1
write("ping", "v4-bad-checksum-and-unreachable",
      b"\x00" + messages([bytes(bad), bytes([3, 1, 0, 0, 0, 0, 0, 0]) + ipv4(b"\0" * 8)]))


# -- DNS answers for edge.cdn.test (control byte: question index, 2*type + ecs).
def name(n):
    return b"".join(bytes([len(l)]) + l.encode() for l in n.split(".") if l) + b"\0"


def rr(owner, rtype, ttl, rdata):
    return owner + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata


def opt(ecs=None):
    rdata = b""
    if ecs is not None:
        family, source, scope, addr = ecs
        body = struct.pack(">HBB", family, source, scope) + addr
        rdata = struct.pack(">HH", 8, len(body)) + body
    return b"\0" + struct.pack(">HHIH", 41, 1232, 0, len(rdata)) + rdata


def answer(qid, rtype, answers, rcode=0, ecs=None, authority=b"", qd=True):
    flags = 0x8180 | rcode
    q = name("edge.cdn.test") + struct.pack(">HH", rtype, 1) if qd else b""
    ar = opt(ecs)
    return (struct.pack(">HHHHHH", qid, flags, 1 if qd else 0, len(answers),
                        1 if authority else 0, 1) + q + b"".join(answers) + authority + ar)


PTR = b"\xc0\x0c"  # a compression pointer to the question's name
write("dns_response", "a-with-ecs",
      b"\x01" + answer(0x1234, 1, [rr(PTR, 1, 30, bytes([198, 18, 4, 10]))],
                       ecs=(1, 24, 24, bytes([198, 18, 4]))))
write("dns_response", "aaaa", b"\x02" + answer(7, 28, [rr(PTR, 28, 60, bytes(16))]))
write("dns_response", "txt", b"\x04" + answer(9, 16, [rr(PTR, 16, 5, b"\x05hello\x03abc")]))
write("dns_response", "cname-chain",
      b"\x06" + answer(11, 5, [rr(PTR, 5, 300, name("origin.cdn.test"))]))
write("dns_response", "nxdomain-soa",
      b"\x00" + answer(13, 1, [], rcode=3,
                       authority=rr(name("cdn.test"), 6, 60, name("ns.cdn.test") + name("h.cdn.test")
                                    + struct.pack(">IIIII", 1, 2, 3, 4, 5))))
write("dns_response", "no-question-servfail", b"\x00" + answer(15, 1, [], rcode=2, qd=False))
write("dns_response", "ecs-v6-scope-too-long",
      b"\x03" + answer(17, 28, [], ecs=(2, 56, 129, bytes(7))))


# -- iperf3: state bytes, JSON frames (4-byte BE length), cookie.
def state(*s):
    codes = {"TEST_START": 1, "TEST_RUNNING": 2, "TEST_END": 4, "PARAM_EXCHANGE": 9,
             "CREATE_STREAMS": 10, "SERVER_TERMINATE": 11, "CLIENT_TERMINATE": 12,
             "EXCHANGE_RESULTS": 13, "DISPLAY_RESULTS": 14, "IPERF_DONE": 16,
             "ACCESS_DENIED": 0xFF, "SERVER_ERROR": 0xFE}
    return bytes(codes[x] for x in s)


def frame(obj):
    text = json.dumps(obj, separators=(",", ":")).encode()
    return struct.pack(">I", len(text)) + text


def results(streams, retrans=1):
    return {"cpu_util_total": 0.0, "cpu_util_user": 0.0, "cpu_util_system": 0.0,
            "sender_has_retransmits": retrans, "congestion_used": "cubic",
            "streams": [{"id": i, "bytes": 125_000_000, "retransmits": 3, "jitter": 0.0001,
                         "errors": 2, "packets": 1000, "start_time": 0, "end_time": 10.0}
                        for i in streams]}


client = state("PARAM_EXCHANGE", "CREATE_STREAMS", "TEST_START", "TEST_RUNNING", "EXCHANGE_RESULTS")
write("iperf3_client", "full-test", b"\x00" + client + frame(results([1, 3])) + state("DISPLAY_RESULTS"))
write("iperf3_client", "server-error", b"\x00" + state("PARAM_EXCHANGE") + b"\xfe\0\0\0\x77\0\0\0\x62")
write("iperf3_client", "access-denied", b"\x00" + state("ACCESS_DENIED"))
write("iperf3_client", "terminated-mid-test", b"\x00" + client[:4] + state("SERVER_TERMINATE"))
write("iperf3_client", "results-float-counts",
      b"\x00" + client + frame(dict(results([1]), streams=[{"id": 1, "bytes": 5e9, "retransmits": -1,
                                                            "jitter": 0, "errors": 0, "packets": 4.0}]))
      + state("DISPLAY_RESULTS"))


def udp_header(sec, usec, count, wide):
    return struct.pack(">II", sec, usec) + (struct.pack(">Q", count) if wide else struct.pack(">I", count & 0xFFFFFFFF))


write("iperf3_client", "udp-datagrams",
      b"\x01" + messages(udp_header(1_700_000_000, 1000 * i, c, False).ljust(64, b"\0")
                         for i, c in enumerate([1, 2, 4, 3, 3, 9])))
write("iperf3_client", "udp-datagrams-64bit",
      b"\x03" + messages(udp_header(1_700_000_000, 1000 * i, c, True).ljust(64, b"\0")
                         for i, c in enumerate([1, 2, 2**63, 5])))

cookie = b"abcdefghijklmnopqrstuvwxyz234567abcd\0"
params = {"tcp": True, "omit": 0, "time": 10, "num": 0, "blockcount": 0, "parallel": 2, "len": 131072,
          "pacing_timer": 1000, "client_version": "3.16"}
write("iperf3_server", "tcp-test",
      b"\x00" + cookie + frame(params) + state("TEST_END") + frame(results([1, 3], 1)) + state("IPERF_DONE"))
write("iperf3_server", "udp-reverse-64bit",
      b"\x00" + cookie + frame({"udp": True, "time": 5, "parallel": 1, "len": 1460, "reverse": True,
                                "bandwidth": 10_000_000, "udp_counters_64bit": 1})
      + state("CLIENT_TERMINATE"))
write("iperf3_server", "refused-params",
      b"\x00" + cookie + frame({"tcp": True, "bidirectional": True, "parallel": 500}))
write("iperf3_server", "udp-datagrams",
      b"\x01" + messages([struct.pack("<I", 0x36373839)]
                         + [udp_header(1_700_000_000, 500 * i, i + 1, False).ljust(32, b"\0") for i in range(5)]))


# -- TAP frames: virtio-net header (LE), Ethernet, IP, TCP/UDP, payload.
def vnet(flags, gso_type, hdr_len, gso_size, csum_start, csum_offset):
    return struct.pack("<BBHHHH", flags, gso_type, hdr_len, gso_size, csum_start, csum_offset)


def eth(ethertype, vlan=None):
    h = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01"
    if vlan is not None:
        h += struct.pack(">HH", 0x8100, vlan)
    return h + struct.pack(">H", ethertype)


def tcp(seq=1000, flags=0x80 | 0x10 | 0x08 | 0x01):
    return struct.pack(">HHIIBBHHH", 1234, 80, seq, 0, 5 << 4, flags, 65535, 0, 0)


def v4(proto, l4, tos=0x02):
    h = bytearray(struct.pack(">BBHHHBBH4s4s", 0x45, tos, 20 + len(l4), 0x1234, 0x4000, 64, proto, 0,
                              bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2])))
    h[10:12] = struct.pack(">H", checksum(bytes(h)))
    return bytes(h) + l4


def v6(proto, l4, tc=0x02):
    return (struct.pack(">IHBB", (6 << 28) | (tc << 20), len(l4), proto, 64)
            + bytes([0x20, 1, 0, 2] + [0] * 11 + [1]) + bytes([0x20, 1, 0, 2] + [0] * 11 + [2]) + l4)


payload = bytes(i % 251 for i in range(4000))
# Control byte: bit 0 mark CE, bit 1 corrupt (the rest its random value).
write("vnet", "tcp4-super-frame", b"\x00" + vnet(1, 1, 54, 1448, 34, 16) + eth(0x0800) + v4(6, tcp() + payload))
write("vnet", "tcp4-super-ce-corrupt", b"\x07" + vnet(1, 0x81, 54, 1000, 34, 16) + eth(0x0800) + v4(6, tcp() + payload[:2500]))
write("vnet", "tcp6-super-frame", b"\x02" + vnet(1, 4, 74, 1428, 54, 16) + eth(0x86DD) + v6(6, tcp() + payload[:3000]))
write("vnet", "tcp4-vlan", b"\x01" + vnet(1, 1, 58, 500, 38, 16) + eth(0x0800, 7) + v4(6, tcp() + payload[:1600]))
write("vnet", "udp4-needs-csum", b"\x06" + vnet(1, 0, 0, 0, 34, 6) + eth(0x0800) + v4(17, struct.pack(">HHHH", 53, 5353, 8 + 40, 0) + payload[:40]))
write("vnet", "arp", b"\x02" + vnet(0, 0, 0, 0, 0, 0) + eth(0x0806) + bytes(28))
write("vnet", "ipv4-options-ecn", b"\x01" + vnet(0, 0, 0, 0, 0, 0) + eth(0x0800)
      + bytes([0x46, 0x01]) + v4(6, tcp())[2:20] + b"\x01\x01\x01\x00" + tcp() + payload[:100])
