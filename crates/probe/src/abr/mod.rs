//! A streaming client: plays a title like a video player, segment by
//! segment, and measures what its viewer would see.
//!
//! Laid out like the other probes: [`manifest`] is the presentation and
//! its parser (no I/O, never panics), [`adapt`] the adaptation algorithms
//! (throughput-based with a harmonic mean, and BBA-0), [`player`] the
//! sans-IO session (buffer, playback, stalls, QoE) on a clock it is
//! given, [`cmcd`] the CTA-5004 client data sent with each request, and
//! [`client`] the thin tokio layer that fetches segments over the HTTP
//! probe from a ranked list of servers.
//!
//! Not done: live streams, parallel segment downloads, separate audio,
//! HLS or DASH manifests (the JSON manifest of [`manifest`] and the
//! reference CDN's catalogue layout stand in for them).

pub mod adapt;
pub mod client;
pub mod cmcd;
pub mod manifest;
pub mod player;

pub use adapt::Algorithm;
pub use client::{
    CmcdMode, Server, SessionConfig, SessionOutcome, cache_result, fetch_manifest, play,
};
pub use cmcd::Cmcd;
pub use manifest::{ManifestError, Presentation, Rendition, SegmentRef};
pub use player::{Next, Player, PlayerConfig, SegmentRecord, SessionSummary, Stall};
