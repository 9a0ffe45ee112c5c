//! What an HTTP front serves from, and the one seam between the front (TLS,
//! sites, ranges, headers) and the store behind it: the origin's synthetic
//! catalogue, or an edge's cache that fills from ranked sources.
//!
//! A front asks [`Objects::open`] for an object by [`ObjectKey`] (site and
//! path, never path alone: a cache keyed without the site serves one
//! site's bytes to another) and gets its metadata at once and a [`Body`] it
//! reads by offset. A body may still be filling: [`BodyReader::read_at`]
//! waits until the bytes at the offset have arrived, so a range inside an
//! object that is still filling is served without a second upstream fetch.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use thiserror::Error;

/// A boxed future, for the object-safe traits below.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An object: which site it belongs to and its path on that site.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey {
    /// The site's name as configured (not the Host header as sent).
    pub site: Arc<str>,
    /// The request path, without the query.
    pub path: Arc<str>,
}

/// What is known about an object as soon as it is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Its whole length in bytes.
    pub len: u64,
    /// A strong entity tag, quotes included (`"t7-f3-1a2b"`).
    pub etag: String,
    /// When it last changed; stable for the catalogue's synthetic files.
    pub last_modified: SystemTime,
    /// Its media type.
    pub content_type: String,
}

/// How the store answered an open, for the access log and the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    /// Served from what the store already held whole.
    Hit,
    /// The request started a fill.
    Miss,
    /// The request joined a fill already under way (a coalesced miss).
    Filling,
    /// Not a cache: the origin's catalogue.
    Origin,
}

/// An opened object.
#[derive(Clone)]
pub struct Opened {
    /// Its metadata.
    pub meta: ObjectMeta,
    /// Its bytes, possibly still arriving.
    pub body: Body,
    /// How the store answered.
    pub status: CacheStatus,
    /// The fill source the bytes come from (a configured source's name),
    /// when they come from one.
    pub source: Option<Arc<str>>,
}

/// Why an object could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OpenError {
    /// No such object on this site (404).
    #[error("no object `{path}` on site `{site}`")]
    NotFound {
        /// The site.
        site: Arc<str>,
        /// The path.
        path: Arc<str>,
    },
    /// Every source failed or stalled (502 or 504).
    #[error("no fill source could serve `{path}`: {why}")]
    Upstream {
        /// The path.
        path: Arc<str>,
        /// What each source did, in rank order.
        why: String,
        /// Whether the last failure was a stall (504) rather than an error.
        timed_out: bool,
    },
    /// The store will not take more work now (503).
    #[error("busy: {0}")]
    Busy(String),
}

/// Why reading a body failed part-way.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BodyError {
    /// The fill feeding the body failed after the response had started;
    /// the front must abort the response (not pad or truncate silently).
    #[error("the fill of this object failed at byte {at}: {why}")]
    FillFailed {
        /// The offset the fill had reached.
        at: u64,
        /// Why it failed.
        why: String,
    },
    /// A read beyond the object's length.
    #[error("offset {offset} is beyond the object's {len} bytes")]
    OutOfRange {
        /// The offset asked for.
        offset: u64,
        /// The object's length.
        len: u64,
    },
}

/// An object's bytes, read by offset.
pub trait BodyReader: Send + Sync {
    /// Up to `max` bytes from `offset` (at least one when `offset` is below
    /// the length), waiting while a fill has not yet reached `offset`.
    fn read_at(&self, offset: u64, max: usize) -> BoxFuture<'_, Result<Bytes, BodyError>>;
}

/// A shared body.
pub type Body = Arc<dyn BodyReader>;

/// A store a front serves from.
pub trait Objects: Send + Sync + 'static {
    /// Opens `key`, filling it first if the store must.
    fn open<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<Opened, OpenError>>;

    /// Opens `key` only if the store holds it now, never filling: a
    /// request with `Cache-Control: only-if-cached` (RFC 9111 §5.2.1.7),
    /// which is how an edge asks a peer. A store that does not hold it
    /// answers [`OpenError::Upstream`] with `timed_out` (504, as the RFC
    /// says). The default suits a store that holds everything it has (the
    /// origin): an ordinary open.
    fn open_cached<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<Opened, OpenError>> {
        self.open(key)
    }
}
