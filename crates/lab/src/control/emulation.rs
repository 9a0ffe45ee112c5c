//! What the emulated links did, for the run's self-check: each emulated
//! link's two ends and planned parameters (so the executor can probe what
//! the link applies), and the emulator's release lateness since the case
//! began (so a case whose emulator ran late is flagged: its timing results
//! may be distorted).

use std::net::Ipv4Addr;
use std::sync::Weak;
use std::time::Duration;

use netproof_link::Direction;
use netproof_link::LinkParams;
use netproof_link::emulator::Lateness;

use super::{Control, lock};

/// One emulated link, as a self-check probes it.
#[derive(Debug, Clone)]
pub struct EmulatedLink {
    /// `a--b`, as its samples name it.
    pub name: String,
    /// The two node names.
    pub ends: [String; 2],
    /// Each end's IPv4 address on the link (one /31).
    pub v4: [Ipv4Addr; 2],
    /// What the plan set, a to b then b to a.
    pub params: [LinkParams; 2],
}

/// An emulated link's release lateness over one case.
#[derive(Debug, Clone)]
pub struct LinkLateness {
    /// `a--b`.
    pub link: String,
    /// Releases since the case began, both directions.
    pub lateness: Lateness,
    /// The larger of the plan's two delays (the scale lateness distorts).
    pub delay: Duration,
}

impl Control {
    /// The lab's emulated links whose emulator is running.
    pub fn emulated_links(&self) -> Vec<EmulatedLink> {
        let Some(parts) = &self.netns else {
            return Vec::new();
        };
        parts
            .links
            .iter()
            .filter(|l| l.emulator.as_ref().and_then(Weak::upgrade).is_some())
            .map(|l| EmulatedLink {
                name: format!("{}--{}", l.ends[0], l.ends[1]),
                ends: l.ends.clone(),
                v4: l.addrs.v4,
                params: [
                    l.plan.direction(Direction::AtoB).params(),
                    l.plan.direction(Direction::BtoA).params(),
                ],
            })
            .collect()
    }

    /// Remembers every emulator's lateness so far, as a case begins.
    pub(super) fn mark_lateness(&self) {
        let Some(parts) = &self.netns else {
            return;
        };
        let mut marks = std::collections::BTreeMap::new();
        for (i, l) in parts.links.iter().enumerate() {
            if let Some(e) = l.emulator.as_ref().and_then(Weak::upgrade)
                && let Ok(s) = e.stats()
            {
                marks.insert(i, s.lateness);
            }
        }
        lock(&self.state).lateness_mark = marks;
    }

    /// Each emulated link's lateness since the case began (since the lab
    /// came up, for a link not marked then).
    pub fn case_lateness(&self) -> Vec<LinkLateness> {
        let Some(parts) = &self.netns else {
            return Vec::new();
        };
        let marks = lock(&self.state).lateness_mark.clone();
        let mut out = Vec::new();
        for (i, l) in parts.links.iter().enumerate() {
            let Some(e) = l.emulator.as_ref().and_then(Weak::upgrade) else {
                continue;
            };
            let Ok(stats) = e.stats() else {
                continue;
            };
            let lateness = match marks.get(&i) {
                Some(mark) => stats.lateness.since(mark),
                None => stats.lateness,
            };
            let delay = Direction::BOTH
                .iter()
                .map(|&d| l.plan.direction(d).delay.unwrap_or_default())
                .max()
                .unwrap_or_default();
            out.push(LinkLateness {
                link: format!("{}--{}", l.ends[0], l.ends[1]),
                lateness,
                delay,
            });
        }
        out
    }
}
