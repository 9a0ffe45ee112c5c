//! The request path, answered and parsed back with hickory's own decoder.

use std::net::IpAddr;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, Query as DnsQuery, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_proto::rr::{Name, RData, RecordType};
use netproof_proto::steering::{DnsFace, EdgeKind, NameServer};

use super::*;
use crate::decision::tests::{config, entry, report, route};
use crate::decision::{Polled, Steering};

const NOW: Duration = Duration::from_secs(10);

fn face() -> DnsFace {
    DnsFace {
        zone: "video.cdn.test".into(),
        steered: vec!["video.cdn.test".into(), "www.video.cdn.test".into()],
        ttl: None,
        answers: Some(1),
        ns: vec![NameServer {
            name: "ns.video.cdn.test".into(),
            address: "198.18.0.9".parse().unwrap(),
        }],
    }
}

fn world() -> (Zone, Steering) {
    let mut a1 = entry("a1", EdgeKind::Embedded, Some("isp-a"));
    a1.addresses = vec![
        "198.18.1.2".parse().unwrap(),
        "2001:2::1:2".parse().unwrap(),
    ];
    let mut b1 = entry("b1", EdgeKind::Embedded, Some("isp-b"));
    b1.addresses = vec!["198.18.2.2".parse().unwrap()];
    b1.host = "b1.isp.video.cdn.test".into();
    let mut ix = entry("ix", EdgeKind::Exchange, None);
    ix.addresses = vec!["198.18.3.2".parse().unwrap()];
    let edges = vec![a1, b1, ix];
    let mut s = Steering::new(&config(edges.clone()));
    s.report(report("a1", 1, vec![route("198.18.64.0/20")], &[]), NOW)
        .unwrap();
    s.report(report("b1", 1, vec![route("198.18.96.0/20")], &[]), NOW)
        .unwrap();
    (Zone::new(&face(), &edges), s)
}

fn ask(name: &str, t: RecordType, ecs: Option<(&str, u8)>) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = 0xbeef;
    m.add_query(DnsQuery::query(Name::from_ascii(name).unwrap(), t));
    if let Some((addr, len)) = ecs {
        let mut e = Edns::new();
        e.set_max_payload(1232);
        let a: IpAddr = addr.parse().unwrap();
        e.options_mut()
            .insert(EdnsOption::Subnet(ClientSubnet::new(a, len, 0)));
        m.set_edns(e);
    }
    m.to_vec().unwrap()
}

fn answer(
    zone: &Zone,
    s: &Steering,
    packet: &[u8],
    source: &str,
    t: Transport,
) -> (Message, Outcome) {
    let out = zone.respond(packet, source.parse().unwrap(), t, s, NOW);
    let m = Message::from_vec(out.reply.as_ref().expect("a reply")).expect("hickory reads it");
    (m, out)
}

fn addresses(m: &Message) -> Vec<String> {
    m.answers
        .iter()
        .map(|r| match &r.data {
            RData::A(a) => a.0.to_string(),
            RData::AAAA(a) => a.0.to_string(),
            other => format!("{other:?}"),
        })
        .collect()
}

fn scope(m: &Message) -> Option<(u8, u8)> {
    match m.edns.as_ref()?.option(EdnsCode::Subnet)? {
        EdnsOption::Subnet(s) => Some((s.source_prefix(), s.scope_prefix())),
        _ => None,
    }
}

#[test]
fn rfc7871_a_steered_name_answers_the_on_net_edge_for_the_client_subnet_with_its_scope() {
    let (zone, s) = world();
    let (m, out) = answer(
        &zone,
        &s,
        &ask("Video.CDN.test.", RecordType::A, Some(("198.18.64.0", 24))),
        "127.0.0.1",
        Transport::Udp,
    );
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.metadata.authoritative);
    assert_eq!(m.metadata.id, 0xbeef);
    assert_eq!(addresses(&m), ["198.18.1.2"]);
    assert_eq!(m.answers[0].ttl, 10);
    // The question and the owner keep the case the client sent (0x20).
    assert_eq!(m.answers[0].name.to_ascii(), "Video.CDN.test.");
    assert_eq!(scope(&m), Some((24, 20)));
    let (client, from_ecs, d) = out.decided.unwrap();
    assert_eq!(
        (client.to_string().as_str(), from_ecs, d.miss),
        ("198.18.64.0/24", true, None)
    );
    // The other ISP's subnet gets its own edge; AAAA the v6 address.
    let (m, _) = answer(
        &zone,
        &s,
        &ask("video.cdn.test.", RecordType::A, Some(("198.18.96.0", 24))),
        "127.0.0.1",
        Transport::Udp,
    );
    assert_eq!(addresses(&m), ["198.18.2.2"]);
    let (m, _) = answer(
        &zone,
        &s,
        &ask(
            "video.cdn.test.",
            RecordType::AAAA,
            Some(("198.18.64.0", 24)),
        ),
        "127.0.0.1",
        Transport::Udp,
    );
    assert_eq!(addresses(&m), ["2001:2::1:2"]);
}

#[test]
fn without_ecs_the_source_address_decides_and_no_ecs_is_echoed() {
    let (zone, s) = world();
    let (m, out) = answer(
        &zone,
        &s,
        &ask("video.cdn.test.", RecordType::A, None),
        "198.18.97.3",
        Transport::Udp,
    );
    assert_eq!(addresses(&m), ["198.18.2.2"]);
    assert!(m.edns.is_none());
    assert!(!out.decided.unwrap().1);
    // ECS with SOURCE 0 opts out: the source decides, scope 0.
    let (m, _) = answer(
        &zone,
        &s,
        &ask("video.cdn.test.", RecordType::A, Some(("0.0.0.0", 0))),
        "198.18.64.3",
        Transport::Udp,
    );
    assert_eq!(addresses(&m), ["198.18.1.2"]);
    assert_eq!(scope(&m), Some((0, 0)));
}

#[test]
fn a_route_miss_goes_to_the_exchange_edge() {
    let (zone, s) = world();
    let (m, out) = answer(
        &zone,
        &s,
        &ask(
            "www.video.cdn.test.",
            RecordType::A,
            Some(("198.18.200.0", 24)),
        ),
        "127.0.0.1",
        Transport::Udp,
    );
    assert_eq!(addresses(&m), ["198.18.3.2"]);
    assert_eq!(
        out.decided.unwrap().2.miss,
        Some(crate::decision::Miss::Route)
    );
    assert_eq!(scope(&m), Some((24, 24)));
}

#[test]
fn hosts_apex_soa_ns_and_glue_answer_as_an_authority() {
    let (zone, s) = world();
    let (m, _) = answer(
        &zone,
        &s,
        &ask("a1.video.cdn.test.", RecordType::A, None),
        "127.0.0.1",
        Transport::Udp,
    );
    assert_eq!(addresses(&m), ["198.18.1.2"]);
    assert_eq!(m.answers[0].ttl, HOST_TTL);
    let (m, _) = answer(
        &zone,
        &s,
        &ask("video.cdn.test.", RecordType::SOA, None),
        "127.0.0.1",
        Transport::Udp,
    );
    assert!(
        matches!(&m.answers[0].data, RData::SOA(soa) if soa.mname.to_ascii() == "ns.video.cdn.test.")
    );
    let (m, _) = answer(
        &zone,
        &s,
        &ask("video.cdn.test.", RecordType::NS, None),
        "127.0.0.1",
        Transport::Udp,
    );
    assert!(matches!(&m.answers[0].data, RData::NS(ns) if ns.0.to_ascii() == "ns.video.cdn.test."));
    assert_eq!(m.additionals.len(), 1, "glue for the name server");
    let (m, _) = answer(
        &zone,
        &s,
        &ask("ns.video.cdn.test.", RecordType::A, None),
        "127.0.0.1",
        Transport::Udp,
    );
    assert_eq!(addresses(&m), ["198.18.0.9"]);
}

#[test]
fn nxdomain_and_nodata_carry_the_soa_and_outside_names_are_refused() {
    let (zone, s) = world();
    let (m, _) = answer(
        &zone,
        &s,
        &ask("nope.video.cdn.test.", RecordType::A, None),
        "127.0.0.1",
        Transport::Udp,
    );
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(m.metadata.authoritative);
    assert!(matches!(m.authorities[0].data, RData::SOA(_)));
    // A steered name has no MX: NODATA.
    let (m, _) = answer(
        &zone,
        &s,
        &ask("video.cdn.test.", RecordType::MX, None),
        "127.0.0.1",
        Transport::Udp,
    );
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    assert!(matches!(m.authorities[0].data, RData::SOA(_)));
    // `isp.video.cdn.test` exists only as the parent of b1's host.
    let (m, _) = answer(
        &zone,
        &s,
        &ask("isp.video.cdn.test.", RecordType::A, None),
        "127.0.0.1",
        Transport::Udp,
    );
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    let (m, _) = answer(
        &zone,
        &s,
        &ask("example.org.", RecordType::A, None),
        "127.0.0.1",
        Transport::Udp,
    );
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    assert!(!m.metadata.authoritative);
    // `xvideo.cdn.test` is not below the apex.
    let (m, _) = answer(
        &zone,
        &s,
        &ask("xvideo.cdn.test.", RecordType::A, None),
        "127.0.0.1",
        Transport::Udp,
    );
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
}

#[test]
fn no_usable_edge_is_servfail() {
    let (zone, mut s) = world();
    for i in 0..3 {
        s.set_polled(i, Polled::Down);
    }
    let (m, _) = answer(
        &zone,
        &s,
        &ask("video.cdn.test.", RecordType::A, None),
        "198.18.64.1",
        Transport::Udp,
    );
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
}

#[test]
fn an_answer_over_the_udp_size_is_truncated_and_whole_over_tcp() {
    let mut edges: Vec<_> = (0..60)
        .map(|i| {
            let mut e = entry(&format!("x{i}"), EdgeKind::Exchange, None);
            e.addresses = vec![format!("198.18.5.{i}").parse().unwrap()];
            e
        })
        .collect();
    edges.push(entry("tier", EdgeKind::Tier, None));
    let mut f = face();
    f.answers = Some(60);
    let zone = Zone::new(&f, &edges);
    let s = Steering::new(&config(edges));
    let q = ask("video.cdn.test.", RecordType::A, None);
    let (m, out) = answer(&zone, &s, &q, "127.0.0.1", Transport::Udp);
    assert!(m.metadata.truncation && out.truncated);
    assert!(m.answers.is_empty());
    assert!(out.reply.unwrap().len() <= 512);
    let (m, out) = answer(&zone, &s, &q, "127.0.0.1", Transport::Tcp);
    assert!(!out.truncated);
    assert_eq!(m.answers.len(), 60);
    // EDNS with a larger payload fits it over UDP.
    let q = ask("video.cdn.test.", RecordType::A, Some(("198.18.0.0", 16)));
    let (m, _) = answer(&zone, &s, &q, "127.0.0.1", Transport::Udp);
    assert_eq!(m.answers.len(), 60);
}

#[test]
fn malformed_queries_get_formerr_with_their_id_or_are_dropped() {
    let (zone, s) = world();
    let mut bad_bits = ask("video.cdn.test.", RecordType::A, Some(("198.18.64.0", 20)));
    // The ECS address's last octet sits at the end: set a bit past /20.
    let n = bad_bits.len();
    bad_bits[n - 1] = 65;
    let out = zone.respond(
        &bad_bits,
        "127.0.0.1".parse().unwrap(),
        Transport::Udp,
        &s,
        NOW,
    );
    let m = Message::from_vec(&out.reply.unwrap()).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
    assert_eq!(m.metadata.id, 0xbeef);
    assert_eq!(out.malformed, Some(Malformed::EcsBits));
    let out = zone.respond(
        &[1, 2, 3],
        "127.0.0.1".parse().unwrap(),
        Transport::Udp,
        &s,
        NOW,
    );
    assert_eq!((out.reply, out.malformed), (None, Some(Malformed::Short)));
}

#[test]
fn other_opcodes_classes_and_edns_versions() {
    let (zone, s) = world();
    let mut q = ask("video.cdn.test.", RecordType::A, None);
    q[2] |= 2 << 3; // STATUS
    let (m, _) = answer(&zone, &s, &q, "127.0.0.1", Transport::Udp);
    assert_eq!(m.metadata.response_code, ResponseCode::NotImp);
    let mut q = ask("video.cdn.test.", RecordType::A, None);
    let n = q.len();
    q[n - 1] = 3; // class CH
    let (m, _) = answer(&zone, &s, &q, "127.0.0.1", Transport::Udp);
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    let mut m = Message::query();
    m.add_query(DnsQuery::query(
        Name::from_ascii("video.cdn.test.").unwrap(),
        RecordType::A,
    ));
    let mut e = Edns::new();
    e.set_version(1);
    m.set_edns(e);
    let (m, _) = answer(&zone, &s, &m.to_vec().unwrap(), "127.0.0.1", Transport::Udp);
    // 16 is BADVERS in an OPT's extended RCODE (hickory reads it as
    // BADSIG, the TSIG meaning of the same number).
    assert_eq!(u16::from(m.metadata.response_code), 16);
    assert_eq!(m.edns.map(|e| e.version()), Some(0));
}

#[test]
fn the_hand_encoded_steered_answer_is_the_message_hickory_encodes() {
    let (zone, s) = world();
    let mut queries = Vec::new();
    for (name, t) in [
        ("video.cdn.test.", RecordType::A),
        ("ViDeO.cdn.TEST.", RecordType::A),
        ("video.cdn.test.", RecordType::AAAA),
    ] {
        for ecs in [
            None,
            Some(("198.18.64.0", 24)),
            Some(("198.18.96.0", 20)),
            Some(("198.18.200.0", 24)),
            Some(("0.0.0.0", 0)),
            Some(("2001:2::", 32)),
        ] {
            queries.push(ask(name, t, ecs));
        }
    }
    // RD off and CD on.
    let mut odd = ask("video.cdn.test.", RecordType::A, None);
    odd[2] &= !1;
    odd[3] |= 0x10;
    queries.push(odd);
    let src: IpAddr = "198.18.97.1".parse().unwrap();
    let mut with_records = 0;
    for q in &queries {
        let fast = zone.respond_with(q, src, Transport::Udp, &s, NOW, true);
        let slow = zone.respond_with(q, src, Transport::Udp, &s, NOW, false);
        let fm = Message::from_vec(fast.reply.as_ref().unwrap()).unwrap();
        let sm = Message::from_vec(slow.reply.as_ref().unwrap()).unwrap();
        assert_eq!(fm, sm, "query {q:?}");
        assert_eq!((fast.rcode, &fast.decided), (slow.rcode, &slow.decided));
        with_records += usize::from(!fm.answers.is_empty());
    }
    assert!(with_records >= 12, "{with_records}");
    // The common answer does take the hand-encoded path.
    let q = ask("video.cdn.test.", RecordType::A, Some(("198.18.64.0", 24)));
    let r = wire::read(&q).unwrap();
    assert!(zone.steered_answer(&r, src, 1232, &s, NOW).is_some());
}
