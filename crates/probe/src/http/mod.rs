//! HTTP(S): a timed request with the target address, the Host header and
//! the TLS server name set independently, and an open-loop load mode.
//!
//! Laid out like the other probes: the URL and byte-range codecs are the
//! shared value types of `netproof-proto` (the plan validates into them),
//! re-exported here; [`report`] turns what a request measured into samples
//! without doing I/O, [`tls`] owns trust and the certificate the server
//! presented, and [`client`] and [`load`] are the tokio layers that drive
//! hyper and rustls over a stream the caller's [`Connector`] makes (inside
//! a lab node's namespace on the netns backend).
//!
//! Metrics: `http.dns`, `http.connect`, `http.tls`, `http.ttfb`,
//! `http.transfer`, `http.total`, `http.bytes`, `http.goodput`,
//! `http.status`, `http.cert_names`, `http.cert_expiry`, and in load mode
//! `http.latency`. Not done here: redirects, request bodies, cookies,
//! HTTP/3, client certificates.

pub mod client;
pub mod load;
pub mod report;
pub mod tls;

pub use client::{
    BodyCheck, Client, Config, ConnectFuture, Connector, Endpoint, SetupError, Sni, Summary, direct,
};
pub use load::{LoadConfig, LoadError, LoadSummary, Quantiles};
pub use netproof_proto::range::{ByteRange, ContentRange, RangeError};
pub use netproof_proto::url::{Host, Scheme, Url, UrlError};
pub use report::{Failure, Phase, Proto, RequestReport};
pub use tls::{CertInfo, TlsSetupError, Trust};
