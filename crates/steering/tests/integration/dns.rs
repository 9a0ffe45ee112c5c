//! The DNS face on real sockets: answers parsed by hickory and by kdig
//! (knot-dnsutils), ECS and non-ECS agreeing with the API, hostile packets.

use std::net::SocketAddr;
use std::process::Command;

use hickory_proto::op::{Edns, Message, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_proto::rr::{Name, RData, RecordType};

use crate::support::{Steering, config, report, start, tcp, udp};

/// Runs kdig against `server`; its output. Fails with the install command
/// when kdig is missing.
fn kdig(server: SocketAddr, args: &[&str]) -> String {
    let out = Command::new("kdig")
        .arg(format!("@{}", server.ip()))
        .arg("-p")
        .arg(server.port().to_string())
        .args(["+timeout=5", "+retry=0"])
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run kdig: {e}\nhint: run scripts/install-peers.sh (apt-get install --no-install-recommends knot-dnsutils)")
        });
    assert!(
        out.status.success(),
        "kdig {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn query(name: &str, t: RecordType, ecs: Option<(&str, u8)>) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = 0x5151;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
    if let Some((a, len)) = ecs {
        let mut e = Edns::new();
        e.set_max_payload(1232);
        e.options_mut().insert(EdnsOption::Subnet(ClientSubnet::new(
            a.parse().unwrap(),
            len,
            0,
        )));
        m.set_edns(e);
    }
    m.to_vec().unwrap()
}

fn first_address(m: &Message) -> Option<String> {
    m.answers.iter().find_map(|r| match &r.data {
        RData::A(a) => Some(a.0.to_string()),
        RData::AAAA(a) => Some(a.0.to_string()),
        _ => None,
    })
}

fn edge_address(edge: &str) -> &'static str {
    match edge {
        "a1" => "198.18.1.2",
        "b1" => "198.18.2.2",
        "ix" => "198.18.3.2",
        "lo" => "198.18.4.2",
        _ => "198.18.5.2",
    }
}

async fn reported() -> Steering {
    let s = start(&config("")).await;
    assert_eq!(
        s.report(&report("a1", 1, &[("198.18.64.0/20", 100)], &[]))
            .await
            .0,
        204
    );
    assert_eq!(
        s.report(&report("b1", 1, &[("198.18.96.0/20", 100)], &[]))
            .await
            .0,
        204
    );
    assert_eq!(
        s.report(&report("lo", 1, &[("127.0.0.0/8", 100)], &[]))
            .await
            .0,
        204
    );
    s
}

#[tokio::test]
async fn kdig_subnet_gets_the_on_net_edge_with_the_routes_scope() {
    let s = reported().await;
    let dns = s.dns();
    let out = tokio::task::spawn_blocking(move || {
        kdig(dns, &["+subnet=198.18.64.0/24", "video.cdn.test", "A"])
    })
    .await
    .unwrap();
    assert!(out.contains("status: NOERROR"), "{out}");
    assert!(out.contains(" aa"), "authoritative: {out}");
    assert!(
        out.contains("CLIENT-SUBNET: 198.18.64.0/24/20"),
        "scope /20 from the route: {out}"
    );
    assert!(out.contains("198.18.1.2"), "{out}");
    assert!(
        out.contains("\t10\tIN\tA\t") || out.contains(" 10 IN A "),
        "TTL 10: {out}"
    );
    // Over TCP, and ISP B's subnet gets b1.
    let out = tokio::task::spawn_blocking(move || {
        kdig(
            dns,
            &["+tcp", "+subnet=198.18.96.0/24", "video.cdn.test", "A"],
        )
    })
    .await
    .unwrap();
    assert!(
        out.contains("198.18.2.2") && out.contains("198.18.96.0/24/20"),
        "{out}"
    );
    // The apex: SOA and NS with glue.
    let out = tokio::task::spawn_blocking(move || kdig(dns, &["video.cdn.test", "NS"]))
        .await
        .unwrap();
    assert!(
        out.contains("ns.video.cdn.test.") && out.contains("198.18.0.9"),
        "{out}"
    );
    let out = tokio::task::spawn_blocking(move || kdig(dns, &["nope.video.cdn.test", "A"]))
        .await
        .unwrap();
    assert!(
        out.contains("status: NXDOMAIN") && out.contains("SOA"),
        "{out}"
    );
}

#[tokio::test]
async fn ecs_and_non_ecs_answers_agree_with_the_api() {
    let s = reported().await;
    for (subnet, len) in [
        ("198.18.64.0", 24),
        ("198.18.96.0", 22),
        ("198.18.200.0", 24),
    ] {
        let a = udp(
            s.dns(),
            &query("video.cdn.test.", RecordType::A, Some((subnet, len))),
        )
        .await
        .expect("an answer");
        let m = Message::from_vec(&a).unwrap();
        let api = s
            .steer(&format!("client={subnet}/{len}&site=video.cdn.test"))
            .await;
        let top = api["ranked"][0]["edge"].as_str().unwrap();
        assert_eq!(
            first_address(&m).as_deref(),
            Some(edge_address(top)),
            "{subnet}/{len}: {api}"
        );
        let scope = match m.edns.as_ref().and_then(|e| e.option(EdnsCode::Subnet)) {
            Some(EdnsOption::Subnet(c)) => c.scope_prefix(),
            other => panic!("no ECS echoed: {other:?}"),
        };
        assert_eq!(u64::from(scope), api["scope"].as_u64().unwrap());
    }
    // Without ECS the source (127.0.0.1) decides: the `lo` edge, as the
    // API says for that client.
    let a = udp(s.dns(), &query("video.cdn.test.", RecordType::A, None))
        .await
        .unwrap();
    let m = Message::from_vec(&a).unwrap();
    let api = s.steer("client=127.0.0.1&site=video.cdn.test").await;
    assert_eq!(api["ranked"][0]["edge"], "lo");
    assert_eq!(first_address(&m).as_deref(), Some("198.18.4.2"));
    let log = s.log.lock().unwrap().clone();
    assert!(
        log.iter()
            .any(|l| l.contains("\"face\":\"dns\"") && l.contains("198.18.64.0/24")),
        "{log:?}"
    );
}

#[tokio::test]
async fn malformed_packets_get_formerr_or_are_dropped_counted_and_good_queries_still_answer() {
    let s = reported().await;
    let good = query("video.cdn.test.", RecordType::A, Some(("198.18.64.0", 24)));
    // Truncated inside the question.
    let truncated = good[..20].to_vec();
    // A question name that points at itself.
    let looped = vec![
        0x51, 0x51, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1,
    ];
    // ECS with a bit set past its /20 (the last octet of the address).
    let mut bad_ecs = query("video.cdn.test.", RecordType::A, Some(("198.18.64.0", 20)));
    let n = bad_ecs.len();
    bad_ecs[n - 1] = 65;
    // ECS of an unknown family (3).
    let mut bad_family = good.clone();
    let at = bad_family.len() - 7;
    bad_family[at] = 3;
    // Oversized: 5000 bytes.
    let mut oversized = good.clone();
    oversized.resize(5000, 0);
    for (what, packet) in [
        ("truncated", &truncated),
        ("loop", &looped),
        ("ecs bits", &bad_ecs),
        ("ecs family", &bad_family),
        ("oversized", &oversized),
    ] {
        let a = udp(s.dns(), packet)
            .await
            .unwrap_or_else(|| panic!("{what}: no answer"));
        let m = Message::from_vec(&a).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(m.metadata.response_code, ResponseCode::FormErr, "{what}");
        assert_eq!(m.metadata.id, 0x5151, "{what}");
        // A good query right after is answered.
        let a = udp(s.dns(), &good)
            .await
            .expect("a good query after a bad one");
        assert_eq!(
            first_address(&Message::from_vec(&a).unwrap()).as_deref(),
            Some("198.18.1.2")
        );
    }
    // Too short for a header, and a response: dropped.
    assert_eq!(udp(s.dns(), &[1, 2, 3]).await, None);
    let mut response = good.clone();
    response[2] |= 0x80;
    assert_eq!(udp(s.dns(), &response).await, None);
    // Over TCP too, on one connection after a bad frame on another.
    let m = Message::from_vec(&tcp(s.dns(), &looped).await).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
    let m = Message::from_vec(&tcp(s.dns(), &good).await).unwrap();
    assert_eq!(first_address(&m).as_deref(), Some("198.18.1.2"));
    let metrics = s.metrics().await;
    for want in [
        "steering_dns_malformed_total{kind=\"truncated\"} 1\n",
        "steering_dns_malformed_total{kind=\"pointer_loop\"} 2\n",
        "steering_dns_malformed_total{kind=\"ecs_bits\"} 1\n",
        "steering_dns_malformed_total{kind=\"ecs_family\"} 1\n",
        "steering_dns_malformed_total{kind=\"oversized\"} 1\n",
        "steering_dns_malformed_total{kind=\"short\"} 1\n",
        "steering_dns_malformed_total{kind=\"response\"} 1\n",
        "steering_dns_queries_total{rcode=\"FORMERR\"} 6\n",
        "steering_dns_queries_total{rcode=\"NOERROR\"} 6\n",
    ] {
        assert!(metrics.contains(want), "no `{want}` in\n{metrics}");
    }
}
