//! The step kinds that load a path and measure what a user feels: `rrul`
//! (flent's Realtime Response Under Load), `rpm` (responsiveness,
//! draft-ietf-ippm-responsiveness) and `abr` (a streaming video client).

use std::time::Duration;

use super::Url;
use super::step::{CaFile, Target};

/// `kind = "rrul"`: four TCP flows each way plus UDP and ICMP latency
/// probes, after an idle phase of latency probes alone.
#[derive(Debug, Clone, PartialEq)]
pub struct Rrul {
    /// The node that runs the flows and probes.
    pub from: String,
    /// The far end: iperf3 servers and a UDP echo responder on it.
    pub to: Target,
    /// The iperf3 server that receives the uploads.
    pub upload_port: u16,
    /// The iperf3 server that sends the downloads (iperf3 runs one test
    /// at a time, so the two directions need two servers).
    pub download_port: u16,
    /// The UDP echo responder.
    pub echo_port: u16,
    /// TCP flows per direction.
    pub flows: u16,
    /// Latency probes alone, before the load.
    pub idle: Duration,
    /// How long the load runs (latency probes beside it).
    pub duration: Duration,
    /// Time between latency probes.
    pub interval: Duration,
    /// ICMP echo beside the UDP probes.
    pub ping: bool,
}

/// `kind = "rpm"`: responsiveness under working conditions.
#[derive(Debug, Clone, PartialEq)]
pub struct Rpm {
    /// The node that runs the test.
    pub from: String,
    /// Where to connect (the URLs' host).
    pub to: Target,
    /// The port connected to.
    pub port: u16,
    /// The large object the load connections download.
    pub load_url: Url,
    /// The small object the probes ask for.
    pub probe_url: Url,
    /// The Host header and TLS server name, when not the URL's host.
    pub host: Option<String>,
    /// The CA to verify the server against (https).
    pub ca: Option<CaFile>,
    /// Accept any certificate.
    pub insecure: bool,
    /// Load-generating connections.
    pub connections: u32,
    /// Idle phase.
    pub idle: Duration,
    /// Loaded phase.
    pub duration: Duration,
    /// Time between probe rounds.
    pub interval: Duration,
}

/// One server of an `abr` step's ranked list.
#[derive(Debug, Clone, PartialEq)]
pub struct AbrServer {
    /// Scheme, host, port and path prefix.
    pub url: Url,
    /// Where to connect: the URL's host (a node or an address).
    pub to: Target,
}

/// What an `abr` step plays.
#[derive(Debug, Clone, PartialEq)]
pub enum AbrContent {
    /// The reference CDN's catalogue layout,
    /// `/t/{title}/{kbps}k/{segment:04}.m4s`.
    Catalogue {
        /// The title.
        title: u32,
        /// Its bitrates, kbit/s.
        bitrates: Vec<u32>,
        /// Segments per bitrate.
        segments: u32,
        /// Media time per segment.
        segment: Duration,
    },
    /// A JSON manifest fetched from the servers at this path.
    Manifest {
        /// Its path.
        path: String,
    },
    /// Renditions written in the plan.
    List {
        /// Media time per segment.
        segment: Duration,
        /// `(kbps, segment paths)` per rendition.
        renditions: Vec<(u32, Vec<String>)>,
    },
}

/// The adaptation algorithm of an `abr` step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbrAlgorithm {
    /// Harmonic mean of recent segment throughputs.
    Throughput,
    /// BBA-0, buffer-based.
    Bba,
}

/// How an `abr` step sends CMCD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbrCmcd {
    /// Not at all.
    Off,
    /// A `CMCD=` query argument.
    Query,
    /// `CMCD-*` headers.
    Headers,
}

/// `kind = "abr"`: a streaming session.
#[derive(Debug, Clone, PartialEq)]
pub struct Abr {
    /// The node that plays.
    pub from: String,
    /// The servers, best first.
    pub servers: Vec<AbrServer>,
    /// The Host header and TLS server name, when not each URL's host.
    pub host: Option<String>,
    /// The CA to verify servers against (https).
    pub ca: Option<CaFile>,
    /// Accept any certificate.
    pub insecure: bool,
    /// HTTP/2.
    pub http2: bool,
    /// What is played.
    pub content: AbrContent,
    /// The adaptation algorithm.
    pub algorithm: AbrAlgorithm,
    /// The buffer's capacity.
    pub buffer: Duration,
    /// Buffer needed to start playing (one segment when `None`).
    pub startup: Option<Duration>,
    /// CMCD.
    pub cmcd: AbrCmcd,
    /// Verify bytes against the catalogue of this seed.
    pub verify: Option<u64>,
    /// Limit on each segment request.
    pub request_timeout: Duration,
}
