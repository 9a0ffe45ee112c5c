//! The DNS codec: a query with EDNS(0) and an optional Client Subnet
//! option, and the checked reading of its answer.
//!
//! No I/O and no clock. hickory-proto builds and decodes the messages;
//! this module adds what a probe needs around it: a question made of the
//! plan's validated values (`netproof-proto`'s name, type and prefix,
//! turned into hickory's from labels and codes, never parsed again from
//! text), an answer matched
//! against its query (id, question, QR bit), and a reason that reads as a
//! sentence for every way an answer can be wrong ([`Malformed`]). Nothing
//! here panics on untrusted bytes.

use std::fmt::Write as _;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_proto::rr::{Name, RecordType as WireType};
use netproof_proto::dns::{DnsName, RecordType};
use netproof_proto::prefix::{self, IpNet};
use thiserror::Error;

/// The UDP payload size we advertise: the DNS flag day 2020 value, which
/// fits an IPv6 minimum MTU without fragmentation.
pub const UDP_PAYLOAD: u16 = 1232;

/// The length of a DNS header; anything shorter is not a DNS message.
pub const HEADER_LEN: usize = 12;

/// One question, with how it is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// The name asked about (fully qualified).
    pub name: DnsName,
    /// The record type.
    pub rtype: RecordType,
    /// The EDNS Client Subnet source prefix (RFC 7871), if any: a network,
    /// no bits set beyond its length (a server answers FORMERR otherwise).
    pub subnet: Option<IpNet>,
    /// Set RD (ask a resolver to recurse). An authoritative server ignores it.
    pub recursion_desired: bool,
}

impl Question {
    /// A question for `name` and `rtype` without ECS, with RD set.
    pub fn new(name: DnsName, rtype: RecordType) -> Question {
        Question {
            name,
            rtype,
            subnet: None,
            recursion_desired: true,
        }
    }

    /// The query message with id `id`: one question, EDNS(0) advertising
    /// [`UDP_PAYLOAD`], and the ECS option when a subnet is set (scope 0,
    /// as RFC 7871 requires of queries).
    pub fn encode(&self, id: u16) -> Result<Vec<u8>, String> {
        let mut m = Message::new(id, MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = self.recursion_desired;
        m.add_query(Query::query(self.wire_name()?, self.wire_type()));
        let mut edns = Edns::new();
        edns.set_max_payload(UDP_PAYLOAD);
        if let Some(s) = &self.subnet {
            edns.options_mut()
                .insert(EdnsOption::Subnet(ClientSubnet::new(
                    s.addr(),
                    s.prefix_len(),
                    0,
                )));
        }
        m.set_edns(edns);
        m.to_vec()
            .map_err(|e| format!("cannot encode the query for `{}`: {e}", self.name))
    }

    /// The name as hickory's, built from its validated labels.
    fn wire_name(&self) -> Result<Name, String> {
        let mut name = Name::from_labels(self.name.labels().map(str::as_bytes))
            .map_err(|e| format!("cannot encode the name `{}`: {e}", self.name))?;
        name.set_fqdn(true);
        Ok(name)
    }

    fn wire_type(&self) -> WireType {
        WireType::from(self.rtype.code())
    }
}

/// The header flags of an answer that a test may care about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// Authoritative answer.
    pub aa: bool,
    /// Truncated: the answer did not fit (retry over TCP).
    pub tc: bool,
    /// Recursion desired (echoed from the query).
    pub rd: bool,
    /// Recursion available.
    pub ra: bool,
    /// Authentic data (DNSSEC-validated by a resolver).
    pub ad: bool,
}

impl Flags {
    /// The set flags as dig shows them, e.g. `aa rd`.
    pub fn text(&self) -> String {
        let names = [
            ("aa", self.aa),
            ("tc", self.tc),
            ("rd", self.rd),
            ("ra", self.ra),
            ("ad", self.ad),
        ];
        let on: Vec<&str> = names.iter().filter(|(_, b)| *b).map(|(n, _)| *n).collect();
        on.join(" ")
    }
}

/// One record of the answer section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The owner name (fully qualified, with the final dot).
    pub name: String,
    /// The record type, e.g. `A`.
    pub rtype: String,
    /// Time to live in seconds.
    pub ttl: u32,
    /// The data in presentation form: an address, a name, a TXT string.
    pub data: String,
}

/// An answer that matched its query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The message id.
    pub id: u16,
    /// The response code's mnemonic (`NOERROR`, `NXDOMAIN`, ...), EDNS
    /// extended bits included.
    pub rcode: String,
    /// The header flags.
    pub flags: Flags,
    /// The answer section.
    pub answers: Vec<Record>,
    /// Records in the authority section (an SOA for a negative answer).
    pub authorities: usize,
    /// The ECS option the server returned: its scope prefix length, and the
    /// source prefix it echoed.
    pub ecs: Option<EcsEcho>,
    /// Whether the answer carried an OPT record at all.
    pub edns: bool,
}

/// The Client Subnet option of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EcsEcho {
    /// The source prefix as the server echoed it.
    pub source: Option<IpNet>,
    /// The scope prefix length: how much of the address the answer
    /// depends on (0: the same for every client).
    pub scope: u8,
}

impl Response {
    /// Whether the rcode is NOERROR.
    pub fn ok(&self) -> bool {
        self.rcode == "NOERROR"
    }

    /// The smallest TTL in the answer section, if it has records.
    pub fn min_ttl(&self) -> Option<u32> {
        self.answers.iter().map(|r| r.ttl).min()
    }
}

/// Why bytes are not an answer to our query.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Malformed {
    /// Shorter than a header.
    #[error("a {len}-byte message is shorter than a DNS header ({HEADER_LEN} bytes)")]
    Short {
        /// The length received.
        len: usize,
    },
    /// The id is not our query's.
    #[error("the answer's id {got:#06x} does not match the query's {expected:#06x}")]
    WrongId {
        /// The id received.
        got: u16,
        /// Our query's id.
        expected: u16,
    },
    /// QR is clear: a query, not a response.
    #[error("the message is a query (QR bit clear), not an answer")]
    NotResponse,
    /// The opcode is not QUERY.
    #[error("the answer's opcode is {0}, not QUERY")]
    Opcode(u8),
    /// hickory could not decode it: a truncated packet, a record that runs
    /// past the end, a bad label.
    #[error("cannot decode the answer ({len} bytes): {reason}")]
    Decode {
        /// The length received.
        len: usize,
        /// hickory's reason.
        reason: String,
    },
    /// The question section is not the one we asked.
    #[error("the answer is for `{got}`, not the question asked (`{expected}`)")]
    WrongQuestion {
        /// The question in the answer.
        got: String,
        /// Ours.
        expected: String,
    },
}

/// The id of a message, if it is long enough to have one.
pub fn peek_id(bytes: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*bytes.first()?, *bytes.get(1)?]))
}

/// Reads `bytes` as the answer to `question` asked with id `id`.
///
/// An answer whose question section is empty is accepted (servers may
/// leave it out of an error or a truncated answer); one with another
/// question is not.
pub fn parse_response(bytes: &[u8], id: u16, question: &Question) -> Result<Response, Malformed> {
    if bytes.len() < HEADER_LEN {
        return Err(Malformed::Short { len: bytes.len() });
    }
    let got = peek_id(bytes).unwrap_or_default();
    if got != id {
        return Err(Malformed::WrongId { got, expected: id });
    }
    // QR is the top bit of the third byte, the opcode the next four.
    if bytes[2] & 0x80 == 0 {
        return Err(Malformed::NotResponse);
    }
    let opcode = (bytes[2] >> 3) & 0x0f;
    if opcode != 0 {
        return Err(Malformed::Opcode(opcode));
    }
    let m = Message::from_vec(bytes).map_err(|e| Malformed::Decode {
        len: bytes.len(),
        reason: e.to_string(),
    })?;
    match m.queries.as_slice() {
        [] => {}
        // hickory compares names case-insensitively, as DNS does.
        [q] if q.query_type() == question.wire_type()
            && question.wire_name().is_ok_and(|n| q.name() == &n) => {}
        qs => {
            let got: Vec<String> = qs
                .iter()
                .map(|q| format!("{} {}", q.name(), q.query_type()))
                .collect();
            return Err(Malformed::WrongQuestion {
                got: got.join(", "),
                expected: format!("{} {}", question.name, question.rtype),
            });
        }
    }
    let md = &m.metadata;
    let ecs = m
        .edns
        .as_ref()
        .and_then(|e| match e.option(EdnsCode::Subnet) {
            Some(EdnsOption::Subnet(cs)) => Some(EcsEcho {
                source: prefix::network(cs.addr(), cs.source_prefix()),
                scope: cs.scope_prefix(),
            }),
            _ => None,
        });
    let answers = m
        .answers
        .iter()
        .map(|r| Record {
            name: r.name.to_string(),
            rtype: r.record_type().to_string(),
            ttl: r.ttl,
            data: presentation(&r.data),
        })
        .collect();
    Ok(Response {
        id: md.id,
        rcode: rcode_name(md.response_code),
        flags: Flags {
            aa: md.authoritative,
            tc: md.truncation,
            rd: md.recursion_desired,
            ra: md.recursion_available,
            ad: md.authentic_data,
        },
        answers,
        authorities: m.authorities.len(),
        ecs,
        edns: m.edns.is_some(),
    })
}

/// Record data as text. hickory's `Display` can fail for some data (it
/// returns an error for OPT), so it is written through `fmt::Write`,
/// which turns that into a placeholder instead of a panic.
fn presentation(data: &hickory_proto::rr::RData) -> String {
    let mut s = String::new();
    if write!(s, "{data}").is_err() {
        s = format!("<{} data>", data.record_type());
    }
    s
}

/// The response code's mnemonic as dig prints it.
pub fn rcode_name(code: ResponseCode) -> String {
    let n = u16::from(code);
    match n {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        6 => "YXDOMAIN".into(),
        7 => "YXRRSET".into(),
        8 => "NXRRSET".into(),
        9 => "NOTAUTH".into(),
        10 => "NOTZONE".into(),
        16 => "BADVERS".into(),
        n => format!("RCODE{n}"),
    }
}

/// `msg` with the two-byte length prefix of DNS over TCP (RFC 1035
/// section 4.2.2). A query never exceeds 64 KiB, so the length fits.
pub fn tcp_frame(msg: &[u8]) -> Vec<u8> {
    let len = u16::try_from(msg.len()).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(msg.len() + 2);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&msg[..usize::from(len)]);
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use hickory_proto::rr::{RData, Record as HRecord, rdata};

    fn q(name: &str, t: &str) -> Question {
        Question::new(DnsName::parse(name).unwrap(), RecordType::parse(t).unwrap())
    }

    /// An answer to `query` (as bytes) built with hickory: the same id and
    /// question, `records` in the answer section, and the ECS option echoed
    /// with `scope` when the query had one.
    pub(crate) fn answer_to(query: &[u8], records: &[(&str, u32)], scope: Option<u8>) -> Vec<u8> {
        let qm = Message::from_vec(query).unwrap();
        let mut m = Message::response(qm.metadata.id, OpCode::Query);
        m.metadata.authoritative = true;
        m.metadata.recursion_desired = qm.metadata.recursion_desired;
        let question = qm.queries[0].clone();
        for (data, ttl) in records {
            let rd = match question.query_type() {
                WireType::AAAA => RData::AAAA(rdata::AAAA(data.parse().unwrap())),
                WireType::TXT => RData::TXT(rdata::TXT::new(vec![data.to_string()])),
                WireType::CNAME => RData::CNAME(rdata::CNAME(Name::from_ascii(data).unwrap())),
                _ => RData::A(rdata::A(data.parse().unwrap())),
            };
            m.add_answer(HRecord::from_rdata(question.name().clone(), *ttl, rd));
        }
        m.add_query(question);
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        if let (Some(scope), Some(e)) = (scope, &qm.edns)
            && let Some(EdnsOption::Subnet(cs)) = e.option(EdnsCode::Subnet)
        {
            edns.options_mut()
                .insert(EdnsOption::Subnet(ClientSubnet::new(
                    cs.addr(),
                    cs.source_prefix(),
                    scope,
                )));
        }
        m.set_edns(edns);
        m.to_vec().unwrap()
    }

    #[test]
    fn the_question_goes_out_fully_qualified_and_matches_without_case() {
        let question = q("WWW.cdn.test", "aaaa");
        let query = question.encode(9).unwrap();
        let m = Message::from_vec(&query).unwrap();
        assert_eq!(m.queries[0].name().to_ascii(), "WWW.cdn.test.");
        assert_eq!(m.queries[0].query_type(), WireType::AAAA);
        // The server may answer in another case (0x20 or its own zone's).
        let lower = answer_to(
            &q("www.CDN.test", "aaaa").encode(9).unwrap(),
            &[("2001:2::1", 5)],
            None,
        );
        assert!(parse_response(&lower, 9, &question).is_ok());
    }

    #[test]
    fn rfc7871_ecs_option_on_the_wire() {
        let mut question = q("www.cdn.test", "A");
        question.subnet = Some("198.18.4.0/24".parse().unwrap());
        let bytes = question.encode(0x1234).unwrap();
        assert_eq!(&bytes[..2], &[0x12, 0x34]);
        // Option code 8, length 7, family 1, source 24, scope 0, 198.18.4.
        let opt = [0, 8, 0, 7, 0, 1, 24, 0, 198, 18, 4];
        assert!(
            bytes.windows(opt.len()).any(|w| w == opt),
            "no ECS option in {bytes:02x?}"
        );
        let mut question = q("www.cdn.test", "AAAA");
        question.subnet = Some("2001:2:4::/48".parse().unwrap());
        let bytes = question.encode(1).unwrap();
        let opt = [0, 8, 0, 10, 0, 2, 48, 0, 0x20, 0x01, 0, 2, 0, 4];
        assert!(bytes.windows(opt.len()).any(|w| w == opt));
        // Without a subnet: EDNS, but no option.
        let bytes = q("www.cdn.test", "A").encode(1).unwrap();
        let m = Message::from_vec(&bytes).unwrap();
        assert_eq!(m.edns.as_ref().unwrap().max_payload(), UDP_PAYLOAD);
        assert!(m.edns.unwrap().option(EdnsCode::Subnet).is_none());
        assert!(m.metadata.recursion_desired);
    }

    #[test]
    fn an_answer_is_read_with_its_flags_ttl_and_scope() {
        let mut question = q("www.cdn.test", "A");
        question.subnet = Some("198.18.4.0/24".parse().unwrap());
        let query = question.encode(7).unwrap();
        let bytes = answer_to(
            &query,
            &[("198.18.10.1", 30), ("198.18.10.3", 20)],
            Some(24),
        );
        let r = parse_response(&bytes, 7, &question).unwrap();
        assert_eq!(r.rcode, "NOERROR");
        assert!(r.ok());
        assert_eq!(r.flags.text(), "aa rd");
        let data: Vec<&str> = r.answers.iter().map(|a| a.data.as_str()).collect();
        assert_eq!(data, ["198.18.10.1", "198.18.10.3"]);
        assert_eq!(r.answers[0].rtype, "A");
        assert_eq!(r.answers[0].name, "www.cdn.test.");
        assert_eq!(r.min_ttl(), Some(20));
        let ecs = r.ecs.unwrap();
        assert_eq!(ecs.scope, 24);
        assert_eq!(ecs.source.unwrap().to_string(), "198.18.4.0/24");
    }

    #[test]
    fn txt_and_cname_data_read_as_text() {
        let question = q("t.cdn.test", "TXT");
        let bytes = answer_to(&question.encode(1).unwrap(), &[("hello netproof", 5)], None);
        let r = parse_response(&bytes, 1, &question).unwrap();
        assert_eq!(r.answers[0].data, "hello netproof");
        let question = q("alias.cdn.test", "CNAME");
        let bytes = answer_to(&question.encode(2).unwrap(), &[("www.cdn.test", 5)], None);
        let r = parse_response(&bytes, 2, &question).unwrap();
        assert_eq!(r.answers[0].data, "www.cdn.test.");
        assert!(r.ecs.is_none());
    }

    #[test]
    fn every_kind_of_wrong_answer_has_its_reason() {
        let question = q("www.cdn.test", "A");
        let query = question.encode(0x0102).unwrap();
        let good = answer_to(&query, &[("198.18.10.1", 30)], None);
        assert!(parse_response(&good, 0x0102, &question).is_ok());

        // Every truncation of a good answer is an error, never a panic and
        // never an empty success, except the cut that removes only the
        // OPT record's end... which is still an error: hickory reads the
        // counts from the header.
        for cut in 0..good.len() {
            let e = parse_response(&good[..cut], 0x0102, &question).unwrap_err();
            if cut < HEADER_LEN {
                assert_eq!(e, Malformed::Short { len: cut });
            } else {
                assert!(matches!(e, Malformed::Decode { .. }), "cut {cut}: {e}");
            }
        }
        let e = parse_response(&good, 0x0103, &question).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the answer's id 0x0102 does not match the query's 0x0103"
        );
        // Our own query echoed back.
        assert_eq!(
            parse_response(&query, 0x0102, &question),
            Err(Malformed::NotResponse)
        );
        let other = q("other.cdn.test", "A");
        let e = parse_response(&good, 0x0102, &other).unwrap_err();
        assert!(matches!(e, Malformed::WrongQuestion { .. }), "{e}");
        // Garbage after a plausible header.
        let mut garbage = good[..HEADER_LEN].to_vec();
        garbage.extend_from_slice(&[0xff; 40]);
        assert!(matches!(
            parse_response(&garbage, 0x0102, &question),
            Err(Malformed::Decode { .. })
        ));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let question = q("www.cdn.test", "A");
        // A fixed-seed xorshift so the corpus is the same on every run.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for n in 0..2000 {
            let len = n % 300;
            let mut b = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b.push(x as u8);
            }
            if b.len() >= 3 {
                b[0] = 0;
                b[1] = 1;
                b[2] |= 0x80;
                b[2] &= 0x87;
            }
            let _ = parse_response(&b, 1, &question);
        }
    }

    #[test]
    fn rcodes_have_dig_names() {
        assert_eq!(rcode_name(ResponseCode::NXDomain), "NXDOMAIN");
        assert_eq!(rcode_name(ResponseCode::Refused), "REFUSED");
        assert_eq!(rcode_name(ResponseCode::Unknown(4000)), "RCODE4000");
    }

    #[test]
    fn tcp_frames_carry_the_length() {
        assert_eq!(tcp_frame(&[1, 2, 3]), [0, 3, 1, 2, 3]);
    }
}
