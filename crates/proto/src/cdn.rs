//! The reference CDN's configuration: what `netproof cdn origin --config
//! FILE` and `netproof cdn edge --config FILE` read, and what a plan's
//! `[[service]]` tables will validate into.
//!
//! Two layers, as everywhere in netproof: serde types that mirror the TOML
//! (unknown keys are errors; sizes and durations are parsed as they are
//! read, so a bad `"12 parsecs"` fails at its own key), then
//! [`OriginConfig::validate`] / [`EdgeConfig::validate`], which check what
//! one key cannot check alone (a site named twice, an https listener with a
//! site that has no certificate, a default site that does not exist) and
//! report every problem at once, each naming its key path
//! (`site[1].cert`). Nothing here reads a file: whether a certificate
//! parses is the front's business, at start, per site.
//!
//! ```toml
//! admin = "127.0.0.1:9100"
//! access_log = true             # one JSON line per request on stdout
//! limits = { max_connections = 10000, header_read_timeout = "10s" }
//! [listen]
//! https = ["127.0.0.1:8443"]
//! http = ["127.0.0.1:8080"]
//! [tls]
//! default_site = "video"        # absent: a client without a known SNI is refused
//! [[site]]
//! name = "video.cdn.test"       # the site's key in caches and logs
//! names = ["*.video.cdn.test"]  # more Host/SNI names; one-label wildcards
//! cert = "certs/video.cdn.test.pem"
//! key = "certs/video.cdn.test.key"
//! [catalogue]
//! seed = 42
//! titles = 100
//! bitrates_kbps = [500, 1500, 4000]
//! segments = 30
//! segment_ms = 2000
//! zipf = 0.9
//! [knobs]                       # origin only
//! latency = "20ms"
//! error_rate = 0.01
//! stall = { after = "64KiB", for = "3s" }
//! [fill]                        # edge only
//! sources = [{ name = "tier", url = "https://tier.cdn.test:8443", kind = "tier" }]
//! cache = { memory = "256MiB", policy = "sieve" }
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

use crate::url::Url;

pub mod load;
pub mod report;

/// `netproof cdn origin`'s configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OriginConfig {
    /// Where to serve.
    pub listen: Listen,
    /// The admin endpoint (`/health`, `/metrics`, `/drain`), if any.
    #[serde(default)]
    pub admin: Option<SocketAddr>,
    /// One JSON line per request on stdout.
    #[serde(default)]
    pub access_log: bool,
    /// Limits on what clients may make the front hold.
    #[serde(default)]
    pub limits: ClientLimits,
    /// What a client without a known server name gets.
    #[serde(default)]
    pub tls: Tls,
    /// The sites served, at least one.
    #[serde(rename = "site", default)]
    pub sites: Vec<Site>,
    /// The synthetic catalogue every site serves (with its own seed).
    pub catalogue: Catalogue,
    /// Added latency, errors and a stall, to test edges against.
    #[serde(default)]
    pub knobs: OriginKnobs,
}

/// `netproof cdn edge`'s configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeConfig {
    /// Where to serve.
    pub listen: Listen,
    /// The admin endpoint (`/health`, `/metrics`, `/drain`), if any.
    #[serde(default)]
    pub admin: Option<SocketAddr>,
    /// One JSON line per request on stdout.
    #[serde(default)]
    pub access_log: bool,
    /// Limits on what clients may make the front hold.
    #[serde(default)]
    pub limits: ClientLimits,
    /// What a client without a known server name gets.
    #[serde(default)]
    pub tls: Tls,
    /// The sites served, at least one.
    #[serde(rename = "site", default)]
    pub sites: Vec<Site>,
    /// Where the edge fills from and how much it keeps.
    #[serde(default)]
    pub fill: Option<Fill>,
    /// Serve this catalogue directly, without a cache (an edge with no
    /// `fill` section; for trying the front alone).
    #[serde(default)]
    pub catalogue: Option<Catalogue>,
    /// Reports to steering: learned routes, health, load, contents.
    #[serde(default)]
    pub report: Option<report::Reporting>,
}

/// The addresses a front listens on.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listen {
    /// HTTPS (TLS, ALPN h2 and http/1.1).
    #[serde(default)]
    pub https: Vec<SocketAddr>,
    /// Plain HTTP/1.1 (and HTTP/2 with prior knowledge).
    #[serde(default)]
    pub http: Vec<SocketAddr>,
}

/// Limits on what clients may make a front hold; each key has a default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientLimits {
    /// Open connections at once (default 10000); more are closed at once.
    #[serde(default)]
    pub max_connections: Option<u32>,
    /// Time to send a whole HTTP/1.1 request head (default 10s), against
    /// slowloris clients.
    #[serde(default)]
    pub header_read_timeout: Option<Span>,
    /// Time a kept-alive HTTP/1.1 connection may sit idle between
    /// requests (default 60s).
    #[serde(default)]
    pub idle_timeout: Option<Span>,
    /// Time to finish the TLS handshake (default 10s).
    #[serde(default)]
    pub handshake_timeout: Option<Span>,
    /// Bytes of request head (HTTP/1.1) or header list (HTTP/2) (default
    /// 16KiB; from 8KiB to 1MiB).
    #[serde(default)]
    pub max_header_bytes: Option<ByteSize>,
    /// Streams at once per HTTP/2 connection (default 128).
    #[serde(default)]
    pub max_streams: Option<u32>,
}

/// TLS policy shared by every site.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// The site whose certificate a client gets when its SNI names no site
    /// (or it sends none). Absent: such a handshake fails.
    #[serde(default)]
    pub default_site: Option<String>,
}

/// One site: its names, its certificate, its content.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// The site's name: its key in caches and logs, and a host name it
    /// answers to.
    pub name: String,
    /// More host names it answers to; `*.example.test` matches one label.
    #[serde(default)]
    pub names: Vec<String>,
    /// Its certificate chain (PEM); needed when there is an https listener.
    #[serde(default)]
    pub cert: Option<PathBuf>,
    /// Its private key (PEM).
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// The catalogue seed of this site's content (default: the
    /// catalogue's), so two sites can serve different bytes at one path.
    #[serde(default)]
    pub seed: Option<u64>,
}

impl Site {
    /// Every name the site answers to, its own first.
    pub fn all_names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.name.as_str()).chain(self.names.iter().map(String::as_str))
    }
}

/// The synthetic catalogue's shape.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    /// The seed every file's bytes derive from.
    pub seed: u64,
    /// How many titles (numbered from 0).
    pub titles: u32,
    /// The bitrates each title is encoded at, in kbit/s.
    pub bitrates_kbps: Vec<u32>,
    /// Segments per title and bitrate (numbered from 0).
    pub segments: u32,
    /// Each segment's nominal duration in milliseconds.
    #[serde(default = "default_segment_ms")]
    pub segment_ms: u32,
    /// The Zipf exponent of title popularity, for clients that draw
    /// requests (rank 1 is title 0).
    #[serde(default = "default_zipf")]
    pub zipf: f64,
}

fn default_segment_ms() -> u32 {
    2000
}

fn default_zipf() -> f64 {
    0.8
}

/// The origin's fault knobs.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OriginKnobs {
    /// Added before every response's headers.
    #[serde(default)]
    pub latency: Span,
    /// The share of requests answered 503, drawn from the catalogue seed.
    #[serde(default)]
    pub error_rate: f64,
    /// Stop sending each body after some bytes, for a while.
    #[serde(default)]
    pub stall: Option<Stall>,
}

/// A stall in every body the origin sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stall {
    /// Bytes of the object sent before the stall (from the object's start).
    pub after: ByteSize,
    /// How long nothing is sent.
    #[serde(rename = "for")]
    pub duration: Span,
}

/// An edge's fill sources and cache.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fill {
    /// Sources in rank order: asked one after another on a miss.
    pub sources: Vec<FillSource>,
    /// The cache's budget and policy.
    pub cache: Cache,
    /// The CA file that signs the sources' certificates (https sources).
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// The fetch and fill-lock timeouts.
    #[serde(default)]
    pub timeouts: FillTimeouts,
    /// A disk tier the objects evicted from memory move to.
    #[serde(default)]
    pub disk: Option<DiskTier>,
}

/// A fill's timeouts, each with a default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FillTimeouts {
    /// For a source's TCP connection, and again for its TLS handshake
    /// (default 3s).
    #[serde(default)]
    pub connect: Option<Span>,
    /// For the response head, and between body chunks (default 5s): a
    /// source that sends nothing for this long is left for the next.
    #[serde(default)]
    pub stall: Option<Span>,
    /// How long a fill may make no progress before its lock is stale and
    /// the next request starts a new fill (default 15s); at least twice
    /// `connect` plus `stall`, or a slow but live source gets a second
    /// fetch.
    #[serde(default)]
    pub lock: Option<Span>,
}

impl FillTimeouts {
    /// `connect`'s default.
    pub const CONNECT: Duration = Duration::from_secs(3);
    /// `stall`'s default.
    pub const STALL: Duration = Duration::from_secs(5);
    /// `lock`'s default.
    pub const LOCK: Duration = Duration::from_secs(15);

    /// The connect timeout, or its default.
    pub fn connect_or_default(&self) -> Duration {
        self.connect.map_or(Self::CONNECT, |s| s.0)
    }

    /// The stall timeout, or its default.
    pub fn stall_or_default(&self) -> Duration {
        self.stall.map_or(Self::STALL, |s| s.0)
    }

    /// The lock timeout, or its default.
    pub fn lock_or_default(&self) -> Duration {
        self.lock.map_or(Self::LOCK, |s| s.0)
    }
}

/// An edge's disk tier.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskTier {
    /// Its directory, its own (created when missing; relative to the
    /// config file).
    pub dir: PathBuf,
    /// Its byte budget.
    pub size: ByteSize,
    /// Which object to evict from it (default: the memory cache's).
    #[serde(default)]
    pub policy: Option<Policy>,
}

/// One ranked fill source.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FillSource {
    /// Its name in logs, metrics and fill reports.
    pub name: String,
    /// Its base URL, `http(s)://HOST[:PORT]`.
    pub url: String,
    /// What it is.
    pub kind: SourceKind,
}

/// What a fill source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// An edge in the same site.
    Peer,
    /// The fill tier (a parent edge).
    Tier,
    /// The origin.
    Origin,
}

/// The cache's budget and eviction policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cache {
    /// Bytes of object bodies kept in memory.
    pub memory: ByteSize,
    /// Which object to evict when over budget.
    #[serde(default)]
    pub policy: Policy,
}

/// An eviction policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Least recently used (the baseline).
    Lru,
    /// SIEVE (Zhang et al., NSDI '24), the default: on the offload
    /// benchmark (docs/performance.md) its hit ratio was up to 1.6 times
    /// LRU's with the cache at 1 % of the catalogue.
    #[default]
    Sieve,
}

/// A size in bytes, written `"256MiB"`, `"64KiB"`, `"2MB"` or a bare
/// integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ByteSize(pub u64);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ByteSize, D::Error> {
        // By hand rather than `untagged`, so a wrong value gets our message
        // instead of "did not match any variant".
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as `64KiB`, `256MiB` or a number of bytes")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom(format!("`{v}` is a negative size")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ByteSize, E> {
                ByteSize::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl ByteSize {
    /// Parses `N`, `N B`, `N KiB|MiB|GiB` (powers of 1024) or `N kB|KB|MB|GB`
    /// (powers of 1000).
    pub fn parse(text: &str) -> Result<ByteSize, String> {
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let bad = || {
            format!(
                "`{text}` is not a size; write a whole number and a unit, e.g. `64KiB`, `256MiB`, `2GB`"
            )
        };
        let n: u64 = num.parse().map_err(|_| bad())?;
        let mul: u64 = match unit.trim() {
            "" | "B" => 1,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            "kB" | "KB" => 1_000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            _ => return Err(bad()),
        };
        n.checked_mul(mul)
            .map(ByteSize)
            .ok_or_else(|| format!("`{text}` is too large"))
    }
}

/// A duration, written `"250ms"`, `"2s"`, `"1m"` or `"500us"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "String")]
pub struct Span(pub Duration);

impl TryFrom<String> for Span {
    type Error = String;
    fn try_from(s: String) -> Result<Span, String> {
        Span::parse(&s)
    }
}

impl Span {
    /// Parses a whole number with a unit: `us`, `ms`, `s` or `m`.
    pub fn parse(text: &str) -> Result<Span, String> {
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let bad = || {
            format!(
                "`{text}` is not a duration; write a whole number and a unit, e.g. `250ms`, `2s`, `1m`"
            )
        };
        let n: u64 = num.parse().map_err(|_| bad())?;
        let d = match unit.trim() {
            "us" => Duration::from_micros(n),
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.checked_mul(60).ok_or_else(bad)?),
            _ => return Err(bad()),
        };
        Ok(Span(d))
    }
}

/// One problem with a configuration, at a key path.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("key `{key}`: {what}\nhint: {hint}")]
pub struct ConfigError {
    /// Where: `site[1].cert`, `listen`, `fill.sources[0].url`.
    pub key: String,
    /// What is wrong, with the value in backticks.
    pub what: String,
    /// What to write instead.
    pub hint: String,
}

impl ConfigError {
    pub(crate) fn new(
        key: impl fmt::Display,
        what: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        ConfigError {
            key: key.to_string(),
            what: what.into(),
            hint: hint.into(),
        }
    }
}

impl OriginConfig {
    /// Every problem a single key cannot show, all at once.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut errors = Vec::new();
        check_front(&self.listen, &self.tls, &self.sites, &mut errors);
        check_addresses(&self.listen, self.admin, &mut errors);
        check_limits(&self.limits, &mut errors);
        check_catalogue("catalogue", &self.catalogue, &mut errors);
        if !(0.0..=1.0).contains(&self.knobs.error_rate) {
            errors.push(ConfigError::new(
                "knobs.error_rate",
                format!("`{}` is not a share of requests", self.knobs.error_rate),
                "write a number from 0.0 (never) to 1.0 (always)",
            ));
        }
        if let Some(stall) = self.knobs.stall
            && stall.duration.0.is_zero()
        {
            errors.push(ConfigError::new(
                "knobs.stall.for",
                "a stall of no time does nothing",
                "write how long the origin stops sending, e.g. `3s`, or remove `stall`",
            ));
        }
        done(errors)
    }
}

impl EdgeConfig {
    /// Every problem a single key cannot show, all at once.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut errors = Vec::new();
        check_front(&self.listen, &self.tls, &self.sites, &mut errors);
        check_addresses(&self.listen, self.admin, &mut errors);
        check_limits(&self.limits, &mut errors);
        match (&self.fill, &self.catalogue) {
            (None, None) => errors.push(ConfigError::new(
                "fill",
                "the edge has nothing to serve from",
                "add a `[fill]` section with ranked `sources` and a `cache`, or a `[catalogue]` to serve synthetic content directly",
            )),
            (Some(_), Some(_)) => errors.push(ConfigError::new(
                "catalogue",
                "an edge serves either from its fill sources or from a catalogue, not both",
                "remove `[catalogue]` (the origin has it) or `[fill]`",
            )),
            _ => {}
        }
        if let Some(c) = &self.catalogue {
            check_catalogue("catalogue", c, &mut errors);
        }
        if let Some(r) = &self.report {
            r.check(&mut errors);
        }
        if let Some(fill) = &self.fill {
            if fill.sources.is_empty() {
                errors.push(ConfigError::new(
                    "fill.sources",
                    "no fill source",
                    "list sources in rank order, e.g. `[{ name = \"origin\", url = \"https://origin.cdn.test:8443\", kind = \"origin\" }]`",
                ));
            }
            let mut names: Vec<&str> = Vec::new();
            for (i, s) in fill.sources.iter().enumerate() {
                if names.contains(&s.name.as_str()) {
                    errors.push(ConfigError::new(
                        format!("fill.sources[{i}].name"),
                        format!("source `{}` is named twice", s.name),
                        "give every source its own name",
                    ));
                }
                names.push(&s.name);
                if let Err(e) = Url::parse(&s.url) {
                    errors.push(ConfigError::new(
                        format!("fill.sources[{i}].url"),
                        format!("`{}` is not a URL: {e}", s.url),
                        "write `http://HOST[:PORT]` or `https://HOST[:PORT]`",
                    ));
                }
            }
            if fill.cache.memory.0 == 0 {
                errors.push(ConfigError::new(
                    "fill.cache.memory",
                    "a cache of no bytes keeps nothing",
                    "give it a budget, e.g. `256MiB`",
                ));
            }
            check_fill_timeouts(&fill.timeouts, &mut errors);
            if let Some(disk) = &fill.disk {
                if disk.dir.as_os_str().is_empty() {
                    errors.push(ConfigError::new(
                        "fill.disk.dir",
                        "no directory",
                        "name a writable directory of the tier's own, e.g. `\"cache\"`",
                    ));
                }
                if disk.size.0 == 0 {
                    errors.push(ConfigError::new(
                        "fill.disk.size",
                        "a disk tier of no bytes keeps nothing",
                        "give it a budget, e.g. `10GiB`, or remove `fill.disk`",
                    ));
                }
            }
        }
        done(errors)
    }
}

/// Zero timeouts, and a lock timeout a live source could outlast.
fn check_fill_timeouts(t: &FillTimeouts, errors: &mut Vec<ConfigError>) {
    let mut zero = false;
    for (key, v) in [
        ("fill.timeouts.connect", t.connect),
        ("fill.timeouts.stall", t.stall),
        ("fill.timeouts.lock", t.lock),
    ] {
        if v.is_some_and(|d| d.0.is_zero()) {
            zero = true;
            errors.push(ConfigError::new(
                key,
                "a timeout of no time fails every fill",
                "write e.g. `5s`, or remove the key for the default",
            ));
        }
    }
    let (connect, stall, lock) = (
        t.connect_or_default(),
        t.stall_or_default(),
        t.lock_or_default(),
    );
    let least = connect * 2 + stall;
    if !zero && lock < least {
        errors.push(ConfigError::new(
            "fill.timeouts.lock",
            format!(
                "a lock timeout of {lock:?} is under twice the connect timeout plus the stall timeout ({least:?}): a slow but live source would get a second fetch"
            ),
            format!("write at least `{}ms`, or shorten `connect` or `stall`", least.as_millis()),
        ));
    }
}

fn done(errors: Vec<ConfigError>) -> Result<(), Vec<ConfigError>> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Checks a host name or a one-label wildcard (`*.a.test`); the error
/// says what is wrong with it.
pub fn check_name(name: &str) -> Result<(), &'static str> {
    let body = name.strip_prefix("*.").unwrap_or(name);
    if body.is_empty() || body.len() > 253 {
        return Err("is not a host name");
    }
    for label in body.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("has an empty or over-long label");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(
                "has a character other than letters, digits, `-` and `.` (a `*` only as the whole first label)",
            );
        }
    }
    if name.starts_with("*.") && !body.contains('.') {
        return Err("is a wildcard over a top-level name");
    }
    Ok(())
}

fn check_limits(l: &ClientLimits, errors: &mut Vec<ConfigError>) {
    if l.max_connections == Some(0) || l.max_streams == Some(0) {
        errors.push(ConfigError::new(
            if l.max_connections == Some(0) {
                "limits.max_connections"
            } else {
                "limits.max_streams"
            },
            "a limit of 0 serves no one",
            "write a positive number, or remove the key for the default",
        ));
    }
    for (key, v) in [
        ("limits.header_read_timeout", l.header_read_timeout),
        ("limits.idle_timeout", l.idle_timeout),
        ("limits.handshake_timeout", l.handshake_timeout),
    ] {
        if v.is_some_and(|d| d.0.is_zero()) {
            errors.push(ConfigError::new(
                key,
                "a timeout of no time refuses everyone",
                "write e.g. `10s`, or remove the key for the default",
            ));
        }
    }
    if let Some(b) = l.max_header_bytes
        && !(8 * 1024..=1024 * 1024).contains(&b.0)
    {
        errors.push(ConfigError::new(
            "limits.max_header_bytes",
            format!("`{}` bytes is outside 8KiB..1MiB", b.0),
            "write e.g. `16KiB` (HTTP/1.1 parsers need at least 8KiB)",
        ));
    }
}

/// Two listeners on one address (port 0 excepted: the kernel picks).
fn check_addresses(listen: &Listen, admin: Option<SocketAddr>, errors: &mut Vec<ConfigError>) {
    let all = listen
        .https
        .iter()
        .enumerate()
        .map(|(i, a)| (format!("listen.https[{i}]"), *a))
        .chain(
            listen
                .http
                .iter()
                .enumerate()
                .map(|(i, a)| (format!("listen.http[{i}]"), *a)),
        )
        .chain(admin.map(|a| ("admin".to_string(), a)));
    let mut seen: Vec<(String, SocketAddr)> = Vec::new();
    for (key, addr) in all {
        if addr.port() != 0
            && let Some((first, _)) = seen.iter().find(|(_, a)| *a == addr)
        {
            errors.push(ConfigError::new(
                &key,
                format!("`{addr}` is already `{first}`"),
                "give every listener its own address or port",
            ));
        }
        seen.push((key, addr));
    }
}

fn check_front(listen: &Listen, tls: &Tls, sites: &[Site], errors: &mut Vec<ConfigError>) {
    if listen.https.is_empty() && listen.http.is_empty() {
        errors.push(ConfigError::new(
            "listen",
            "no listen address",
            "add `https = [\"ADDR:PORT\"]` and/or `http = [\"ADDR:PORT\"]` under `[listen]`",
        ));
    }
    if sites.is_empty() {
        errors.push(ConfigError::new(
            "site",
            "no site",
            "add a `[[site]]` with a `name` (and `cert` and `key` for https)",
        ));
    }
    let mut seen: Vec<String> = Vec::new();
    for (i, site) in sites.iter().enumerate() {
        if site.name.starts_with('*') {
            errors.push(ConfigError::new(
                format!("site[{i}].name"),
                format!("`{}` is a wildcard", site.name),
                "name the site by one plain host name and put wildcards in `names`",
            ));
        }
        for (j, name) in site.all_names().enumerate() {
            let key = if j == 0 {
                format!("site[{i}].name")
            } else {
                format!("site[{i}].names[{}]", j - 1)
            };
            if let Err(why) = check_name(name) {
                errors.push(ConfigError::new(
                    &key,
                    format!("`{name}` {why}"),
                    "write a DNS name such as `video.cdn.test` or `*.video.cdn.test`",
                ));
            }
            let lower = name.to_ascii_lowercase();
            if seen.contains(&lower) {
                errors.push(ConfigError::new(
                    &key,
                    format!("`{name}` is named by two sites (or twice)"),
                    "every host name belongs to one site",
                ));
            }
            seen.push(lower);
        }
        if !listen.https.is_empty() {
            for (what, v) in [("cert", &site.cert), ("key", &site.key)] {
                if v.is_none() {
                    errors.push(ConfigError::new(
                        format!("site[{i}].{what}"),
                        format!("site `{}` has no `{what}` but the front serves https", site.name),
                        "make lab certificates with `netproof cdn certs --out DIR --site NAME` and name the `.pem` and `.key` files",
                    ));
                }
            }
        }
    }
    if let Some(d) = &tls.default_site
        && !sites.iter().any(|s| &s.name == d)
    {
        errors.push(ConfigError::new(
            "tls.default_site",
            format!("no site is named `{d}`"),
            format!(
                "name one of the sites: {}",
                sites
                    .iter()
                    .map(|s| format!("`{}`", s.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
}

fn check_catalogue(key: &str, c: &Catalogue, errors: &mut Vec<ConfigError>) {
    let mut bad = |k: &str, what: String, hint: &str| {
        errors.push(ConfigError::new(format!("{key}.{k}"), what, hint));
    };
    if c.titles == 0 {
        bad(
            "titles",
            "no titles".into(),
            "write how many titles, e.g. `100`",
        );
    }
    if c.segments == 0 {
        bad(
            "segments",
            "no segments".into(),
            "write how many segments each title has per bitrate, e.g. `30`",
        );
    }
    if c.bitrates_kbps.is_empty() || c.bitrates_kbps.contains(&0) {
        bad(
            "bitrates_kbps",
            format!(
                "`{:?}` needs at least one bitrate, none zero",
                c.bitrates_kbps
            ),
            "list the encodings in kbit/s, e.g. `[500, 1500, 4000]`",
        );
    }
    if c.segment_ms == 0 {
        bad(
            "segment_ms",
            "segments of no time have no bytes".into(),
            "write each segment's duration in ms, e.g. `2000`",
        );
    }
    if !(c.zipf.is_finite() && c.zipf >= 0.0) {
        bad(
            "zipf",
            format!("`{}` is not a Zipf exponent", c.zipf),
            "write a number from 0.0 (uniform) up, e.g. `0.8`",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_parse_with_their_units() {
        assert_eq!(ByteSize::parse("64KiB"), Ok(ByteSize(65_536)));
        assert_eq!(ByteSize::parse("2MB"), Ok(ByteSize(2_000_000)));
        assert_eq!(ByteSize::parse("1500"), Ok(ByteSize(1500)));
        assert!(ByteSize::parse("12 parsecs").is_err());
        assert!(ByteSize::parse("").is_err());
        assert!(ByteSize::parse("99999999999999GiB").is_err());
        assert_eq!(Span::parse("250ms"), Ok(Span(Duration::from_millis(250))));
        assert_eq!(Span::parse("1m"), Ok(Span(Duration::from_secs(60))));
        assert!(Span::parse("3").is_err());
    }

    #[test]
    fn names_are_checked_wildcards_one_label_only() {
        assert!(check_name("a.test").is_ok());
        assert!(check_name("*.a.test").is_ok());
        assert!(check_name("*.test").is_err());
        assert!(check_name("a.*.test").is_err());
        assert!(check_name("a..test").is_err());
        assert!(check_name("").is_err());
    }

    fn site(name: &str) -> Site {
        Site {
            name: name.into(),
            names: vec![],
            cert: Some("c.pem".into()),
            key: Some("c.key".into()),
            seed: None,
        }
    }

    fn catalogue() -> Catalogue {
        Catalogue {
            seed: 1,
            titles: 2,
            bitrates_kbps: vec![100],
            segments: 3,
            segment_ms: 1000,
            zipf: 0.8,
        }
    }

    #[test]
    fn every_cross_key_problem_is_reported_at_its_key() {
        let mut a = site("a.test");
        a.cert = None;
        let mut b = site("b.test");
        b.names = vec!["A.test".into(), "*.test".into()];
        let config = OriginConfig {
            listen: Listen {
                https: vec!["127.0.0.1:0".parse().unwrap()],
                http: vec![],
            },
            admin: None,
            access_log: false,
            limits: ClientLimits::default(),
            tls: Tls {
                default_site: Some("nope".into()),
            },
            sites: vec![a, b],
            catalogue: Catalogue {
                titles: 0,
                ..catalogue()
            },
            knobs: OriginKnobs {
                error_rate: 1.5,
                ..OriginKnobs::default()
            },
        };
        let mut limited = config.clone();
        limited.limits.max_header_bytes = Some(ByteSize(100));
        limited.limits.header_read_timeout = Some(Span(Duration::ZERO));
        limited.limits.idle_timeout = Some(Span(Duration::ZERO));
        let limit_keys: Vec<String> = limited
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| e.key)
            .filter(|k| k.starts_with("limits"))
            .collect();
        assert_eq!(
            limit_keys,
            [
                "limits.header_read_timeout",
                "limits.idle_timeout",
                "limits.max_header_bytes"
            ]
        );
        let errors = config.validate().unwrap_err();
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "site[0].cert",
                "site[1].names[0]",
                "site[1].names[1]",
                "tls.default_site",
                "catalogue.titles",
                "knobs.error_rate"
            ]
        );
        assert!(errors[1].what.contains("two sites"), "{}", errors[1].what);
    }

    #[test]
    fn fill_timeouts_and_the_disk_tier_are_checked_at_their_keys() {
        let fill = |timeouts: FillTimeouts, disk: Option<DiskTier>| EdgeConfig {
            listen: Listen {
                https: vec![],
                http: vec!["127.0.0.1:0".parse().unwrap()],
            },
            admin: None,
            access_log: false,
            limits: ClientLimits::default(),
            tls: Tls::default(),
            sites: vec![site("a.test")],
            fill: Some(Fill {
                sources: vec![FillSource {
                    name: "o".into(),
                    url: "http://127.0.0.1:1".into(),
                    kind: SourceKind::Origin,
                }],
                cache: Cache {
                    memory: ByteSize(1 << 20),
                    policy: Policy::Sieve,
                },
                ca: None,
                timeouts,
                disk,
            }),
            catalogue: None,
            report: None,
        };
        let keys = |c: EdgeConfig| -> Vec<String> {
            c.validate()
                .err()
                .unwrap_or_default()
                .into_iter()
                .map(|e| e.key)
                .collect()
        };
        let secs = |n| Some(Span(Duration::from_secs(n)));
        let disk = DiskTier {
            dir: "cache".into(),
            size: ByteSize(1 << 30),
            policy: Some(Policy::Lru),
        };
        assert!(keys(fill(FillTimeouts::default(), Some(disk.clone()))).is_empty());
        let ok = FillTimeouts {
            connect: secs(1),
            stall: secs(2),
            lock: secs(4),
        };
        assert!(keys(fill(ok, None)).is_empty());
        let zero = FillTimeouts {
            connect: Some(Span(Duration::ZERO)),
            stall: None,
            lock: Some(Span(Duration::ZERO)),
        };
        assert_eq!(
            keys(fill(zero, None)),
            ["fill.timeouts.connect", "fill.timeouts.lock"]
        );
        // 2 × 3 s + 5 s is 11 s: a 10 s lock would replace a live fill.
        let short = FillTimeouts {
            lock: secs(10),
            ..FillTimeouts::default()
        };
        let errors = fill(short, None).validate().unwrap_err();
        assert_eq!(errors[0].key, "fill.timeouts.lock");
        assert!(errors[0].hint.contains("11000ms"), "{}", errors[0].hint);
        let empty = DiskTier {
            dir: "".into(),
            size: ByteSize(0),
            policy: None,
        };
        assert_eq!(
            keys(fill(FillTimeouts::default(), Some(empty))),
            ["fill.disk.dir", "fill.disk.size"]
        );
    }

    #[test]
    fn two_listeners_on_one_address_are_refused_but_port_0_twice_is_fine() {
        let listen = Listen {
            https: vec![
                "127.0.0.1:8443".parse().unwrap(),
                "127.0.0.1:0".parse().unwrap(),
            ],
            http: vec![
                "127.0.0.1:0".parse().unwrap(),
                "127.0.0.1:8443".parse().unwrap(),
            ],
        };
        let mut errors = Vec::new();
        check_addresses(
            &listen,
            Some("127.0.0.1:8443".parse().unwrap()),
            &mut errors,
        );
        let found: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.key.as_str(), e.what.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "listen.http[1]",
                    "`127.0.0.1:8443` is already `listen.https[0]`"
                ),
                ("admin", "`127.0.0.1:8443` is already `listen.https[0]`"),
            ]
        );
    }

    #[test]
    fn an_edge_needs_exactly_one_thing_to_serve_from() {
        let mut config = EdgeConfig {
            listen: Listen {
                https: vec![],
                http: vec!["127.0.0.1:0".parse().unwrap()],
            },
            admin: None,
            access_log: false,
            limits: ClientLimits::default(),
            tls: Tls::default(),
            sites: vec![site("a.test")],
            fill: None,
            catalogue: None,
            report: None,
        };
        assert_eq!(config.validate().unwrap_err()[0].key, "fill");
        config.catalogue = Some(catalogue());
        assert_eq!(config.validate(), Ok(()));
        config.fill = Some(Fill {
            sources: vec![FillSource {
                name: "o".into(),
                url: "ftp://x".into(),
                kind: SourceKind::Origin,
            }],
            cache: Cache {
                memory: ByteSize(0),
                policy: Policy::Sieve,
            },
            ca: None,
            timeouts: FillTimeouts::default(),
            disk: None,
        });
        let keys: Vec<String> = config
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| e.key)
            .collect();
        assert_eq!(
            keys,
            ["catalogue", "fill.sources[0].url", "fill.cache.memory"]
        );
    }
}
