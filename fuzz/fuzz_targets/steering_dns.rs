//! Steering's DNS request path on any bytes, from any source address, over
//! UDP or TCP: it never panics, and what it sends back is a DNS message
//! hickory can read, a response (QR) with the query's ID, within the UDP
//! size it promised (512 without EDNS, 1232 at most).
//!
//! Input: one byte choosing the transport (low bit) and the source address
//! (the rest: on-net, exchange-only or IPv6 clients), then the packet.
//! Seeds (real queries: plain, ECS v4 and v6, apex NS and SOA, NXDOMAIN,
//! an edge host, a name outside the zone) are in `corpus/steering_dns`:
//! `scripts/fuzz.sh 180 steering_dns`.

#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType};
use libfuzzer_sys::fuzz_target;
use netproof_proto::steering::{
    Contents, EdgeReport, Health, LearnedRoute, Origin, SteeringConfig,
};
use netproof_steering::decision::Steering;
use netproof_steering::dns::{MAX_UDP, Transport, Zone};

const CONFIG: &str = r#"
[listen]
dns = ["127.0.0.1:0"]
[dns]
zone = "video.cdn.test"
steered = ["video.cdn.test", "www.video.cdn.test"]
answers = 3
ns = [{ name = "ns.video.cdn.test", address = "198.18.0.9" }, { name = "ns6.video.cdn.test", address = "2001:2::9" }]
[[edge]]
name = "a1"
host = "a1.video.cdn.test"
addresses = ["198.18.1.2", "2001:2::1:2"]
kind = "embedded"
url = "https://a1.video.cdn.test"
[[edge]]
name = "a2"
host = "a2.isp.video.cdn.test"
addresses = ["198.18.1.3"]
kind = "embedded"
url = "https://a2.video.cdn.test"
[[edge]]
name = "ix"
host = "ix.video.cdn.test"
addresses = ["198.18.3.2", "2001:2::3:2"]
kind = "exchange"
url = "https://ix.video.cdn.test"
"#;

fn world() -> &'static (Zone, Steering) {
    static WORLD: OnceLock<(Zone, Steering)> = OnceLock::new();
    WORLD.get_or_init(|| {
        let config: SteeringConfig = toml::from_str(CONFIG).expect("the config parses");
        config.validate().expect("the config is valid");
        let mut s = Steering::new(&config);
        for (edge, prefixes) in [
            ("a1", &["198.18.64.0/20", "2001:2:40::/48"][..]),
            ("a2", &["198.18.64.0/22", "198.18.70.0/24"][..]),
        ] {
            let routes = prefixes
                .iter()
                .map(|p| LearnedRoute {
                    prefix: p.parse().unwrap(),
                    local_pref: 100,
                    as_path_len: 1,
                    origin: Origin::Igp,
                    med: 0,
                    ebgp: true,
                })
                .collect();
            let report = EdgeReport {
                edge: edge.into(),
                seq: 1,
                health: Health::Ok,
                load: 0.2,
                routes,
                contents: Contents::default(),
            };
            s.report(report, Duration::ZERO)
                .expect("the report is taken");
        }
        (Zone::new(config.dns.as_ref().unwrap(), &config.edges), s)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, packet)) = data.split_first() else {
        return;
    };
    let (zone, steering) = world();
    let transport = if first & 1 == 0 {
        Transport::Udp
    } else {
        Transport::Tcp
    };
    let source = match first >> 1 {
        0..=42 => "198.18.64.9",
        43..=85 => "198.18.200.1",
        _ => "2001:2:40::7",
    }
    .parse()
    .unwrap();
    let out = zone.respond(packet, source, transport, steering, Duration::from_secs(1));
    let Some(reply) = out.reply else {
        return;
    };
    let m = Message::from_vec(&reply).expect("the reply is a DNS message hickory reads");
    assert_eq!(m.metadata.message_type, MessageType::Response);
    assert_eq!(m.metadata.id.to_be_bytes(), [packet[0], packet[1]]);
    if transport == Transport::Udp {
        assert!(
            reply.len() <= usize::from(MAX_UDP),
            "{} bytes over UDP",
            reply.len()
        );
    }
});
