//! ICMP and ICMPv6 echo messages: parsing and emitting, no I/O, no state.
//!
//! An echo request or reply (RFC 792 for IPv4, RFC 4443 section 4 for
//! IPv6) is an 8-byte header and a payload. netproof's payload starts with
//! the send time, so a reply carries its own request's stamp back:
//!
//! ```text
//!  0      1      2          4            6            8                 16
//!  +------+------+----------+------------+------------+-----------------+---------
//!  | type | code | checksum | identifier | sequence   | send time (u64) | padding
//!  +------+------+----------+------------+------------+-----------------+---------
//! ```
//!
//! Types are 8 (request) and 0 (reply) for ICMP, 128 and 129 for ICMPv6;
//! the code is always 0. All fields are big-endian. The send time is
//! nanoseconds on the sender's clock; the padding is zeros when emitted and
//! ignored when parsed.
//!
//! Checksums: [`Echo::emit`] computes the ICMP (IPv4) checksum and leaves
//! the ICMPv6 one zero, because the ICMPv6 checksum covers a pseudo-header
//! with the source address, which only the kernel knows; Linux fills it in
//! for both datagram and raw ICMPv6 sockets, and verifies it on receipt.
//! [`Echo::parse`] verifies the ICMP checksum, since a raw IPv4 socket
//! hands over messages the kernel has not checked.
//!
//! A raw IPv4 socket also delivers the IP header in front of the message:
//! [`strip_ipv4_header`] removes it. Datagram ("ping") sockets and raw
//! IPv6 sockets deliver the ICMP message alone.
//!
//! Nothing here panics, whatever the bytes: a short, foreign or corrupted
//! message is a typed [`WireError`].

use thiserror::Error;

/// The length of the echo header (type, code, checksum, identifier, sequence).
pub const HEADER_LEN: usize = 8;
/// The length of the send stamp, and so the smallest payload netproof emits.
pub const STAMP_LEN: usize = 8;
/// The largest payload: a 65535-byte IPv4 datagram less its 20-byte header
/// and the 8-byte echo header (`ping -s` counts the same way).
pub const MAX_PAYLOAD: usize = 65_507;

/// The IP version an ICMP message belongs to; it decides the type numbers
/// and who computes the checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// ICMP over IPv4.
    V4,
    /// ICMPv6.
    V6,
}

/// Whether a message asks for an echo or is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An echo request.
    Request,
    /// An echo reply.
    Reply,
}

impl Kind {
    fn type_byte(self, family: Family) -> u8 {
        match (family, self) {
            (Family::V4, Kind::Request) => 8,
            (Family::V4, Kind::Reply) => 0,
            (Family::V6, Kind::Request) => 128,
            (Family::V6, Kind::Reply) => 129,
        }
    }

    fn from_type_byte(family: Family, t: u8) -> Option<Kind> {
        match (family, t) {
            (Family::V4, 8) | (Family::V6, 128) => Some(Kind::Request),
            (Family::V4, 0) | (Family::V6, 129) => Some(Kind::Reply),
            _ => None,
        }
    }
}

/// One echo message; the padding is not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Echo {
    /// Request or reply.
    pub kind: Kind,
    /// The identifier. On a datagram socket the kernel replaces whatever
    /// we put here with the socket's own, and delivers only replies that
    /// carry it.
    pub ident: u16,
    /// The sequence number.
    pub seq: u16,
    /// When the request was sent, in nanoseconds on the sender's clock.
    pub stamp_ns: u64,
}

/// Why bytes are not a usable echo message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum WireError {
    /// Too short for what it claims to be (an echo, or an IPv4 datagram).
    #[error("a {len}-byte message is shorter than the {needed} bytes it needs")]
    Truncated {
        /// The message's length.
        len: usize,
        /// The length needed: the echo header, then the header and stamp.
        needed: usize,
    },
    /// Another ICMP message (an error, a neighbour solicitation, ...): a
    /// raw socket sees them all.
    #[error("ICMP type `{icmp_type}` code `{code}` is not an echo request or reply")]
    NotEcho {
        /// The type byte.
        icmp_type: u8,
        /// The code byte.
        code: u8,
    },
    /// The ICMP (IPv4) checksum does not match the message.
    #[error("ICMP checksum `{found:#06x}` does not match the message (expected `{expected:#06x}`)")]
    BadChecksum {
        /// The checksum in the message.
        found: u16,
        /// The checksum the message should carry.
        expected: u16,
    },
    /// A raw IPv4 socket delivered something that is not an IPv4 datagram.
    #[error("datagram from a raw IPv4 socket has IP version `{version}`, not 4")]
    NotIpv4 {
        /// The version nibble.
        version: u8,
    },
    /// The IPv4 header length is below the minimum or beyond the datagram.
    #[error("IPv4 header of {header_len} bytes does not fit a {len}-byte datagram")]
    BadIpv4Header {
        /// The header length the IHL field claims, in bytes.
        header_len: usize,
        /// The datagram's length.
        len: usize,
    },
}

impl Echo {
    /// Parses the ICMP message `bytes` of `family` (without any IP header).
    ///
    /// The identifier is returned as found; whether it is ours is the
    /// caller's decision, because on a datagram socket the kernel has
    /// already made it.
    pub fn parse(family: Family, bytes: &[u8]) -> Result<Echo, WireError> {
        let Some(header) = bytes.first_chunk::<HEADER_LEN>() else {
            return Err(WireError::Truncated {
                len: bytes.len(),
                needed: HEADER_LEN,
            });
        };
        // Type and code first, so another kind of ICMP message is reported
        // as such even when it is shorter than an echo with a stamp.
        let (icmp_type, code) = (header[0], header[1]);
        let kind = match Kind::from_type_byte(family, icmp_type) {
            Some(kind) if code == 0 => kind,
            _ => return Err(WireError::NotEcho { icmp_type, code }),
        };
        let Some(stamp) = bytes
            .get(HEADER_LEN..)
            .and_then(|rest| rest.first_chunk::<STAMP_LEN>())
        else {
            return Err(WireError::Truncated {
                len: bytes.len(),
                needed: HEADER_LEN + STAMP_LEN,
            });
        };
        if family == Family::V4 {
            // Summing a message that carries its own checksum gives 0xffff,
            // whose complement is zero; anything else is corruption.
            let residue = checksum(bytes);
            if residue != 0 {
                let found = u16::from_be_bytes([header[2], header[3]]);
                // Recompute over the message with the field zeroed, so the
                // error can say what the checksum should have been.
                let expected = !ones_complement_add(!found, !residue);
                return Err(WireError::BadChecksum { found, expected });
            }
        }
        Ok(Echo {
            kind,
            ident: u16::from_be_bytes([header[4], header[5]]),
            seq: u16::from_be_bytes([header[6], header[7]]),
            stamp_ns: u64::from_be_bytes(*stamp),
        })
    }

    /// Replaces `buf`'s contents with this message for `family`, its
    /// payload zero-padded to `payload` bytes.
    ///
    /// `payload` is clamped to `STAMP_LEN..=MAX_PAYLOAD` because the stamp
    /// must fit and the message must fit an IP datagram; the client
    /// validates a user's size first, so the clamp never hides a mistake.
    pub fn emit(&self, family: Family, buf: &mut Vec<u8>, payload: usize) {
        let payload = payload.clamp(STAMP_LEN, MAX_PAYLOAD);
        buf.clear();
        buf.push(self.kind.type_byte(family));
        buf.push(0);
        buf.extend_from_slice(&[0, 0]);
        buf.extend_from_slice(&self.ident.to_be_bytes());
        buf.extend_from_slice(&self.seq.to_be_bytes());
        buf.extend_from_slice(&self.stamp_ns.to_be_bytes());
        buf.resize(HEADER_LEN + payload, 0);
        if family == Family::V4 {
            let sum = checksum(buf);
            buf[2..4].copy_from_slice(&sum.to_be_bytes());
        }
    }
}

/// Removes the IPv4 header a raw IPv4 socket delivers in front of the ICMP
/// message (its length is the IHL field times four, options included).
///
/// The protocol field is not checked: a raw ICMP socket receives only ICMP.
pub fn strip_ipv4_header(datagram: &[u8]) -> Result<&[u8], WireError> {
    let Some(&first) = datagram.first() else {
        return Err(WireError::Truncated { len: 0, needed: 20 });
    };
    let version = first >> 4;
    if version != 4 {
        return Err(WireError::NotIpv4 { version });
    }
    let header_len = usize::from(first & 0x0f) * 4;
    match datagram.get(header_len..) {
        Some(message) if header_len >= 20 => Ok(message),
        _ => Err(WireError::BadIpv4Header {
            header_len,
            len: datagram.len(),
        }),
    }
}

/// The RFC 1071 internet checksum of `bytes` (an odd last byte is padded
/// with a zero). Over a message whose checksum field is correct it is 0.
pub fn checksum(bytes: &[u8]) -> u16 {
    let mut chunks = bytes.chunks_exact(2);
    let mut sum: u16 = 0;
    for pair in &mut chunks {
        sum = ones_complement_add(sum, u16::from_be_bytes([pair[0], pair[1]]));
    }
    if let &[last] = chunks.remainder() {
        sum = ones_complement_add(sum, u16::from_be_bytes([last, 0]));
    }
    !sum
}

/// Addition with end-around carry, the arithmetic of the internet checksum.
fn ones_complement_add(a: u16, b: u16) -> u16 {
    let (sum, carry) = a.overflowing_add(b);
    sum + u16::from(carry)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ICMP echo request, ident 0x1234, seq 1, stamp 1 s, 8-byte payload.
    /// Checksum by hand: 0x0800 + 0x1234 + 0x0001 + 0x3b9a + 0xca00 =
    /// 0x1_1fcf, folded 0x1fd0, complemented 0xe02f.
    static REQUEST_V4: [u8; 16] = [
        8, 0, 0xe0, 0x2f, 0x12, 0x34, 0x00, 0x01, //
        0, 0, 0, 0, 0x3b, 0x9a, 0xca, 0x00,
    ];

    /// A 20-byte IPv4 header (127.0.0.1 to itself, protocol 1) for
    /// [`REQUEST_V4`] turned into a reply (type 0: the sum drops by 0x0800,
    /// so the checksum is 0xe82f), as a raw socket delivers it.
    static RAW_REPLY_V4: [u8; 36] = [
        0x45, 0, 0, 36, 0, 0, 0x40, 0, 64, 1, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1, //
        0, 0, 0xe8, 0x2f, 0x12, 0x34, 0x00, 0x01, //
        0, 0, 0, 0, 0x3b, 0x9a, 0xca, 0x00,
    ];

    fn request() -> Echo {
        Echo {
            kind: Kind::Request,
            ident: 0x1234,
            seq: 1,
            stamp_ns: 1_000_000_000,
        }
    }

    #[test]
    fn rfc792_request_matches_fixture() {
        let mut buf = Vec::new();
        request().emit(Family::V4, &mut buf, 0);
        assert_eq!(buf, REQUEST_V4);
        assert_eq!(Echo::parse(Family::V4, &REQUEST_V4), Ok(request()));
    }

    #[test]
    fn raw_ipv4_reply_parses_after_its_ip_header() {
        let message = strip_ipv4_header(&RAW_REPLY_V4).unwrap();
        assert_eq!(
            Echo::parse(Family::V4, message),
            Ok(Echo {
                kind: Kind::Reply,
                ..request()
            })
        );
    }

    #[test]
    fn ip_header_options_are_skipped() {
        // IHL 6: one 4-byte option word before the ICMP message.
        let mut d = vec![0x46];
        d.extend_from_slice(&RAW_REPLY_V4[1..20]);
        d.extend_from_slice(&[1, 1, 1, 1]);
        d.extend_from_slice(&RAW_REPLY_V4[20..]);
        assert_eq!(strip_ipv4_header(&d).unwrap(), &RAW_REPLY_V4[20..]);
    }

    #[test]
    fn round_trip_both_families_every_interesting_size() {
        let mut buf = Vec::new();
        for family in [Family::V4, Family::V6] {
            for kind in [Kind::Request, Kind::Reply] {
                for payload in [STAMP_LEN, 9, 56, 1472, MAX_PAYLOAD] {
                    let e = Echo {
                        kind,
                        ident: 0xbeef,
                        seq: u16::MAX,
                        stamp_ns: u64::MAX - 1,
                    };
                    e.emit(family, &mut buf, payload);
                    assert_eq!(buf.len(), HEADER_LEN + payload);
                    assert!(buf[HEADER_LEN + STAMP_LEN..].iter().all(|&b| b == 0));
                    assert_eq!(Echo::parse(family, &buf), Ok(e), "{family:?} {payload}");
                }
            }
        }
    }

    #[test]
    fn rfc4443_types_and_kernel_filled_checksum() {
        let mut buf = Vec::new();
        request().emit(Family::V6, &mut buf, 8);
        assert_eq!(buf[0], 128);
        assert_eq!(buf[2..4], [0, 0], "the kernel fills the ICMPv6 checksum");
        // An ICMPv4 type number means nothing in ICMPv6, and back.
        assert_eq!(
            Echo::parse(Family::V6, &REQUEST_V4),
            Err(WireError::NotEcho {
                icmp_type: 8,
                code: 0
            })
        );
        assert!(matches!(
            Echo::parse(Family::V4, &buf),
            Err(WireError::NotEcho { icmp_type: 128, .. })
        ));
    }

    #[test]
    fn emit_clamps_payload() {
        let mut buf = vec![7; 3];
        request().emit(Family::V4, &mut buf, 0);
        assert_eq!(buf.len(), HEADER_LEN + STAMP_LEN);
        request().emit(Family::V4, &mut buf, usize::MAX);
        assert_eq!(buf.len(), HEADER_LEN + MAX_PAYLOAD);
    }

    #[test]
    fn typed_errors() {
        assert_eq!(
            Echo::parse(Family::V4, &REQUEST_V4[..7]),
            Err(WireError::Truncated { len: 7, needed: 8 })
        );
        assert_eq!(
            Echo::parse(Family::V4, &REQUEST_V4[..15]),
            Err(WireError::Truncated {
                len: 15,
                needed: 16
            })
        );
        // Destination unreachable: reported as what it is, short or not.
        assert_eq!(
            Echo::parse(Family::V4, &[3, 1, 0, 0]),
            Err(WireError::Truncated { len: 4, needed: 8 })
        );
        assert_eq!(
            Echo::parse(Family::V4, &[3, 1, 0, 0, 0, 0, 0, 0]),
            Err(WireError::NotEcho {
                icmp_type: 3,
                code: 1
            })
        );
        let mut bad = REQUEST_V4;
        bad[1] = 1;
        assert!(matches!(
            Echo::parse(Family::V4, &bad),
            Err(WireError::NotEcho { code: 1, .. })
        ));
        let mut bad = REQUEST_V4;
        bad[15] ^= 0x01;
        assert_eq!(
            Echo::parse(Family::V4, &bad),
            Err(WireError::BadChecksum {
                found: 0xe02f,
                expected: 0xe02e
            })
        );
        assert_eq!(
            strip_ipv4_header(&[0x60, 0, 0, 0]),
            Err(WireError::NotIpv4 { version: 6 })
        );
        assert_eq!(
            strip_ipv4_header(&[0x44; 30]),
            Err(WireError::BadIpv4Header {
                header_len: 16,
                len: 30
            })
        );
        assert_eq!(
            strip_ipv4_header(&RAW_REPLY_V4[..19]),
            Err(WireError::BadIpv4Header {
                header_len: 20,
                len: 19
            })
        );
    }

    #[test]
    fn rfc1071_checksum_handles_odd_lengths_and_carries() {
        assert_eq!(checksum(&[]), 0xffff);
        assert_eq!(checksum(&[0xff, 0xff, 0xff, 0xff]), 0);
        assert_eq!(checksum(&[0x01]), !0x0100);
        // RFC 1071 section 3's example: the sum of these words is 0xddf2.
        let words = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&words), !0xddf2);
    }

    /// A fixed-seed xorshift, so the "fuzz" below is the same on every run.
    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn never_panics_on_random_or_truncated_bytes() {
        for n in 0..=RAW_REPLY_V4.len() {
            let _ = strip_ipv4_header(&RAW_REPLY_V4[..n]);
            for family in [Family::V4, Family::V6] {
                let _ = Echo::parse(family, &RAW_REPLY_V4[..n]);
            }
        }
        for n in 0..=REQUEST_V4.len() {
            let r = Echo::parse(Family::V4, &REQUEST_V4[..n]);
            assert_eq!(r.is_ok(), n == REQUEST_V4.len(), "prefix of {n} bytes");
        }
        // Random bytes, half of them behind an echo type so the checksum
        // and field reads are exercised too, half behind an IPv4 version.
        let mut state = 0x9e37_79b9_7f4a_7c15;
        for i in 0..20_000 {
            let len = (xorshift(&mut state) % 80) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| xorshift(&mut state) as u8).collect();
            if len >= 2 {
                match i % 4 {
                    0 => bytes[..2].copy_from_slice(&[0, 0]),
                    1 => bytes[..2].copy_from_slice(&[129, 0]),
                    2 => bytes[0] = 0x40 | (bytes[0] & 0x0f),
                    _ => {}
                }
            }
            for family in [Family::V4, Family::V6] {
                let _ = Echo::parse(family, &bytes);
            }
            if let Ok(message) = strip_ipv4_header(&bytes) {
                let _ = Echo::parse(Family::V4, message);
            }
        }
    }
}
