//! The generator's header, the first 16 bytes of every datagram's payload:
//!
//! ```text
//! 0      2      4              8                              16
//! +------+------+--------------+-------------------------------+
//! | "NP" | flow | sequence u32 | send time, ns since epoch u64 |
//! +------+------+--------------+-------------------------------+
//! ```
//!
//! Network byte order. `flow` tells one trial's frames from a stray's
//! (the trial draws it from its seed). It fits the payload of RFC 2544's
//! smallest frame over IPv4 (64 − 46 = 18 bytes).

/// The header's length; a payload is at least this long.
pub const HEADER_LEN: usize = 16;
const MAGIC: [u8; 2] = *b"NP";

/// One frame's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The trial's flow id.
    pub flow: u16,
    /// The frame's number in the trial, from 0.
    pub seq: u32,
    /// When it was sent, nanoseconds since the Unix epoch.
    pub sent_ns: u64,
}

impl Header {
    /// Writes the header into the first [`HEADER_LEN`] bytes of `buf`;
    /// false (and nothing written) when `buf` is shorter.
    pub fn emit(&self, buf: &mut [u8]) -> bool {
        let Some(out) = buf.get_mut(..HEADER_LEN) else {
            return false;
        };
        out[..2].copy_from_slice(&MAGIC);
        out[2..4].copy_from_slice(&self.flow.to_be_bytes());
        out[4..8].copy_from_slice(&self.seq.to_be_bytes());
        out[8..16].copy_from_slice(&self.sent_ns.to_be_bytes());
        true
    }

    /// Reads a header; `None` for anything too short or without the magic.
    pub fn parse(buf: &[u8]) -> Option<Header> {
        let h = buf.get(..HEADER_LEN)?;
        if h[..2] != MAGIC {
            return None;
        }
        Some(Header {
            flow: u16::from_be_bytes([h[2], h[3]]),
            seq: u32::from_be_bytes(h[4..8].try_into().ok()?),
            sent_ns: u64::from_be_bytes(h[8..16].try_into().ok()?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let h = Header {
            flow: 0xbeef,
            seq: 123_456,
            sent_ns: 1_700_000_000_123_456_789,
        };
        let mut buf = [0u8; 18];
        assert!(h.emit(&mut buf));
        assert_eq!(&buf[..2], b"NP");
        assert_eq!(Header::parse(&buf), Some(h));
    }

    #[test]
    fn short_or_foreign_bytes_are_not_headers() {
        assert!(
            !Header {
                flow: 1,
                seq: 1,
                sent_ns: 1
            }
            .emit(&mut [0u8; 15])
        );
        assert_eq!(Header::parse(&[0u8; 15]), None);
        assert_eq!(Header::parse(b"XX______________"), None);
        for n in 0..40 {
            let junk: Vec<u8> = (0..n).map(|i| (i * 37) as u8).collect();
            let _ = Header::parse(&junk);
        }
    }
}
