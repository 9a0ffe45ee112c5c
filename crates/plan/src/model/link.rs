//! Link impairments as the plan gives them: per direction, only what is
//! set, and how they become the emulator's parameters.

use std::sync::Arc;
use std::time::Duration;

use netproof_sample::Unit;

use super::{
    Chance, Codel, Direction, Distribution, LinkParams, Loss, QueueLimit, Rate, Reorder, Trace,
};

/// What a link does to the frames crossing it in one direction, as far as
/// the plan says (`None`: not set). Meanings and units are netem's; see
/// [`netproof_proto::link`] and the plan language reference.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Impairment {
    /// One-way propagation delay.
    pub delay: Option<Duration>,
    /// Delay variation (a standard deviation; a half-width for uniform).
    pub jitter: Option<Duration>,
    /// The distribution jitter is drawn from.
    pub distribution: Option<Distribution>,
    /// Correlation of successive delays, 0..=1.
    pub delay_correlation: Option<f64>,
    /// Keep frames in order under jitter.
    pub keep_order: Option<bool>,
    /// The loss model.
    pub loss: Option<Loss>,
    /// Duplication.
    pub duplicate: Option<Chance>,
    /// Corruption (one flipped bit).
    pub corrupt: Option<Chance>,
    /// Reordering around the delay line.
    pub reorder: Option<Reorder>,
    /// Rate limit in bits per second.
    pub rate: Option<u64>,
    /// Bytes added to each packet when its serialization time is computed.
    pub overhead: Option<i32>,
    /// The bottleneck queue's limit.
    pub queue: Option<QueueLimit>,
    /// CoDel on the bottleneck queue: `Some(Some(_))` on, `Some(None)`
    /// written off (`codel = false`, which a `link_set` uses to turn it
    /// off), `None` not written.
    pub codel: Option<Option<Codel>>,
    /// A recorded link to replay.
    pub trace: Option<PlanTrace>,
}

/// A trace file a link replays, read when the plan is checked.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanTrace {
    /// The file, as resolved against the plan's directory.
    pub path: std::path::PathBuf,
    /// Its delivery opportunities.
    pub trace: Arc<Trace>,
}

impl Impairment {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.names().is_empty()
    }

    /// The names of the keys that are set, in the reference's order.
    pub fn names(&self) -> Vec<&'static str> {
        let set = [
            ("delay", self.delay.is_some()),
            ("jitter", self.jitter.is_some()),
            ("distribution", self.distribution.is_some()),
            ("delay_correlation", self.delay_correlation.is_some()),
            ("keep_order", self.keep_order.is_some()),
            ("loss", self.loss.is_some()),
            ("duplicate", self.duplicate.is_some()),
            ("corrupt", self.corrupt.is_some()),
            ("reorder", self.reorder.is_some()),
            ("rate", self.rate.is_some()),
            ("overhead", self.overhead.is_some()),
            ("queue", self.queue.is_some()),
            ("codel", self.codel.is_some()),
            ("trace", self.trace.is_some()),
        ];
        set.iter().filter(|(_, on)| *on).map(|(n, _)| *n).collect()
    }

    /// Whether anything but a rate is set: only the link emulator does that
    /// (a rate alone may be the kernel's `tbf`).
    pub fn needs_emulator(&self) -> bool {
        self.names().iter().any(|n| *n != "rate")
    }

    /// The values that are set: `delay 20.0 ms, jitter 1.00 ms, rate 10.0
    /// Mbit/s`; keys without a short form are named.
    pub fn describe(&self) -> String {
        let mut v = Vec::new();
        if let Some(d) = self.delay {
            v.push(format!("delay {}", Unit::Seconds.format(d.as_secs_f64())));
        }
        if let Some(j) = self.jitter {
            v.push(format!("jitter {}", Unit::Seconds.format(j.as_secs_f64())));
        }
        if let Some(Loss::Random { p, .. }) = &self.loss {
            v.push(format!("loss {}", Unit::Ratio.format(*p)));
        }
        if let Some(r) = self.rate {
            v.push(format!("rate {}", Unit::BitsPerSecond.format(r as f64)));
        }
        for n in self.names() {
            let shown = match n {
                "delay" | "jitter" | "rate" => true,
                "codel" if self.codel == Some(None) => {
                    v.push("codel off".to_string());
                    true
                }
                "loss" => matches!(self.loss, Some(Loss::Random { .. })),
                _ => false,
            };
            if !shown {
                v.push(n.to_string());
            }
        }
        v.join(", ")
    }

    /// This impairment with every field `over` sets replaced by `over`'s.
    pub fn overlay(&self, over: &Impairment) -> Impairment {
        fn pick<T: Clone>(base: &Option<T>, over: &Option<T>) -> Option<T> {
            over.clone().or_else(|| base.clone())
        }
        Impairment {
            delay: pick(&self.delay, &over.delay),
            jitter: pick(&self.jitter, &over.jitter),
            distribution: pick(&self.distribution, &over.distribution),
            delay_correlation: pick(&self.delay_correlation, &over.delay_correlation),
            keep_order: pick(&self.keep_order, &over.keep_order),
            loss: pick(&self.loss, &over.loss),
            duplicate: pick(&self.duplicate, &over.duplicate),
            corrupt: pick(&self.corrupt, &over.corrupt),
            reorder: pick(&self.reorder, &over.reorder),
            rate: pick(&self.rate, &over.rate),
            overhead: pick(&self.overhead, &over.overhead),
            queue: pick(&self.queue, &over.queue),
            codel: pick(&self.codel, &over.codel),
            trace: pick(&self.trace, &over.trace),
        }
    }

    /// The emulator's parameters: what is set, defaults for the rest.
    pub fn params(&self) -> LinkParams {
        LinkParams {
            delay: self.delay.unwrap_or_default(),
            jitter: self.jitter.unwrap_or_default(),
            distribution: self.distribution.unwrap_or_default(),
            delay_correlation: self.delay_correlation.unwrap_or_default(),
            keep_order: self.keep_order.unwrap_or_default(),
            loss: self.loss.clone().unwrap_or_default(),
            duplicate: self.duplicate.unwrap_or_default(),
            corrupt: self.corrupt.unwrap_or_default(),
            reorder: self.reorder,
            rate: self.rate.map(|bits_per_second| Rate {
                bits_per_second,
                overhead: self.overhead.unwrap_or(0),
            }),
            trace: self.trace.as_ref().map(|t| t.trace.clone()),
            queue: self.queue.unwrap_or_default(),
            codel: self.codel.flatten(),
        }
    }
}

/// A link's impairments: both ways, and what differs per direction.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LinkImpairments {
    /// What applies both ways (the link table's own keys).
    pub both: Impairment,
    /// Overrides from the first end toward the second (`a_to_b`).
    pub a_to_b: Impairment,
    /// Overrides from the second end toward the first (`b_to_a`).
    pub b_to_a: Impairment,
}

impl LinkImpairments {
    /// What applies in direction `d`.
    pub fn direction(&self, d: Direction) -> Impairment {
        match d {
            Direction::AtoB => self.both.overlay(&self.a_to_b),
            Direction::BtoA => self.both.overlay(&self.b_to_a),
        }
    }

    /// Whether nothing is set in either direction.
    pub fn is_empty(&self) -> bool {
        self.both.is_empty() && self.a_to_b.is_empty() && self.b_to_a.is_empty()
    }

    /// Whether either direction needs the link emulator.
    pub fn needs_emulator(&self) -> bool {
        self.both.needs_emulator() || self.a_to_b.needs_emulator() || self.b_to_a.needs_emulator()
    }

    /// The same rate both ways, if that is all a kernel `tbf` has to do.
    pub fn symmetric_rate(&self) -> Option<u64> {
        let (a, b) = (
            self.direction(Direction::AtoB).rate,
            self.direction(Direction::BtoA).rate,
        );
        if a == b { a } else { None }
    }

    /// These impairments with `change` laid over them, direction by
    /// direction (a `link_set` fault).
    pub fn overlay(&self, change: &LinkImpairments) -> LinkImpairments {
        LinkImpairments {
            both: Impairment::default(),
            a_to_b: self
                .direction(Direction::AtoB)
                .overlay(&change.direction(Direction::AtoB)),
            b_to_a: self
                .direction(Direction::BtoA)
                .overlay(&change.direction(Direction::BtoA)),
        }
    }

    /// The values that are set, for events and reports:
    /// `delay 20.0 ms, loss 1.00 %; a→b rate 10.0 Mbit/s`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let both = self.both.describe();
        if !both.is_empty() {
            parts.push(both);
        }
        for (label, i) in [("a→b", &self.a_to_b), ("b→a", &self.b_to_a)] {
            let t = i.describe();
            if !t.is_empty() {
                parts.push(format!("{label} {t}"));
            }
        }
        parts.join("; ")
    }

    /// A one-line summary such as `delay, loss | b→a: rate`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        let both = self.both.names().join(", ");
        if !both.is_empty() {
            parts.push(both);
        }
        for (label, i) in [("a→b", &self.a_to_b), ("b→a", &self.b_to_a)] {
            let names = i.names().join(", ");
            if !names.is_empty() {
                parts.push(format!("{label}: {names}"));
            }
        }
        parts.join(" | ")
    }
}
