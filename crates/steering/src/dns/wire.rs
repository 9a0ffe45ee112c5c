//! Reading a DNS query, strictly, from untrusted bytes: the header, the one
//! question, and the OPT record with its Client Subnet option. No I/O, no
//! state, never panics; every way a packet can be wrong is a [`Malformed`]
//! kind, counted by the server.
//!
//! Why our own reader rather than hickory's `Message::from_vec`: RFC 7871
//! section 6 asks a server to refuse an ECS option with too few or too many
//! ADDRESS octets, and hickory's decoder reads the octets the SOURCE
//! PREFIX-LENGTH implies and ignores the rest, so the check needs the raw
//! option; a query also needs none of a full message's allocations (a
//! record list per section, a `Name` per owner) on a path that answers
//! hundreds of thousands of queries a second. Responses are encoded with
//! hickory ([`super::Zone::respond`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netproof_proto::prefix::IpNet;

/// The largest query we read: no real query comes near it.
pub const MAX_QUERY: usize = 4096;

/// What is wrong with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Malformed {
    /// Shorter than a header: nothing to answer (dropped).
    Short,
    /// A response, not a query (dropped, so two servers cannot loop).
    Response,
    /// Over [`MAX_QUERY`] bytes.
    Oversized,
    /// Ends inside a name, a record or an option.
    Truncated,
    /// A compression pointer that does not point back (a loop, or ahead).
    PointerLoop,
    /// A label of a reserved type, or a name over 255 octets.
    BadName,
    /// Not exactly one question.
    QuestionCount,
    /// An OPT record not at the root, or a second one.
    BadOpt,
    /// A Client Subnet option of an unknown family (RFC 7871 section 6).
    EcsFamily,
    /// A Client Subnet option whose SOURCE PREFIX-LENGTH is longer than
    /// its family's addresses, or whose ADDRESS has too few or too many
    /// octets for it (RFC 7871 section 6).
    EcsLength,
    /// A Client Subnet option with ADDRESS bits set past SOURCE
    /// PREFIX-LENGTH (RFC 7871 section 6).
    EcsBits,
    /// Bytes after the last record the header counts.
    Trailing,
}

impl Malformed {
    /// Every kind, for counting.
    pub const ALL: [Malformed; 12] = [
        Malformed::Short,
        Malformed::Response,
        Malformed::Oversized,
        Malformed::Truncated,
        Malformed::PointerLoop,
        Malformed::BadName,
        Malformed::QuestionCount,
        Malformed::BadOpt,
        Malformed::EcsFamily,
        Malformed::EcsLength,
        Malformed::EcsBits,
        Malformed::Trailing,
    ];

    /// The name metrics use.
    pub fn as_str(self) -> &'static str {
        match self {
            Malformed::Short => "short",
            Malformed::Response => "response",
            Malformed::Oversized => "oversized",
            Malformed::Truncated => "truncated",
            Malformed::PointerLoop => "pointer_loop",
            Malformed::BadName => "bad_name",
            Malformed::QuestionCount => "question_count",
            Malformed::BadOpt => "bad_opt",
            Malformed::EcsFamily => "ecs_family",
            Malformed::EcsLength => "ecs_length",
            Malformed::EcsBits => "ecs_bits",
            Malformed::Trailing => "trailing",
        }
    }

    /// Whether a packet this wrong is dropped rather than answered FORMERR.
    pub fn dropped(self) -> bool {
        matches!(self, Malformed::Short | Malformed::Response)
    }
}

/// The header fields a response echoes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The query's ID.
    pub id: u16,
    /// Its OPCODE.
    pub opcode: u8,
    /// Recursion desired.
    pub rd: bool,
    /// Checking disabled.
    pub cd: bool,
}

/// A query's question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question<'a> {
    /// The labels as sent (case kept, for the echo).
    pub labels: Vec<&'a [u8]>,
    /// The name, lowercase, dot-separated, no trailing dot; a byte outside
    /// what host names use is `?`, so it matches no configured name.
    pub name: String,
    /// QTYPE.
    pub qtype: u16,
    /// QCLASS.
    pub qclass: u16,
    /// The question's bytes in the packet (from offset 12), when its name
    /// is written out whole (no compression pointer): an answer may copy
    /// them and point at the name.
    pub raw: Option<&'a [u8]>,
}

/// A Client Subnet option (RFC 7871).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ecs {
    /// The client subnet: ADDRESS over SOURCE PREFIX-LENGTH.
    pub subnet: IpNet,
}

/// The OPT record's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edns {
    /// The requester's UDP payload size (at least 512).
    pub payload: u16,
    /// The EDNS version.
    pub version: u8,
    /// DNSSEC OK.
    pub dnssec_ok: bool,
    /// The Client Subnet option, if any.
    pub ecs: Option<Ecs>,
}

/// A query, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    /// The header.
    pub header: Header,
    /// The question.
    pub question: Question<'a>,
    /// The OPT record, if any.
    pub edns: Option<Edns>,
}

/// The header, if the packet has one (for a FORMERR answer).
pub fn header(packet: &[u8]) -> Option<Header> {
    let h = packet.get(..12)?;
    Some(Header {
        id: u16::from_be_bytes([h[0], h[1]]),
        opcode: (h[2] >> 3) & 0x0f,
        rd: h[2] & 1 != 0,
        cd: h[3] & 0x10 != 0,
    })
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        let end = self.at.checked_add(n).ok_or(Malformed::Truncated)?;
        let s = self.buf.get(self.at..end).ok_or(Malformed::Truncated)?;
        self.at = end;
        Ok(s)
    }

    fn u16(&mut self) -> Result<u16, Malformed> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, Malformed> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Reads a name at the cursor, following compression pointers only
    /// backwards (so every chain ends), into `labels` when given.
    fn name(&mut self, mut labels: Option<&mut Vec<&'a [u8]>>) -> Result<(), Malformed> {
        let mut pos = self.at;
        // Where the cursor resumes after the first pointer.
        let mut resume: Option<usize> = None;
        // A pointer must point before the start of the name part it
        // replaces: strictly decreasing targets cannot loop.
        let mut limit = self.at;
        let mut total = 1usize;
        loop {
            let len = *self.buf.get(pos).ok_or(Malformed::Truncated)? as usize;
            match len & 0xc0 {
                0x00 if len == 0 => {
                    self.at = resume.unwrap_or(pos + 1);
                    return Ok(());
                }
                0x00 => {
                    let label = self
                        .buf
                        .get(pos + 1..pos + 1 + len)
                        .ok_or(Malformed::Truncated)?;
                    total += len + 1;
                    if total > 255 {
                        return Err(Malformed::BadName);
                    }
                    if let Some(l) = labels.as_deref_mut() {
                        l.push(label);
                    }
                    pos += 1 + len;
                }
                0xc0 => {
                    let low = *self.buf.get(pos + 1).ok_or(Malformed::Truncated)? as usize;
                    let target = ((len & 0x3f) << 8) | low;
                    if target >= limit {
                        return Err(Malformed::PointerLoop);
                    }
                    resume.get_or_insert(pos + 2);
                    limit = target;
                    pos = target;
                }
                _ => return Err(Malformed::BadName),
            }
        }
    }
}

/// The lowercase text of `labels`, as [`Question::name`] says.
fn text(labels: &[&[u8]]) -> String {
    let mut s = String::with_capacity(labels.iter().map(|l| l.len() + 1).sum());
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        for &b in *l {
            let c = b.to_ascii_lowercase();
            s.push(if c.is_ascii_alphanumeric() || c == b'-' || c == b'_' {
                c as char
            } else {
                '?'
            });
        }
    }
    s
}

/// Reads a query.
pub fn read(packet: &[u8]) -> Result<Request<'_>, Malformed> {
    let header = header(packet).ok_or(Malformed::Short)?;
    if packet[2] & 0x80 != 0 {
        return Err(Malformed::Response);
    }
    if packet.len() > MAX_QUERY {
        return Err(Malformed::Oversized);
    }
    let count = |i: usize| u16::from_be_bytes([packet[i], packet[i + 1]]);
    let (qd, an, ns, ar) = (count(4), count(6), count(8), count(10));
    if qd != 1 {
        return Err(Malformed::QuestionCount);
    }
    let mut r = Reader {
        buf: packet,
        at: 12,
    };
    let mut labels = Vec::with_capacity(4);
    r.name(Some(&mut labels))?;
    let qtype = r.u16()?;
    let qclass = r.u16()?;
    // Whole when the labels and the root fill the bytes read.
    let whole = labels.iter().map(|l| l.len() + 1).sum::<usize>() + 1 + 4 == r.at - 12;
    let question = Question {
        raw: whole.then(|| &packet[12..r.at]),
        name: text(&labels),
        labels,
        qtype,
        qclass,
    };
    let mut edns = None;
    for i in 0..(an as usize + ns as usize + ar as usize) {
        let owner_root = r.buf.get(r.at) == Some(&0);
        r.name(None)?;
        let rtype = r.u16()?;
        let class = r.u16()?;
        let ttl = r.u32()?;
        let rdlen = r.u16()? as usize;
        let rdata = r.take(rdlen)?;
        let additional = i >= an as usize + ns as usize;
        if rtype == 41 {
            if !additional || !owner_root || edns.is_some() {
                return Err(Malformed::BadOpt);
            }
            edns = Some(opt(class, ttl, rdata)?);
        }
    }
    if r.at != packet.len() {
        return Err(Malformed::Trailing);
    }
    Ok(Request {
        header,
        question,
        edns,
    })
}

/// The OPT record's class (payload size), TTL (extended RCODE, version,
/// flags) and options.
fn opt(class: u16, ttl: u32, rdata: &[u8]) -> Result<Edns, Malformed> {
    let mut r = Reader { buf: rdata, at: 0 };
    let mut ecs = None;
    while r.at < rdata.len() {
        let code = r.u16()?;
        let len = r.u16()? as usize;
        let data = r.take(len)?;
        if code == 8 {
            if ecs.is_some() {
                return Err(Malformed::BadOpt);
            }
            ecs = Some(client_subnet(data)?);
        }
    }
    Ok(Edns {
        payload: class.max(512),
        version: (ttl >> 16) as u8,
        dnssec_ok: ttl & 0x8000 != 0,
        ecs,
    })
}

/// A Client Subnet option's data, checked as RFC 7871 section 6 asks.
fn client_subnet(data: &[u8]) -> Result<Ecs, Malformed> {
    if data.len() < 4 {
        return Err(Malformed::Truncated);
    }
    let family = u16::from_be_bytes([data[0], data[1]]);
    let source = data[2];
    let address = &data[4..];
    let width = match family {
        1 => 32,
        2 => 128,
        _ => return Err(Malformed::EcsFamily),
    };
    if source > width || address.len() != usize::from(source).div_ceil(8) {
        return Err(Malformed::EcsLength);
    }
    let mut octets = [0u8; 16];
    octets[..address.len()].copy_from_slice(address);
    let addr = if family == 1 {
        IpAddr::V4(Ipv4Addr::new(octets[0], octets[1], octets[2], octets[3]))
    } else {
        IpAddr::V6(Ipv6Addr::from(octets))
    };
    let subnet = IpNet::new(addr, source).map_err(|_| Malformed::EcsLength)?;
    if subnet.trunc().addr() != addr {
        return Err(Malformed::EcsBits);
    }
    Ok(Ecs { subnet })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query for `video.cdn.test` A with ID 0x1234, RD, then `extra`
    /// appended and ARCOUNT set to `ar`.
    fn query(extra: &[u8], ar: u16) -> Vec<u8> {
        let mut p = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0];
        p.extend_from_slice(&ar.to_be_bytes());
        p.extend_from_slice(b"\x05video\x03cdn\x04test\x00\x00\x01\x00\x01");
        p.extend_from_slice(extra);
        p
    }

    fn opt_with(option: &[u8]) -> Vec<u8> {
        let mut o = vec![0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0];
        o.extend_from_slice(&(option.len() as u16).to_be_bytes());
        o.extend_from_slice(option);
        o
    }

    fn ecs(family: u16, source: u8, address: &[u8]) -> Vec<u8> {
        let mut o = vec![0, 8];
        o.extend_from_slice(&(4 + address.len() as u16).to_be_bytes());
        o.extend_from_slice(&family.to_be_bytes());
        o.extend_from_slice(&[source, 0]);
        o.extend_from_slice(address);
        o
    }

    #[test]
    fn a_plain_query_reads_with_its_name_type_and_header() {
        let p = query(&[], 0);
        let r = read(&p).unwrap();
        assert_eq!(
            r.header,
            Header {
                id: 0x1234,
                opcode: 0,
                rd: true,
                cd: false
            }
        );
        assert_eq!(r.question.name, "video.cdn.test");
        assert_eq!((r.question.qtype, r.question.qclass), (1, 1));
        assert_eq!(r.edns, None);
    }

    #[test]
    fn rfc7871_an_ecs_option_gives_the_client_subnet() {
        let p = query(&opt_with(&ecs(1, 24, &[198, 18, 64])), 1);
        let e = read(&p).unwrap().edns.unwrap();
        assert_eq!(e.payload, 1232);
        assert!(e.dnssec_ok);
        assert_eq!(e.ecs.unwrap().subnet, "198.18.64.0/24".parse().unwrap());
        let p = query(&opt_with(&ecs(2, 48, &[0x20, 0x01, 0, 2, 0, 0x40])), 1);
        let e = read(&p).unwrap().edns.unwrap();
        assert_eq!(e.ecs.unwrap().subnet, "2001:2:40::/48".parse().unwrap());
        // SOURCE 0: no address octets at all.
        let p = query(&opt_with(&ecs(1, 0, &[])), 1);
        assert_eq!(
            read(&p)
                .unwrap()
                .edns
                .unwrap()
                .ecs
                .unwrap()
                .subnet
                .prefix_len(),
            0
        );
    }

    #[test]
    fn rfc7871_section6_bad_ecs_options_are_malformed() {
        let bad = |o: Vec<u8>| read(&query(&opt_with(&o), 1)).unwrap_err();
        assert_eq!(
            bad(ecs(1, 24, &[198, 18, 64, 1])),
            Malformed::EcsLength,
            "too many octets"
        );
        assert_eq!(
            bad(ecs(1, 24, &[198, 18])),
            Malformed::EcsLength,
            "too few octets"
        );
        assert_eq!(bad(ecs(1, 33, &[1, 2, 3, 4, 5])), Malformed::EcsLength);
        assert_eq!(
            bad(ecs(1, 20, &[198, 18, 65])),
            Malformed::EcsBits,
            "bits past /20"
        );
        assert_eq!(bad(ecs(3, 8, &[1])), Malformed::EcsFamily);
        assert_eq!(bad(vec![0, 8, 0, 2, 0, 1]), Malformed::Truncated);
        let mut two = ecs(1, 8, &[198]);
        two.extend(ecs(1, 8, &[198]));
        assert_eq!(bad(two), Malformed::BadOpt);
    }

    #[test]
    fn broken_packets_are_malformed_by_kind_and_never_panic() {
        assert_eq!(read(&[0; 11]), Err(Malformed::Short));
        let mut p = query(&[], 0);
        p[2] |= 0x80;
        assert_eq!(read(&p), Err(Malformed::Response));
        let p = query(&[], 0);
        for cut in 12..p.len() {
            assert_eq!(read(&p[..cut]), Err(Malformed::Truncated), "cut at {cut}");
        }
        assert_eq!(read(&query(&[0], 0)), Err(Malformed::Trailing));
        let mut p = query(&[], 0);
        p[5] = 2;
        assert_eq!(read(&p), Err(Malformed::QuestionCount));
        assert_eq!(read(&vec![0; MAX_QUERY + 1]), Err(Malformed::Oversized));
        // A name that points at itself, and one that points ahead.
        let mut p = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1];
        assert_eq!(read(&p), Err(Malformed::PointerLoop));
        p[13] = 14;
        assert_eq!(read(&p), Err(Malformed::PointerLoop));
        // A label of the reserved 0x40 type.
        let p = vec![
            0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x41, b'a', 0, 0, 1, 0, 1,
        ];
        assert_eq!(read(&p), Err(Malformed::BadName));
        // An OPT that is not at the root.
        let mut o = opt_with(&[]);
        o[0] = 0xc0;
        o.insert(1, 12);
        assert_eq!(read(&query(&o, 1)), Err(Malformed::BadOpt));
    }

    #[test]
    fn a_backward_pointer_is_followed_and_odd_bytes_match_nothing() {
        // An additional record whose owner points back at the question.
        let rr = [0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 18, 0, 1];
        let p = query(&rr, 1);
        assert_eq!(read(&p).unwrap().question.name, "video.cdn.test");
        let mut p = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        p.extend_from_slice(b"\x03A.b\x00\x00\x01\x00\x01");
        let r = read(&p).unwrap();
        assert_eq!(r.question.name, "a?b");
        assert_eq!(r.question.labels, [b"A.b".as_slice()]);
    }

    #[test]
    fn reading_random_bytes_never_panics() {
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let mut base = query(&opt_with(&ecs(1, 24, &[198, 18, 64])), 1);
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x as usize) % base.len();
            base[i] = (x >> 32) as u8;
            let _ = read(&base);
            if x.is_multiple_of(7) {
                // Every prefix of a damaged packet, then a fresh packet.
                let cut = (x >> 40) as usize % base.len();
                let _ = read(&base[..cut]);
                base = query(&opt_with(&ecs(1, 24, &[198, 18, 64])), 1);
            }
        }
    }
}
