//! Integration tests of the results database, through its public API only.
//!
//! One test binary with modules (so the crate links once): each module pins
//! one promise of the store. Tests of a promise both backends make run once
//! per backend (`on_both_backends!`, see [`backend`]): on a temporary SQLite
//! file, and on a private PostgreSQL cluster the test starts and stops.
//! Every wait is bounded.

mod backend;
mod batching;
mod copy;
mod postgres;
mod recovery;
mod references;
mod round_trip;
mod schema;

use std::collections::BTreeMap;
use std::path::PathBuf;

use netproof_sample::Timestamp;
use netproof_store::{NewRun, Owner, Topology, TopologyLink, TopologyNode};

/// A temporary directory and a database path inside it (the file does not
/// exist yet).
pub fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("netproof.db");
    (dir, path)
}

/// A run as the runner would begin it, owned by `owner`.
pub fn new_run(owner: Owner, started: i64) -> NewRun {
    NewRun {
        plan_name: "steering-failover".into(),
        plan_path: "plans/cdn/steering-failover.toml".into(),
        plan_text: "[plan]\nname = \"steering-failover\"\n".into(),
        plan_hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
        summary: "Clients of ISP A move to the IXP edge within 5 s".into(),
        backend: "local".into(),
        // All 64 bits in use: the seed column must not lose the top one.
        seed: 0xdead_beef_cafe_f00d,
        seed_source: "drawn".into(),
        netproof_version: "0.1.0".into(),
        command_line: "netproof run plans/cdn/steering-failover.toml".into(),
        host: BTreeMap::from([
            ("kernel".to_string(), "6.8.0".to_string()),
            ("cpus".to_string(), "2".to_string()),
        ]),
        started: Timestamp(started),
        owner,
        topology: Topology {
            nodes: vec![TopologyNode {
                name: "edge-a".into(),
                role: "host".into(),
                addresses: vec!["198.18.0.1/31".into(), "2001:2::1/127".into()],
                services: vec!["edge".into()],
                sysctls: vec![],
            }],
            links: vec![TopologyLink {
                ends: ["client-a".into(), "edge-a".into()],
                mechanism: "emulator".into(),
                properties: "delay 8ms, loss 0.1%".into(),
            }],
        },
    }
}
