//! The steered answer, encoded by hand: the one answer the DNS face gives
//! at rate (A or AAAA of the best edges for a steered name, with the ECS
//! option echoed), written straight into a buffer.
//!
//! Why: encoding it with hickory's `Message` costs about 5 µs a query
//! (owned names, record lists, a compression map), several times the
//! decision itself, and the DNS face's goal is Knot's rate. Its shape is
//! fixed and small: the header, the question copied from the query, one
//! record per address whose owner is a pointer to the question's name
//! (offset 12), and the OPT record. Anything else (NODATA, SERVFAIL, an
//! answer that must be truncated, a question written with a compression
//! pointer) takes the hickory path; `tests` check that both paths give
//! the same message for the same query.

use std::net::IpAddr;

use netproof_proto::prefix::IpNet;

use super::MAX_UDP;
use super::wire::Request;

/// A steered answer: `addresses` for the question of `request` (whose
/// question must be [`super::wire::Question::raw`]), TTL `ttl`, the ECS
/// option echoed with `scope` when the query had one.
pub fn encode(
    request: &Request<'_>,
    addresses: &[IpAddr],
    ttl: u32,
    scope: Option<u8>,
) -> Option<Vec<u8>> {
    let question = request.question.raw?;
    let mut out = Vec::with_capacity(12 + question.len() + addresses.len() * 28 + 40);
    let h = &request.header;
    out.extend_from_slice(&h.id.to_be_bytes());
    // QR, OPCODE 0, AA, RD as asked; CD as asked; RCODE 0.
    out.push(0x80 | 0x04 | u8::from(h.rd));
    out.push(if h.cd { 0x10 } else { 0 });
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&u16::try_from(addresses.len()).ok()?.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&u16::from(request.edns.is_some()).to_be_bytes());
    out.extend_from_slice(question);
    for a in addresses {
        // The owner: a pointer to the question's name at offset 12.
        out.extend_from_slice(&[0xc0, 12]);
        match a {
            IpAddr::V4(v4) => {
                out.extend_from_slice(&[0, 1, 0, 1]);
                out.extend_from_slice(&ttl.to_be_bytes());
                out.extend_from_slice(&[0, 4]);
                out.extend_from_slice(&v4.octets());
            }
            IpAddr::V6(v6) => {
                out.extend_from_slice(&[0, 28, 0, 1]);
                out.extend_from_slice(&ttl.to_be_bytes());
                out.extend_from_slice(&[0, 16]);
                out.extend_from_slice(&v6.octets());
            }
        }
    }
    if let Some(edns) = &request.edns {
        // The root, OPT, our UDP size, extended RCODE 0, version 0, no
        // flags.
        out.extend_from_slice(&[0, 0, 41]);
        out.extend_from_slice(&MAX_UDP.to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]);
        match (edns.ecs, scope) {
            (Some(ecs), Some(scope)) => {
                let option = ecs_option(ecs.subnet, scope);
                out.extend_from_slice(&(option.len() as u16).to_be_bytes());
                out.extend_from_slice(&option);
            }
            _ => out.extend_from_slice(&[0, 0]),
        }
    }
    Some(out)
}

/// The ECS option (code, length, data) for `subnet` with `scope`.
fn ecs_option(subnet: IpNet, scope: u8) -> Vec<u8> {
    let source = subnet.prefix_len();
    let octets = usize::from(source).div_ceil(8);
    let (family, addr): (u16, Vec<u8>) = match subnet.addr() {
        IpAddr::V4(a) => (1, a.octets()[..octets].to_vec()),
        IpAddr::V6(a) => (2, a.octets()[..octets].to_vec()),
    };
    let mut o = Vec::with_capacity(8 + octets);
    o.extend_from_slice(&8u16.to_be_bytes());
    o.extend_from_slice(&(4 + octets as u16).to_be_bytes());
    o.extend_from_slice(&family.to_be_bytes());
    o.push(source);
    o.push(scope);
    o.extend_from_slice(&addr);
    o
}
