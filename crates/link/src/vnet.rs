//! Frames as a TAP device with `IFF_VNET_HDR` hands them over: a virtio-net
//! header, then an Ethernet frame that may be a TCP super-frame standing for
//! many wire segments.
//!
//! [`FrameInfo::parse`] finds the headers and the wire segments a frame
//! stands for; [`emit`] writes a run of those segments as one frame: the
//! frame itself when the run is all of it, else a smaller super-frame (or a
//! single segment) whose IP length, IPv4 ID and header checksum, TCP
//! sequence number, flags and partial checksum are rewritten so the
//! receiving kernel accepts it as if the sender had sent it so. Payload is
//! never copied for that: a piece is written as its rewritten headers and a
//! slice of the original payload.

use std::io;

use crate::core::Segments;

/// Bytes of the virtio-net header (the legacy layout, no `num_buffers`).
pub const VNET_HDR_LEN: usize = 10;

/// `flags`: the checksum from `csum_start` to the end is left to do.
pub const F_NEEDS_CSUM: u8 = 1;

/// `gso_type`: not a super-frame.
pub const GSO_NONE: u8 = 0;
/// `gso_type`: TCP over IPv4.
pub const GSO_TCPV4: u8 = 1;
/// `gso_type`: TCP over IPv6.
pub const GSO_TCPV6: u8 = 4;
/// `gso_type` bit: the super-frame carries ECN's CWR.
pub const GSO_ECN: u8 = 0x80;

const TCP: u8 = 6;
const UDP: u8 = 17;

/// The virtio-net header (little-endian on the wire, as on every host this
/// runs on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VnetHdr {
    /// [`F_NEEDS_CSUM`] and friends.
    pub flags: u8,
    /// One of the `GSO_*` types, possibly with [`GSO_ECN`].
    pub gso_type: u8,
    /// Length of the headers before the payload.
    pub hdr_len: u16,
    /// Payload bytes per segment of a super-frame.
    pub gso_size: u16,
    /// Where the checksummed region starts, from the Ethernet header.
    pub csum_start: u16,
    /// Where the checksum field is, from `csum_start`.
    pub csum_offset: u16,
}

impl VnetHdr {
    /// Reads the header from the first [`VNET_HDR_LEN`] bytes.
    pub fn parse(b: &[u8]) -> Option<VnetHdr> {
        let b = b.get(..VNET_HDR_LEN)?;
        let u = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        Some(VnetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u(2),
            gso_size: u(4),
            csum_start: u(6),
            csum_offset: u(8),
        })
    }

    /// The header's bytes.
    pub fn to_bytes(self) -> [u8; VNET_HDR_LEN] {
        let mut b = [0u8; VNET_HDR_LEN];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_le_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_le_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_le_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_le_bytes());
        b
    }
}

/// IP version of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ip {
    /// IPv4.
    V4,
    /// IPv6 (no extension headers before the transport header).
    V6,
    /// Not IP (ARP and the like), too short to tell, or an IPv4 header
    /// whose length field does not fit the frame.
    Other,
}

/// What the emulator needs to know about a frame read from a TAP device.
/// Offsets count from the start of the Ethernet header.
#[derive(Debug, Clone, Copy)]
pub struct FrameInfo {
    /// The virtio-net header as read.
    pub hdr: VnetHdr,
    /// IP version.
    pub ip: Ip,
    /// Where the IP header starts.
    pub l3: usize,
    /// Where the transport header starts.
    pub l4: usize,
    /// The transport protocol number.
    pub proto: u8,
    /// Where the transport payload starts (TCP and UDP).
    pub payload: usize,
    /// The wire segments the frame stands for.
    pub segs: Segments,
    /// Whether the IP header says ECN-capable transport.
    pub ect: bool,
}

impl FrameInfo {
    /// Parses a frame as read from a TAP device (virtio-net header first).
    /// Anything it cannot make sense of is one opaque segment, so odd
    /// frames pass; `None` only when the read is shorter than its headers.
    pub fn parse(frame: &[u8]) -> Option<FrameInfo> {
        let hdr = VnetHdr::parse(frame)?;
        let eth = &frame[VNET_HDR_LEN..];
        let len = eth.len();
        let mut info = FrameInfo {
            hdr,
            ip: Ip::Other,
            l3: 14,
            l4: 14,
            proto: 0,
            payload: 14,
            segs: Segments::single(len as u32),
            ect: false,
        };
        if len < 14 {
            return Some(info);
        }
        let mut ethertype = u16::from_be_bytes([eth[12], eth[13]]);
        if ethertype == 0x8100 && len >= 18 {
            info.l3 = 18;
            ethertype = u16::from_be_bytes([eth[16], eth[17]]);
        }
        let l3 = info.l3;
        match ethertype {
            // The header length must cover the fixed header and fit the
            // frame: CE marking and corruption rewrite the header's
            // checksum over `l3..l4`. Anything else passes as opaque.
            0x0800
                if len >= l3 + 20
                    && eth[l3] >> 4 == 4
                    && (20..=len - l3).contains(&(usize::from(eth[l3] & 0x0f) * 4)) =>
            {
                info.ip = Ip::V4;
                info.l4 = l3 + usize::from(eth[l3] & 0x0f) * 4;
                info.proto = eth[l3 + 9];
                info.ect = matches!(eth[l3 + 1] & 3, 1 | 2);
            }
            0x86dd if len >= l3 + 40 && eth[l3] >> 4 == 6 => {
                info.ip = Ip::V6;
                info.l4 = l3 + 40;
                info.proto = eth[l3 + 6];
                info.ect = matches!((eth[l3 + 1] >> 4) & 3, 1 | 2);
            }
            _ => return Some(info),
        }
        let l4 = info.l4;
        info.payload = match info.proto {
            TCP if len >= l4 + 20 => l4 + usize::from(eth[l4 + 12] >> 4) * 4,
            UDP if len >= l4 + 8 => l4 + 8,
            _ => l4,
        }
        .min(len);
        let gso = hdr.gso_type & !GSO_ECN;
        let tcp_gso =
            (gso == GSO_TCPV4 && info.ip == Ip::V4) || (gso == GSO_TCPV6 && info.ip == Ip::V6);
        if tcp_gso && info.proto == TCP && hdr.gso_size > 0 && info.payload >= l4 + 20 {
            let gso_size = usize::from(hdr.gso_size);
            let paylen = len - info.payload;
            let count = paylen.div_ceil(gso_size).max(1);
            if count > 1 {
                info.segs = Segments {
                    count: count as u32,
                    size: (info.payload + gso_size) as u32,
                    last: (info.payload + paylen - (count - 1) * gso_size) as u32,
                };
            }
        }
        Some(info)
    }

    /// Whether this is a TCP super-frame of several segments.
    pub fn is_super(&self) -> bool {
        self.segs.count > 1
    }
}

/// A run of a frame's segments to write, and what to do to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    /// Index of the first segment.
    pub first: u32,
    /// How many segments.
    pub count: u32,
    /// Mark them ECN Congestion Experienced.
    pub ce: bool,
    /// Flip one bit (a single segment; its checksum is finished first so
    /// the receiver can catch the flip), chosen by this random value.
    pub corrupt: Option<u64>,
}

/// Writes `piece` of `frame` (as read, virtio-net header first) through
/// `write`. `scratch` holds rewritten headers.
pub fn emit<W>(
    frame: &[u8],
    info: &FrameInfo,
    piece: Piece,
    scratch: &mut Vec<u8>,
    write: W,
) -> io::Result<bool>
where
    W: FnOnce(&[&[u8]]) -> io::Result<bool>,
{
    let Piece {
        first,
        count,
        ce,
        corrupt,
    } = piece;
    let whole = first == 0 && count >= info.segs.count;
    if whole && !ce && corrupt.is_none() {
        return write(&[frame]);
    }
    let eth = &frame[VNET_HDR_LEN..];
    // The headers, rewritten, then a slice of the original payload.
    let (head_len, body) = if whole {
        (eth.len(), &eth[eth.len()..])
    } else {
        let gso = usize::from(info.hdr.gso_size);
        let start = info.payload + first as usize * gso;
        let end = (start + count as usize * gso).min(eth.len());
        (info.payload, &eth[start..end])
    };
    scratch.clear();
    let mut hdr = info.hdr;
    if !whole {
        if count > 1 {
            hdr.hdr_len = info.payload as u16;
        } else {
            hdr.gso_type = GSO_NONE;
            hdr.gso_size = 0;
            hdr.hdr_len = 0;
        }
    }
    scratch.extend_from_slice(&hdr.to_bytes());
    scratch.extend_from_slice(&eth[..head_len]);
    {
        let e = &mut scratch[VNET_HDR_LEN..];
        if !whole {
            rewrite_piece(e, info, first, count, body.len());
        }
        if ce {
            mark_ce(e, info);
        }
    }
    if let Some(r) = corrupt {
        scratch.extend_from_slice(body);
        corrupt_bit(scratch, info, r);
        return write(&[scratch]);
    }
    write(&[scratch, body])
}

/// Rewrites the IP and TCP headers of a piece of a TCP super-frame.
fn rewrite_piece(e: &mut [u8], info: &FrameInfo, first: u32, count: u32, paylen: usize) {
    let (l3, l4) = (info.l3, info.l4);
    let tcp_len = info.payload - l4 + paylen;
    match info.ip {
        Ip::V4 => {
            let total = (l4 - l3 + tcp_len) as u16;
            e[l3 + 2..l3 + 4].copy_from_slice(&total.to_be_bytes());
            let id = u16::from_be_bytes([e[l3 + 4], e[l3 + 5]]).wrapping_add(first as u16);
            e[l3 + 4..l3 + 6].copy_from_slice(&id.to_be_bytes());
            ipv4_header_checksum(e, info);
        }
        Ip::V6 => {
            let plen = (l4 - l3 - 40 + tcp_len) as u16;
            e[l3 + 4..l3 + 6].copy_from_slice(&plen.to_be_bytes());
        }
        Ip::Other => return,
    }
    let gso = u32::from(info.hdr.gso_size);
    let seq = u32::from_be_bytes([e[l4 + 4], e[l4 + 5], e[l4 + 6], e[l4 + 7]])
        .wrapping_add(first.wrapping_mul(gso));
    e[l4 + 4..l4 + 8].copy_from_slice(&seq.to_be_bytes());
    if first > 0 {
        e[l4 + 13] &= !0x80; // CWR only on the first piece
    }
    if first + count < info.segs.count {
        e[l4 + 13] &= !(0x01 | 0x08); // FIN and PSH only on the last
    }
    // The partial checksum a NEEDS_CSUM frame carries: the pseudo-header
    // sum (not complemented) over this piece's length.
    let pseudo = pseudo_sum(e, info, tcp_len as u32);
    e[l4 + 16..l4 + 18].copy_from_slice(&fold(pseudo).to_be_bytes());
}

/// Sum of the pseudo-header's 16-bit words (addresses, protocol, length).
fn pseudo_sum(e: &[u8], info: &FrameInfo, l4_len: u32) -> u32 {
    let l3 = info.l3;
    let addrs = match info.ip {
        Ip::V4 => &e[l3 + 12..l3 + 20],
        Ip::V6 => &e[l3 + 8..l3 + 40],
        Ip::Other => &e[..0],
    };
    sum_words(addrs, 0) + u32::from(info.proto) + (l4_len >> 16) + (l4_len & 0xffff)
}

fn sum_words(b: &[u8], mut acc: u32) -> u32 {
    let mut chunks = b.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
        if acc > 0xffff_0000 {
            acc = (acc & 0xffff) + (acc >> 16);
        }
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

fn fold(mut s: u32) -> u16 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

fn ipv4_header_checksum(e: &mut [u8], info: &FrameInfo) {
    let (l3, l4) = (info.l3, info.l4);
    e[l3 + 10] = 0;
    e[l3 + 11] = 0;
    let c = !fold(sum_words(&e[l3..l4], 0));
    e[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
}

/// Sets ECN Congestion Experienced on an ECN-capable packet.
fn mark_ce(e: &mut [u8], info: &FrameInfo) {
    let l3 = info.l3;
    match info.ip {
        Ip::V4 if matches!(e[l3 + 1] & 3, 1 | 2) => {
            e[l3 + 1] |= 3;
            ipv4_header_checksum(e, info);
        }
        Ip::V6 if matches!((e[l3 + 1] >> 4) & 3, 1 | 2) => e[l3 + 1] |= 0x30,
        _ => {}
    }
}

/// Finishes a NEEDS_CSUM frame's checksum in software, then flips one bit
/// of the transport header or payload (of the IP packet when it is not TCP,
/// UDP or ICMP; of the frame after the Ethernet header when it is not IP).
fn corrupt_bit(frame: &mut [u8], info: &FrameInfo, r: u64) {
    let mut hdr = VnetHdr::parse(frame).unwrap_or_default();
    let e = &mut frame[VNET_HDR_LEN..];
    if hdr.flags & F_NEEDS_CSUM != 0 {
        let start = usize::from(hdr.csum_start);
        let field = start + usize::from(hdr.csum_offset);
        if field + 2 <= e.len() {
            let c = !fold(sum_words(&e[start..], 0));
            // UDP sends an all-zero result as all ones.
            let c = if c == 0 && info.proto == UDP {
                0xffff
            } else {
                c
            };
            e[field..field + 2].copy_from_slice(&c.to_be_bytes());
        }
        hdr.flags &= !F_NEEDS_CSUM;
    }
    let from = match info.ip {
        Ip::Other => info.l3.min(e.len()),
        _ => info.l4.min(e.len()),
    };
    let span = (e.len() - from) as u64 * 8;
    if span > 0 {
        let bit = r % span;
        e[from + (bit / 8) as usize] ^= 1 << (bit % 8);
    }
    frame[..VNET_HDR_LEN].copy_from_slice(&hdr.to_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TCP/IPv4 super-frame of `paylen` payload bytes cut at `mss`, with
    /// FIN, PSH and CWR set, as the kernel would hand it over.
    fn super_v4(paylen: usize, mss: u16) -> Vec<u8> {
        let mut f = VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_TCPV4,
            hdr_len: 54,
            gso_size: mss,
            csum_start: 34,
            csum_offset: 16,
        }
        .to_bytes()
        .to_vec();
        let mut eth = vec![0u8; 14];
        eth[12] = 0x08;
        let mut ip = vec![0x45, 0x02, 0, 0, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0];
        ip.extend_from_slice(&[198, 18, 0, 1, 198, 18, 0, 2]);
        let total = (20 + 20 + paylen) as u16;
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        let mut tcp = vec![0u8; 20];
        tcp[0..2].copy_from_slice(&1234u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&80u16.to_be_bytes());
        tcp[4..8].copy_from_slice(&1000u32.to_be_bytes());
        tcp[12] = 5 << 4;
        tcp[13] = 0x80 | 0x10 | 0x08 | 0x01; // CWR ACK PSH FIN
        f.extend(eth);
        f.extend(ip);
        f.extend(tcp);
        f.extend((0..paylen).map(|i| (i % 251) as u8));
        let info = FrameInfo::parse(&f).unwrap();
        let e = &mut f[VNET_HDR_LEN..];
        ipv4_header_checksum(e, &info);
        let p = pseudo_sum(e, &info, (20 + paylen) as u32);
        e[34 + 16..34 + 18].copy_from_slice(&fold(p).to_be_bytes());
        f
    }

    fn collect(frame: &[u8], info: &FrameInfo, first: u32, count: u32) -> Vec<u8> {
        let mut scratch = Vec::new();
        let mut out = Vec::new();
        let piece = Piece {
            first,
            count,
            ce: false,
            corrupt: None,
        };
        emit(frame, info, piece, &mut scratch, |parts| {
            for p in parts {
                out.extend_from_slice(p);
            }
            Ok(true)
        })
        .unwrap();
        out
    }

    #[test]
    fn a_super_frame_counts_its_wire_segments() {
        let f = super_v4(3000, 1448);
        let info = FrameInfo::parse(&f).unwrap();
        assert_eq!(info.ip, Ip::V4);
        assert_eq!((info.l3, info.l4, info.payload), (14, 34, 54));
        assert!(info.ect);
        assert_eq!(
            info.segs,
            Segments {
                count: 3,
                size: 54 + 1448,
                last: 54 + 104
            }
        );
        assert_eq!(info.segs.bytes(), 3 * 54 + 3000);
    }

    #[test]
    fn the_whole_frame_is_written_untouched() {
        let f = super_v4(3000, 1448);
        let info = FrameInfo::parse(&f).unwrap();
        assert_eq!(collect(&f, &info, 0, 3), f);
    }

    #[test]
    fn a_middle_segment_becomes_a_plain_frame_with_its_own_headers() {
        let f = super_v4(3000, 1448);
        let info = FrameInfo::parse(&f).unwrap();
        let p = collect(&f, &info, 1, 1);
        let hdr = VnetHdr::parse(&p).unwrap();
        assert_eq!((hdr.gso_type, hdr.gso_size), (GSO_NONE, 0));
        assert_eq!(hdr.flags, F_NEEDS_CSUM);
        let e = &p[VNET_HDR_LEN..];
        assert_eq!(e.len(), 54 + 1448);
        // IP total length, ID + 1, a valid header checksum.
        assert_eq!(u16::from_be_bytes([e[16], e[17]]), 40 + 1448);
        assert_eq!(u16::from_be_bytes([e[18], e[19]]), 0x1235);
        assert_eq!(fold(sum_words(&e[14..34], 0)), 0xffff);
        // Sequence number advanced by one MSS; CWR, FIN and PSH cleared.
        assert_eq!(
            u32::from_be_bytes([e[38], e[39], e[40], e[41]]),
            1000 + 1448
        );
        assert_eq!(e[47], 0x10);
        // The payload is the second MSS of the original.
        assert_eq!(
            &e[54..],
            &f[VNET_HDR_LEN + 54 + 1448..VNET_HDR_LEN + 54 + 2896]
        );
        // The partial checksum is the pseudo-header sum for this length:
        // finishing it over the segment gives a segment that checks.
        let mut whole = e.to_vec();
        let c = !fold(sum_words(&whole[34..], 0));
        whole[50..52].copy_from_slice(&c.to_be_bytes());
        let check = fold(sum_words(
            &whole[34..],
            pseudo_sum(&whole, &info, (20 + 1448) as u32),
        ));
        assert_eq!(check, 0xffff);
    }

    #[test]
    fn the_last_piece_keeps_fin_and_psh_and_stays_a_super_frame() {
        let f = super_v4(5000, 1000);
        let info = FrameInfo::parse(&f).unwrap();
        assert_eq!(info.segs.count, 5);
        let p = collect(&f, &info, 2, 3);
        let hdr = VnetHdr::parse(&p).unwrap();
        assert_eq!(
            (hdr.gso_type, hdr.gso_size, hdr.hdr_len),
            (GSO_TCPV4, 1000, 54)
        );
        let e = &p[VNET_HDR_LEN..];
        assert_eq!(e.len(), 54 + 3000);
        assert_eq!(u16::from_be_bytes([e[16], e[17]]), 40 + 3000);
        assert_eq!(e[47], 0x10 | 0x08 | 0x01);
        let first = collect(&f, &info, 0, 2);
        assert_eq!(first[VNET_HDR_LEN + 47], 0x80 | 0x10);
    }

    #[test]
    fn corruption_finishes_the_checksum_so_the_flip_is_caught() {
        let f = super_v4(3000, 1448);
        let info = FrameInfo::parse(&f).unwrap();
        let mut scratch = Vec::new();
        let mut out = Vec::new();
        let piece = Piece {
            first: 0,
            count: 1,
            ce: false,
            corrupt: Some(12345),
        };
        emit(&f, &info, piece, &mut scratch, |parts| {
            for p in parts {
                out.extend_from_slice(p);
            }
            Ok(true)
        })
        .unwrap();
        let hdr = VnetHdr::parse(&out).unwrap();
        assert_eq!(hdr.flags & F_NEEDS_CSUM, 0);
        let e = &out[VNET_HDR_LEN..];
        let check = fold(sum_words(
            &e[34..],
            pseudo_sum(e, &info, (e.len() - 34) as u32),
        ));
        assert_ne!(check, 0xffff, "the flipped bit must break the TCP checksum");
        // Exactly one bit differs from the clean segment.
        let clean = collect(&f, &info, 0, 1);
        let ce = &clean[VNET_HDR_LEN..];
        let diff: u32 = e[34..]
            .iter()
            .zip(&ce[34..])
            .enumerate()
            .filter(|(i, _)| !(16..18).contains(i))
            .map(|(_, (a, b))| (a ^ b).count_ones())
            .sum();
        assert_eq!(diff, 1);
    }

    #[test]
    fn ce_marking_keeps_the_ipv4_header_valid() {
        let f = super_v4(100, 1448);
        let info = FrameInfo::parse(&f).unwrap();
        assert_eq!(info.segs.count, 1);
        let mut scratch = Vec::new();
        let mut out = Vec::new();
        let piece = Piece {
            first: 0,
            count: 1,
            ce: true,
            corrupt: None,
        };
        emit(&f, &info, piece, &mut scratch, |parts| {
            for p in parts {
                out.extend_from_slice(p);
            }
            Ok(true)
        })
        .unwrap();
        let e = &out[VNET_HDR_LEN..];
        assert_eq!(e[15] & 3, 3);
        assert_eq!(fold(sum_words(&e[14..34], 0)), 0xffff);
        assert_eq!(e.len(), f.len() - VNET_HDR_LEN);
    }

    /// Fuzz finding (vnet target): an ECN-capable IPv4 header claiming 24
    /// bytes (IHL 6) in a frame that ends 20 bytes after it was taken as
    /// IPv4, and marking it CE summed the header past the frame's end.
    #[test]
    fn fuzz_vnet_ipv4_header_longer_than_the_frame_is_opaque() {
        let mut f = VnetHdr::default().to_bytes().to_vec();
        f.extend_from_slice(&[0, 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 0x08, 0x00]);
        f.extend_from_slice(&[0x46, 0x01, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0]);
        f.extend_from_slice(&[198, 18, 0, 1, 198, 18, 0, 2]);
        let info = FrameInfo::parse(&f).unwrap();
        assert_eq!(info.ip, Ip::Other);
        let piece = Piece {
            first: 0,
            count: 1,
            ce: true,
            corrupt: Some(7),
        };
        let mut out = Vec::new();
        emit(&f, &info, piece, &mut Vec::new(), |bufs| {
            out = bufs.concat();
            Ok(true)
        })
        .unwrap();
        assert_eq!(out.len(), f.len(), "written whole, one bit flipped");
        // IHL below 5 is no IPv4 header either.
        f[VNET_HDR_LEN + 14] = 0x44;
        assert_eq!(FrameInfo::parse(&f).unwrap().ip, Ip::Other);
    }

    #[test]
    fn short_and_foreign_frames_are_one_opaque_segment() {
        assert!(FrameInfo::parse(&[0; 5]).is_none());
        let mut arp = vec![0u8; VNET_HDR_LEN + 42];
        arp[VNET_HDR_LEN + 12] = 0x08;
        arp[VNET_HDR_LEN + 13] = 0x06;
        let info = FrameInfo::parse(&arp).unwrap();
        assert_eq!(info.ip, Ip::Other);
        assert_eq!(info.segs, Segments::single(42));
        // A super-frame claim on garbage does not panic.
        let mut bad = super_v4(3000, 1448);
        bad.truncate(VNET_HDR_LEN + 30);
        let info = FrameInfo::parse(&bad).unwrap();
        assert_eq!(info.segs.count, 1);
    }
}
