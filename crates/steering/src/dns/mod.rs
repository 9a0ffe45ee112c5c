//! The authoritative DNS face: steering's answer to "where is
//! `video.cdn.test`?" for a client subnet (EDNS Client Subnet, RFC 7871)
//! or, without one, for the resolver's address.
//!
//! [`Zone::respond`] is the whole request path as a pure function (bytes
//! and the source address in, bytes out, with what happened for the
//! counters), so tests and a fuzz target drive it without sockets;
//! [`server`] runs it on UDP and TCP. Queries are read by [`wire`];
//! responses are encoded with hickory-proto.
//!
//! What it answers, authoritatively (AA) for `dns.zone` and below:
//! - a steered name: A or AAAA records of the best usable edges (one
//!   address per edge, `dns.answers` records), TTL `dns.ttl`, with the ECS
//!   option echoed and its SCOPE PREFIX-LENGTH set to the length of the
//!   client block the answer holds for ([`crate::decision::Decision::scope`]);
//!   SERVFAIL when no edge is usable;
//! - an edge's `host` and a name server's name: its addresses, TTL 300;
//! - the apex: SOA, and NS with the name servers' addresses as glue;
//! - any other name in the zone: NXDOMAIN, or NODATA for a name that
//!   exists with other types (or only as a parent of names), with the SOA
//!   in the authority section;
//! - names outside the zone: REFUSED; other classes: REFUSED; opcodes other
//!   than QUERY: NOTIMP; an EDNS version above 0: BADVERS;
//! - malformed queries (see [`wire::Malformed`]): FORMERR, or dropped when
//!   there is no header to answer or the packet is a response;
//! - over UDP, an answer larger than the client's EDNS payload size (512
//!   without EDNS; never above [`MAX_UDP`]) is sent truncated (TC, no
//!   records) so the client retries over TCP.

pub mod server;
mod steered;
pub mod wire;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query as DnsQuery, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
use hickory_proto::rr::rdata::{A, AAAA, NS, SOA};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use netproof_proto::prefix::IpNet;
use netproof_proto::steering::{DnsFace, EdgeEntry};

use crate::decision::{Decision, Query, Steering};

use self::wire::{Malformed, Request};

/// The largest UDP answer we send, whatever the client offers (the DNS
/// flag day 2020 size: no IP fragmentation on common paths).
pub const MAX_UDP: u16 = 1232;

/// TTL of edges' and name servers' own names.
pub const HOST_TTL: u32 = 300;

/// The steered TTL when the config names none.
pub const DEFAULT_TTL: Duration = Duration::from_secs(10);

/// Records per steered answer when the config names no count.
pub const DEFAULT_ANSWERS: u32 = 2;

/// How a query arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP: answers are bounded by the client's payload size.
    Udp,
    /// TCP: answers up to 65535 bytes.
    Tcp,
}

/// What answering one packet did, for the counters and the decision log.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The bytes to send, or `None` to drop the packet.
    pub reply: Option<Vec<u8>>,
    /// The response code sent.
    pub rcode: Option<ResponseCode>,
    /// What was wrong with the packet, if anything.
    pub malformed: Option<Malformed>,
    /// Whether the answer was truncated (TC).
    pub truncated: bool,
    /// The decision behind a steered answer, with the client it was for
    /// and whether that came from ECS.
    pub decided: Option<(IpNet, bool, Decision)>,
}

/// The zone steering is authoritative for, prepared from the config.
#[derive(Debug, Clone)]
pub struct Zone {
    apex: String,
    steered: HashSet<String>,
    /// Addresses of edges' hosts and name servers, by lowercase name.
    hosts: HashMap<String, Vec<IpAddr>>,
    /// Every name that exists in the zone, parents included.
    existing: HashSet<String>,
    soa: Record,
    ns: Vec<Record>,
    glue: Vec<Record>,
    ttl: u32,
    answers: usize,
}

fn lower(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn fqdn(name: &str) -> Name {
    // The config's names passed `check_name`; a name hickory still refuses
    // becomes the root, which answers nothing wrongly.
    Name::from_ascii(format!("{}.", name.trim_end_matches('.'))).unwrap_or_else(|_| Name::root())
}

fn address_record(name: Name, ttl: u32, addr: IpAddr) -> Record {
    match addr {
        IpAddr::V4(a) => Record::from_rdata(name, ttl, RData::A(A(a))),
        IpAddr::V6(a) => Record::from_rdata(name, ttl, RData::AAAA(AAAA(a))),
    }
}

impl Zone {
    /// The zone of a validated `[dns]` table and the config's edges.
    pub fn new(face: &DnsFace, edges: &[EdgeEntry]) -> Zone {
        let apex = lower(&face.zone);
        let ttl = face
            .ttl
            .map_or(DEFAULT_TTL, |s| s.0)
            .as_secs()
            .min(u32::MAX as u64) as u32;
        let mut hosts: HashMap<String, Vec<IpAddr>> = HashMap::new();
        for e in edges {
            hosts
                .entry(lower(&e.host))
                .or_default()
                .extend(e.addresses.iter().copied());
        }
        for n in &face.ns {
            hosts.entry(lower(&n.name)).or_default().push(n.address);
        }
        let steered: HashSet<String> = face.steered.iter().map(|s| lower(s)).collect();
        let mut existing = HashSet::new();
        let suffix = format!(".{apex}");
        for name in steered.iter().chain(hosts.keys()) {
            // The name and each parent down to the apex (empty
            // non-terminals answer NODATA, not NXDOMAIN).
            let mut n = name.as_str();
            loop {
                existing.insert(n.to_string());
                if n == apex || !n.ends_with(&suffix) {
                    break;
                }
                match n.split_once('.') {
                    Some((_, parent)) => n = parent,
                    None => break,
                }
            }
        }
        existing.insert(apex.clone());
        let apex_name = fqdn(&apex);
        let mname = face
            .ns
            .first()
            .map_or_else(|| apex_name.clone(), |n| fqdn(&n.name));
        let soa = Record::from_rdata(
            apex_name.clone(),
            ttl,
            RData::SOA(SOA::new(
                mname,
                fqdn(&format!("hostmaster.{apex}")),
                1,
                3600,
                600,
                604_800,
                ttl,
            )),
        );
        let ns = face
            .ns
            .iter()
            .map(|n| Record::from_rdata(apex_name.clone(), HOST_TTL, RData::NS(NS(fqdn(&n.name)))))
            .collect();
        let glue = face
            .ns
            .iter()
            .map(|n| address_record(fqdn(&n.name), HOST_TTL, n.address))
            .collect();
        Zone {
            apex,
            steered,
            hosts,
            existing,
            soa,
            ns,
            glue,
            ttl,
            answers: face.answers.unwrap_or(DEFAULT_ANSWERS).max(1) as usize,
        }
    }

    fn inside(&self, name: &str) -> bool {
        name == self.apex
            || (name.len() > self.apex.len()
                && name.ends_with(&self.apex)
                && name.as_bytes()[name.len() - self.apex.len() - 1] == b'.')
    }

    /// Answers one packet from `source` at `now`.
    pub fn respond(
        &self,
        packet: &[u8],
        source: IpAddr,
        transport: Transport,
        steering: &Steering,
        now: Duration,
    ) -> Outcome {
        self.respond_with(packet, source, transport, steering, now, true)
    }

    /// [`Zone::respond`], with the hand-encoded steered answer allowed or
    /// not (the tests compare the two paths).
    fn respond_with(
        &self,
        packet: &[u8],
        source: IpAddr,
        transport: Transport,
        steering: &Steering,
        now: Duration,
        fast: bool,
    ) -> Outcome {
        let request = match wire::read(packet) {
            Ok(r) => r,
            Err(m) => return Self::malformed(packet, m),
        };
        let limit = match transport {
            Transport::Tcp => usize::from(u16::MAX),
            Transport::Udp => usize::from(request.edns.map_or(512, |e| e.payload.min(MAX_UDP))),
        };
        if fast && let Some(out) = self.steered_answer(&request, source, limit, steering, now) {
            return out;
        }
        let mut decided = None;
        let (mut message, ecs) = self.answer(&request, source, steering, now, &mut decided);
        let rcode = message.metadata.response_code;
        let encode = |m: &Message| m.to_vec().ok();
        let Some(mut bytes) = encode(&message) else {
            // Nothing we build fails to encode; if it ever does, say so.
            let m = Self::bare(&request, ResponseCode::ServFail, ecs);
            return Outcome {
                reply: encode(&m),
                rcode: Some(ResponseCode::ServFail),
                malformed: None,
                truncated: false,
                decided,
            };
        };
        let mut truncated = false;
        if bytes.len() > limit {
            message.answers.clear();
            message.authorities.clear();
            message.additionals.clear();
            message.metadata.truncation = true;
            truncated = true;
            bytes = encode(&message).unwrap_or_default();
        }
        Outcome {
            reply: Some(bytes),
            rcode: Some(rcode),
            malformed: None,
            truncated,
            decided,
        }
    }

    /// The client a steered question is decided for: the ECS subnet when
    /// its SOURCE is above 0, else the source address; and whether it
    /// came from ECS.
    fn client(request: &Request<'_>, source: IpAddr) -> (IpNet, bool) {
        match request.edns.and_then(|e| e.ecs) {
            Some(e) if e.subnet.prefix_len() > 0 => (e.subnet, true),
            _ => (IpNet::from(source), false),
        }
    }

    /// The common answer, encoded by hand ([`steered`]): A or AAAA of a
    /// steered name with addresses to give. `None` sends the query down
    /// the general path (which then decides again: only for the rare
    /// answers this one does not write).
    fn steered_answer(
        &self,
        r: &Request<'_>,
        source: IpAddr,
        limit: usize,
        steering: &Steering,
        now: Duration,
    ) -> Option<Outcome> {
        let q = &r.question;
        let v4 = match q.qtype {
            1 => true,
            28 => false,
            _ => return None,
        };
        if r.header.opcode != 0
            || r.edns.is_some_and(|e| e.version > 0)
            || q.qclass != 1
            || q.raw.is_none()
            || !self.steered.contains(q.name.as_str())
            || self.hosts.contains_key(q.name.as_str())
        {
            return None;
        }
        let (client, from_ecs) = Self::client(r, source);
        let d = steering.decide(
            &Query {
                client,
                site: &q.name,
                title: None,
            },
            now,
        );
        let addresses: Vec<IpAddr> = d
            .usable()
            .filter_map(|rk| {
                steering.edges()[rk.edge]
                    .entry
                    .addresses
                    .iter()
                    .find(|a| a.is_ipv4() == v4)
                    .copied()
            })
            .take(self.answers)
            .collect();
        if addresses.is_empty() {
            return None;
        }
        let scope = r
            .edns
            .and_then(|e| e.ecs)
            .map(|_| if from_ecs { d.scope } else { 0 });
        let bytes = steered::encode(r, &addresses, self.ttl, scope)?;
        if bytes.len() > limit {
            return None;
        }
        Some(Outcome {
            reply: Some(bytes),
            rcode: Some(ResponseCode::NoError),
            malformed: None,
            truncated: false,
            decided: Some((client, from_ecs, d)),
        })
    }

    /// The answer to a packet that could not be read: FORMERR with the
    /// query's ID, or nothing.
    fn malformed(packet: &[u8], m: Malformed) -> Outcome {
        let reply = if m.dropped() {
            None
        } else {
            wire::header(packet).and_then(|h| {
                let mut msg =
                    Message::error_msg(h.id, OpCode::from_u8(h.opcode), ResponseCode::FormErr);
                msg.metadata.recursion_desired = h.rd;
                msg.to_vec().ok()
            })
        };
        Outcome {
            rcode: reply.as_ref().map(|_| ResponseCode::FormErr),
            reply,
            malformed: Some(m),
            truncated: false,
            decided: None,
        }
    }

    /// A response to `r` with its question echoed, no records.
    fn bare(r: &Request<'_>, rcode: ResponseCode, ecs: Option<ClientSubnet>) -> Message {
        let mut m = Message::new(
            r.header.id,
            MessageType::Response,
            OpCode::from_u8(r.header.opcode),
        );
        m.metadata.recursion_desired = r.header.rd;
        m.metadata.checking_disabled = r.header.cd;
        m.metadata.response_code = rcode;
        let name = Name::from_labels(r.question.labels.iter().copied())
            .or_else(|_| Name::from_ascii(&r.question.name))
            .unwrap_or_else(|_| Name::root());
        let mut q = DnsQuery::query(name, RecordType::from(r.question.qtype));
        q.set_query_class(DNSClass::from(r.question.qclass));
        m.queries.push(q);
        if r.edns.is_some() {
            let mut e = Edns::new();
            e.set_max_payload(MAX_UDP);
            e.set_version(0);
            if let Some(subnet) = ecs {
                e.options_mut().insert(EdnsOption::Subnet(subnet));
            }
            m.edns = Some(e);
        }
        m
    }

    fn answer(
        &self,
        r: &Request<'_>,
        source: IpAddr,
        steering: &Steering,
        now: Duration,
        decided: &mut Option<(IpNet, bool, Decision)>,
    ) -> (Message, Option<ClientSubnet>) {
        let ecs = r.edns.and_then(|e| e.ecs);
        // The ECS echo: the client's family, source length and address,
        // scope 0 unless a steered answer sets it.
        let mut echo = ecs.map(|e| ClientSubnet::new(e.subnet.addr(), e.subnet.prefix_len(), 0));
        if r.header.opcode != 0 {
            return (Self::bare(r, ResponseCode::NotImp, echo), echo);
        }
        if r.edns.is_some_and(|e| e.version > 0) {
            return (Self::bare(r, ResponseCode::BADVERS, echo), echo);
        }
        let q = &r.question;
        let name = q.name.as_str();
        if !matches!(q.qclass, 1 | 255) || !self.inside(name) {
            return (Self::bare(r, ResponseCode::Refused, echo), echo);
        }
        let owner = || {
            Name::from_labels(q.labels.iter().copied())
                .or_else(|_| Name::from_ascii(name))
                .unwrap_or_else(|_| Name::root())
        };
        let qtype = RecordType::from(q.qtype);
        let wants = |t: RecordType| qtype == t || qtype == RecordType::ANY;
        let mut answers: Vec<Record> = Vec::new();
        let mut additionals = Vec::new();
        let mut rcode = ResponseCode::NoError;
        if self.steered.contains(name) && (wants(RecordType::A) || wants(RecordType::AAAA)) {
            let (client, from_ecs) = Self::client(r, source);
            let d = steering.decide(
                &Query {
                    client,
                    site: name,
                    title: None,
                },
                now,
            );
            if d.usable().next().is_none() {
                rcode = ResponseCode::ServFail;
            } else {
                for t in [RecordType::A, RecordType::AAAA] {
                    if !wants(t) {
                        continue;
                    }
                    let v4 = t == RecordType::A;
                    let picked = d.usable().filter_map(|rk| {
                        steering.edges()[rk.edge]
                            .entry
                            .addresses
                            .iter()
                            .find(|a| a.is_ipv4() == v4)
                    });
                    for a in picked.take(self.answers) {
                        answers.push(address_record(owner(), self.ttl, *a));
                    }
                }
                if from_ecs && let Some(e) = echo.as_mut() {
                    e.set_scope_prefix(d.scope);
                }
            }
            *decided = Some((client, from_ecs, d));
        }
        if let Some(addrs) = self.hosts.get(name) {
            for a in addrs {
                if wants(if a.is_ipv4() {
                    RecordType::A
                } else {
                    RecordType::AAAA
                }) {
                    answers.push(address_record(owner(), HOST_TTL, *a));
                }
            }
        }
        if name == self.apex {
            if wants(RecordType::SOA) {
                let mut soa = self.soa.clone();
                soa.name = owner();
                answers.push(soa);
            }
            if wants(RecordType::NS) {
                for ns in &self.ns {
                    let mut ns = ns.clone();
                    ns.name = owner();
                    answers.push(ns);
                }
                additionals.extend(self.glue.iter().cloned());
            }
        }
        let mut m = Self::bare(r, rcode, echo);
        m.metadata.authoritative = true;
        if answers.is_empty() && rcode == ResponseCode::NoError {
            if !self.existing.contains(name) {
                m.metadata.response_code = ResponseCode::NXDomain;
            }
            m.authorities.push(self.soa.clone());
        }
        m.answers = answers;
        m.additionals = additionals;
        (m, echo)
    }
}

#[cfg(test)]
mod tests;
