//! Procedures: the `pktgen` packet generator, the `search` step, the
//! `rfc6349` test, and step references (`{result:STEP.AGG(METRIC)}`), by
//! which a step takes a value an earlier step of its case measured.
//!
//! A reference is validated at `check` (the step exists, runs before, emits
//! the metric, the unit fits the key) and resolved by the executor just
//! before the step runs; [`NodeAction::set_quantity`] writes the value
//! into the action, checking what validation could not know yet (a size
//! out of range).

use std::time::Duration;

use netproof_sample::Unit;

use super::{Aggregate, Expectation, NodeAction, Span};

/// `kind = "pktgen"`: UDP frames at an exact packet rate (or one burst)
/// from one node to a receiver netproof opens on another node, each frame
/// carrying a sequence number and its send time.
#[derive(Debug, Clone, PartialEq)]
pub struct Pktgen {
    /// The sending node.
    pub from: String,
    /// The receiving node (a node: netproof opens the receiver there).
    pub to: String,
    /// Ethernet frame size in bytes as RFC 2544 counts it (headers and
    /// FCS); the UDP payload is the frame less 46 bytes (IPv4) or 66 (IPv6).
    pub frame: u32,
    /// The offered rate in bits/s of whole frames (frame × 8 × frames/s);
    /// `None` with `burst`: as fast as the sender can.
    pub rate: Option<u64>,
    /// Send this many frames back to back, then stop (RFC 2544 section
    /// 26.4); `None`: a constant rate for `duration`.
    pub burst: Option<u32>,
    /// How long a constant-rate trial sends.
    pub duration: Duration,
    /// How long the receiver waits for stragglers after the last frame.
    pub wait: Duration,
}

/// `kind = "search"`: a trial step run again and again while a binary
/// search moves one of its keys between bounds, for the highest value at
/// which every condition holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    /// The trial (any node action but another search), its searched key
    /// still at its validated default.
    pub trial: Box<NodeAction>,
    /// The key of the trial the search sets (`rate`, `frame`, `burst`, ...).
    pub param: &'static str,
    /// The key's unit.
    pub unit: Unit,
    /// The lower bound, in `unit`.
    pub min: f64,
    /// The upper bound, in `unit` (greater than `min`).
    pub max: f64,
    /// The search stops when the passing and failing values are this close.
    pub resolution: f64,
    /// The search stops after this many trials.
    pub max_trials: u32,
    /// What a trial must satisfy, judged over that trial's samples.
    pub condition: Vec<Expectation>,
    /// RFC 9004: the throughput (bits/s at the trial's frame size) for the
    /// corrected buffer time of a search over `pktgen`'s `burst`.
    pub throughput: Option<u64>,
}

/// `kind = "rfc6349"`: RFC 6349's TCP throughput test over a path whose
/// bottleneck bandwidth (and baseline RTT) earlier steps measured: one TCP
/// transfer of `bytes` to a receiver netproof opens on `to`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rfc6349 {
    /// The node that sends.
    pub from: String,
    /// The node that receives (netproof listens there).
    pub to: String,
    /// The bytes to transfer.
    pub bytes: u64,
    /// The bottleneck bandwidth, bits/s of frames as the link counts them.
    pub bottleneck: u64,
    /// The baseline RTT; `None`: the smallest of five TCP handshakes.
    pub rtt: Option<Duration>,
    /// The path MTU; `None`: the TCP connection's (TCP_INFO `pmtu`).
    pub mtu: Option<u32>,
    /// Bytes a frame adds to an IP packet as the bottleneck counts them
    /// (14 for Ethernet as the lab's links count it; 38 for Ethernet on
    /// the wire with preamble, FCS and gap).
    pub overhead: u32,
}

/// A key whose value an earlier step's measurement gives at run time.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRef {
    /// The key of this step it sets (`rate`).
    pub key: String,
    /// The step whose samples are summarised.
    pub step: String,
    /// How they are summarised.
    pub aggregate: Aggregate,
    /// The metric.
    pub metric: String,
    /// Label filters besides `step`.
    pub labels: Vec<(String, String)>,
    /// The unit of the summary (the key's unit).
    pub unit: Unit,
    /// What the summary is multiplied by (`* 0.9`), 1 unless written.
    pub factor: f64,
    /// The reference as written, for messages and reports.
    pub text: String,
    /// Where it is written.
    pub span: Span,
}

/// The keys of each step kind that take a quantity from a step result or
/// a search, with their units. One table for references, searches and
/// [`NodeAction::set_quantity`], so the three cannot disagree.
pub const QUANTITY_KEYS: &[(&str, &str, Unit)] = &[
    ("pktgen", "rate", Unit::BitsPerSecond),
    ("pktgen", "frame", Unit::Bytes),
    ("pktgen", "burst", Unit::Count),
    ("pktgen", "duration", Unit::Seconds),
    ("throughput", "rate", Unit::BitsPerSecond),
    ("throughput", "duration", Unit::Seconds),
    ("throughput", "bytes", Unit::Bytes),
    ("throughput", "length", Unit::Bytes),
    ("ping", "packets", Unit::Count),
    ("ping", "interval", Unit::Seconds),
    ("ping", "size", Unit::Bytes),
    ("udp_echo", "packets", Unit::Count),
    ("udp_echo", "interval", Unit::Seconds),
    ("udp_echo", "size", Unit::Bytes),
    ("search", "throughput", Unit::BitsPerSecond),
    ("rfc6349", "bottleneck", Unit::BitsPerSecond),
    ("rfc6349", "rtt", Unit::Seconds),
    ("rfc6349", "mtu", Unit::Bytes),
    ("rfc6349", "bytes", Unit::Bytes),
];

/// The unit of `kind`'s `key`, when it takes a quantity.
pub fn quantity_key(kind: &str, key: &str) -> Option<Unit> {
    QUANTITY_KEYS
        .iter()
        .find(|(k, name, _)| *k == kind && *name == key)
        .map(|(_, _, u)| *u)
}

/// Whether a step of `kind` emits `metric` (labelled with its name), for
/// the checks of references and search conditions.
pub fn emits(action: &NodeAction, metric: &str) -> bool {
    let family = metric.split('.').next().unwrap_or("");
    match action {
        NodeAction::Search(s) => family == "search" || emits(&s.trial, metric),
        NodeAction::Rfc6349(_) => family == "rfc6349" || family == "throughput",
        NodeAction::UdpEcho(u) => {
            family == "udp_echo" || (u.convergence && family == "convergence")
        }
        a => family == a.kind(),
    }
}

impl NodeAction {
    /// Sets the quantity `key` (one of [`QUANTITY_KEYS`] for this kind) to
    /// `value` in the key's unit; the error says why the value does not
    /// fit (a size out of range, a rate of zero).
    pub fn set_quantity(&mut self, key: &str, value: f64) -> Result<(), String> {
        if !value.is_finite() || value < 0.0 {
            return Err(format!("`{key}` cannot be {value}"));
        }
        let whole = |lo: u64, hi: u64| -> Result<u64, String> {
            let v = value.round();
            if v < lo as f64 || v > hi as f64 {
                return Err(format!("`{key}` = {v} is outside {lo}..={hi}"));
            }
            Ok(v as u64)
        };
        let secs = || -> Result<Duration, String> {
            if value <= 0.0 || value > 86_400.0 {
                return Err(format!(
                    "`{key}` = {value} s is not a duration above 0 and within a day"
                ));
            }
            Ok(Duration::from_secs_f64(value))
        };
        let kind = self.kind();
        match (self, key) {
            (NodeAction::Pktgen(p), "rate") => p.rate = Some(whole(1, u64::MAX / 2)?),
            (NodeAction::Pktgen(p), "frame") => p.frame = whole(64, 9216)? as u32,
            (NodeAction::Pktgen(p), "burst") => p.burst = Some(whole(1, 100_000_000)? as u32),
            (NodeAction::Pktgen(p), "duration") => p.duration = secs()?,
            (NodeAction::Throughput(t), "rate") => t.rate = Some(whole(1, u64::MAX / 2)?),
            (NodeAction::Throughput(t), "duration") => t.duration = secs()?,
            (NodeAction::Throughput(t), "bytes") => t.bytes = Some(whole(1, u64::MAX / 2)?),
            (NodeAction::Throughput(t), "length") => {
                t.length = Some(whole(16, 16 * 1024 * 1024)? as usize)
            }
            (NodeAction::Ping(p), "packets") => p.packets = whole(1, 1_000_000)? as u32,
            (NodeAction::Ping(p), "interval") => p.interval = secs()?,
            (NodeAction::Ping(p), "size") => p.size = whole(0, 65_507)? as usize,
            (NodeAction::UdpEcho(u), "packets") => u.packets = whole(1, 1_000_000)? as u32,
            (NodeAction::UdpEcho(u), "interval") => u.interval = secs()?,
            (NodeAction::UdpEcho(u), "size") => u.size = whole(24, 65_507)? as usize,
            (NodeAction::Search(s), "throughput") => s.throughput = Some(whole(1, u64::MAX / 2)?),
            (NodeAction::Rfc6349(r), "bottleneck") => r.bottleneck = whole(1, u64::MAX / 2)?,
            (NodeAction::Rfc6349(r), "rtt") => r.rtt = Some(secs()?),
            (NodeAction::Rfc6349(r), "mtu") => r.mtu = Some(whole(68, 65_535)? as u32),
            (NodeAction::Rfc6349(r), "bytes") => r.bytes = whole(1, u64::MAX / 2)?,
            _ => return Err(format!("a `{kind}` step has no quantity `{key}`")),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pktgen() -> NodeAction {
        NodeAction::Pktgen(Pktgen {
            from: "a".into(),
            to: "b".into(),
            frame: 64,
            rate: Some(1_000_000),
            burst: None,
            duration: Duration::from_secs(1),
            wait: Duration::from_millis(500),
        })
    }

    #[test]
    fn every_quantity_key_can_be_set_on_its_kind() {
        for (kind, key, unit) in QUANTITY_KEYS {
            if *kind != "pktgen" {
                continue;
            }
            let mut a = pktgen();
            let v = match unit {
                Unit::Seconds => 2.0,
                Unit::Bytes => 128.0,
                _ => 1000.0,
            };
            a.set_quantity(key, v)
                .unwrap_or_else(|e| panic!("{key}: {e}"));
        }
        let mut a = pktgen();
        a.set_quantity("frame", 1517.6).unwrap();
        a.set_quantity("rate", 2.5e6).unwrap();
        let NodeAction::Pktgen(p) = a else { panic!() };
        assert_eq!((p.frame, p.rate), (1518, Some(2_500_000)));
    }

    #[test]
    fn values_that_do_not_fit_are_refused_with_the_range() {
        let mut a = pktgen();
        let e = a.set_quantity("frame", 20.0).unwrap_err();
        assert!(e.contains("outside 64..=9216"), "{e}");
        assert!(a.set_quantity("rate", f64::NAN).is_err());
        assert!(a.set_quantity("duration", 0.0).is_err());
        let e = a.set_quantity("packets", 3.0).unwrap_err();
        assert!(e.contains("no quantity `packets`"), "{e}");
    }

    #[test]
    fn a_search_emits_its_own_metrics_and_its_trials() {
        let s = NodeAction::Search(Search {
            trial: Box::new(pktgen()),
            param: "rate",
            unit: Unit::BitsPerSecond,
            min: 1.0,
            max: 2.0,
            resolution: 0.1,
            max_trials: 5,
            condition: Vec::new(),
            throughput: None,
        });
        assert!(emits(&s, "search.rate"));
        assert!(emits(&s, "pktgen.loss"));
        assert!(!emits(&s, "ping.rtt"));
        assert!(emits(&pktgen(), "pktgen.delay"));
        assert!(!emits(&pktgen(), "search.rate"));
    }
}
