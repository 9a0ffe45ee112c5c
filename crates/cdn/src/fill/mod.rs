//! An edge's store ([`FillStore`]), what its HTTP front serves from: hits
//! from the [`cache`](crate::cache), misses filled from ranked sources
//! (peer edges, then fill tiers, then the origin) through the
//! [`Upstream`] client, with concurrent misses for one
//! object coalesced into one fetch.
//!
//! The decisions live in the sans-IO [`plan`] (who leads a fill, when a
//! fill lock is stale, which source is next); this module is the I/O
//! around them. A fill runs as its own task, not inside the request that
//! started it, so a client that disconnects never cancels a fill others
//! wait on (a fill whose readers have all gone still completes: the
//! object is then cached for the next request); a drop guard in the task clears its lock and releases its
//! waiters however the task ends (done, failed, panicked, aborted), and a
//! fill that makes no progress for the lock timeout is replaced by the
//! next open (pingora #931). The followers of a failing fill stay on it
//! while its one task asks the next source (resuming from the byte it
//! reached), so a failed or stalled source never turns N waiters into N
//! requests to the next one.
//!
//! - [`body`]: the growing buffer a fill writes and readers read by offset.
//! - [`plan`]: coalescing, stale locks and ranking, on a virtual clock.
//! - [`bucket`]: the token bucket that paces proactive fill.
//! - [`prefill`]: proactive fill of a manifest within a window at a rate.
//! - [`manifest`]: the admin endpoint's prefill manifest and report (JSON).
//! - [`counters`]: hits, misses, coalesced, bytes by source, failures.
//! - [`disk`]: the disk tier objects evicted from memory move to.

pub mod body;
pub mod bucket;
pub mod counters;
pub mod disk;
pub mod manifest;
pub mod plan;
pub mod prefill;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use netproof_proto::url::{Url, UrlError};
use thiserror::Error;
use tokio::sync::watch;

use crate::cache::{Cache, PolicyKind, Reservation};
use crate::object::{
    Body, BoxFuture, CacheStatus, ObjectKey, ObjectMeta, Objects, OpenError, Opened,
};
use crate::upstream::{self, Answer, TlsSetupError, Upstream};
use body::FillBody;
use bucket::TokenBucket;
use counters::Counters;
use disk::{DiskConfig, DiskError, DiskTier, Write};
use plan::{Attempts, FailKind, FlightId, Flights, Joined, Outcome, SourceKind, Step};

pub use upstream::Timeouts;

/// One place a fill may fetch from, as the edge's config names it
/// (`{ name, url, kind = "peer"|"tier"|"origin" }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillSource {
    /// Its name, in counters and the access log.
    pub name: String,
    /// Its base URL: scheme, address and an optional path prefix.
    pub url: Url,
    /// What it is, which sets its rank.
    pub kind: SourceKind,
}

/// A fill source written wrongly.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SourceError {
    /// The URL is not one.
    #[error("fill source `{name}`: {source}")]
    Url {
        /// The source.
        name: String,
        /// Why.
        source: UrlError,
    },
    /// The kind is not one.
    #[error("fill source `{name}`: {source}")]
    Kind {
        /// The source.
        name: String,
        /// Why.
        source: plan::UnknownKind,
    },
}

impl FillSource {
    /// A source from its config text.
    pub fn parse(name: &str, url: &str, kind: &str) -> Result<FillSource, SourceError> {
        Ok(FillSource {
            name: name.to_owned(),
            url: Url::parse(url).map_err(|source| SourceError::Url {
                name: name.to_owned(),
                source,
            })?,
            kind: kind.parse().map_err(|source| SourceError::Kind {
                name: name.to_owned(),
                source,
            })?,
        })
    }
}

/// How an edge's store caches and fills.
#[derive(Debug, Clone)]
pub struct FillConfig {
    /// Where fills fetch from (any order: they are ranked by kind).
    pub sources: Vec<FillSource>,
    /// The cache's budget in bytes.
    pub budget: u64,
    /// The eviction policy.
    pub policy: PolicyKind,
    /// Connect and stall timeouts for each fetch.
    pub timeouts: Timeouts,
    /// How long a fill may make no progress before its lock is stale and
    /// the next open starts a new fill. Keep it above twice the connect
    /// timeout (TCP, then TLS) plus the stall timeout, or a slow but live
    /// source gets a second fetch.
    pub lock_timeout: Duration,
    /// The CA certificates (PEM) `https` sources are checked against.
    pub ca_file: Option<PathBuf>,
    /// A disk tier for objects evicted from memory, when wanted.
    pub disk: Option<DiskConfig>,
    /// The disk tier's eviction policy, when not the memory cache's.
    pub disk_policy: Option<PolicyKind>,
}

impl FillConfig {
    /// A config with these sources and budget and defaults for the rest:
    /// SIEVE, 3 s connect, 5 s stall, 15 s lock timeout, no CA file, no
    /// disk tier.
    pub fn new(sources: Vec<FillSource>, budget: u64) -> FillConfig {
        FillConfig {
            sources,
            budget,
            policy: PolicyKind::default(),
            timeouts: Timeouts::default(),
            lock_timeout: netproof_proto::cdn::FillTimeouts::LOCK,
            ca_file: None,
            disk: None,
            disk_policy: None,
        }
    }
}

/// A store that cannot be built from its config.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The CA file is unusable.
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
    /// An `https` source without a CA file to check it against.
    #[error(
        "fill source `{0}` is https but no CA file is configured; hint: set the fill CA file to the lab CA"
    )]
    NoCa(String),
    /// The disk tier's directory is unusable.
    #[error(transparent)]
    Disk(#[from] DiskError),
}

/// A cached object.
#[derive(Clone)]
struct Stored {
    meta: ObjectMeta,
    body: Arc<FillBody>,
    source: Arc<str>,
}

/// What the waiters of a fill see: nothing yet, the object, or why not.
#[derive(Clone)]
enum Head {
    Pending,
    Ready(Stored),
    Failed(OpenError),
}

/// One fill as its waiters hold it.
struct Live {
    head: watch::Sender<Head>,
    /// The fill's task, so a fill replaced for a stale lock is stopped
    /// (and its connection closed) rather than left to time out.
    task: Mutex<Option<tokio::task::AbortHandle>>,
}

impl Live {
    fn new() -> Arc<Live> {
        Arc::new(Live {
            head: watch::Sender::new(Head::Pending),
            task: Mutex::new(None),
        })
    }

    fn abort(&self) {
        if let Some(t) = self.task.lock().expect("task lock").take() {
            t.abort();
        }
    }

    /// Ends the fill for its waiters: an open still waiting gets `err`, a
    /// body still filling fails with `err`'s text.
    fn fail(&self, err: OpenError) {
        self.head.send_if_modified(|h| match h {
            Head::Pending => {
                *h = Head::Failed(err);
                true
            }
            Head::Ready(s) => {
                s.body.fail(&err.to_string());
                false
            }
            Head::Failed(_) => false,
        });
    }
}

struct Source {
    name: Arc<str>,
    kind: SourceKind,
    client: Upstream,
}

struct State {
    cache: Cache<ObjectKey, Stored>,
    flights: Flights<ObjectKey, Arc<Live>>,
    disk: Option<DiskTier>,
}

struct Shared {
    /// How often a paced fill tells its lock it is alive while it waits:
    /// a quarter of the lock timeout.
    heartbeat: Duration,
    sources: Vec<Source>,
    kinds: Vec<SourceKind>,
    counters: Arc<Counters>,
    state: Mutex<State>,
}

impl Shared {
    /// The store's state. A task that panicked while holding it leaves
    /// counts that may be off by one object, which beats refusing every
    /// later request, so a poisoned lock is taken as it is.
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The title of a catalogue path, `/t/{title}/...` in its one spelling
/// (no leading zero), as `ContentKey::for_path` reads it.
fn title_of(path: &str) -> Option<u32> {
    let (title, _) = path.strip_prefix("/t/")?.split_once('/')?;
    let canonical = !title.is_empty()
        && title.bytes().all(|b| b.is_ascii_digit())
        && (title == "0" || !title.starts_with('0'));
    canonical.then(|| title.parse().ok()).flatten()
}

/// A shared pacing for fills (proactive fill's rate cap).
pub type Limiter = Arc<Mutex<TokenBucket>>;

/// An edge's store: cache plus coalesced, ranked fill.
#[derive(Clone)]
pub struct FillStore {
    shared: Arc<Shared>,
}

fn now() -> Instant {
    // tokio's clock, so a test on a paused runtime controls it.
    tokio::time::Instant::now().into_std()
}

impl FillStore {
    /// A store for `config`; fails when `https` sources cannot be trusted.
    pub fn new(config: &FillConfig) -> Result<FillStore, StoreError> {
        let tls = match &config.ca_file {
            Some(path) => Some(upstream::tls_trusting(path)?),
            None => None,
        };
        let mut sources = Vec::new();
        for s in &config.sources {
            if s.url.is_https() && tls.is_none() {
                return Err(StoreError::NoCa(s.name.clone()));
            }
            sources.push(Source {
                name: s.name.as_str().into(),
                kind: s.kind,
                client: Upstream::new(s.url.clone(), tls.clone(), config.timeouts),
            });
        }
        let disk = match &config.disk {
            Some(d) => Some(DiskTier::open(
                d,
                config.disk_policy.unwrap_or(config.policy),
            )?),
            None => None,
        };
        Ok(FillStore::with_sources(sources, disk, config))
    }

    fn with_sources(
        sources: Vec<Source>,
        disk: Option<DiskTier>,
        config: &FillConfig,
    ) -> FillStore {
        let counters = Arc::new(Counters::new(sources.iter().map(|s| s.name.clone())));
        FillStore {
            shared: Arc::new(Shared {
                heartbeat: (config.lock_timeout / 4).max(Duration::from_millis(1)),
                kinds: sources.iter().map(|s| s.kind).collect(),
                sources,
                counters,
                state: Mutex::new(State {
                    cache: Cache::new(config.budget, config.policy.build()),
                    flights: Flights::new(config.lock_timeout),
                    disk,
                }),
            }),
        }
    }

    /// The store's counters.
    pub fn counters(&self) -> &Arc<Counters> {
        &self.shared.counters
    }

    /// Bytes cached in memory, bytes reserved by fills in progress, and
    /// objects cached in memory.
    pub fn usage(&self) -> (u64, u64, usize) {
        let st = self.shared.lock();
        (st.cache.used(), st.cache.reserved(), st.cache.len())
    }

    /// Bytes and objects on the disk tier (zero without one).
    pub fn disk_usage(&self) -> (u64, usize) {
        let st = self.shared.lock();
        st.disk.as_ref().map_or((0, 0), DiskTier::usage)
    }

    /// The titles held whole, in memory or on disk, by site (sites and
    /// titles ascending): at least one file of each (a path
    /// `/t/{title}/...` in its one spelling). What an edge reports to
    /// steering as its contents; counts as no hit.
    pub fn titles(&self) -> Vec<netproof_proto::steering::SiteTitles> {
        let st = self.shared.lock();
        let mut by_site: std::collections::BTreeMap<&str, std::collections::BTreeSet<u32>> =
            Default::default();
        let disk = st.disk.as_ref().into_iter().flat_map(|d| d.keys());
        for key in st.cache.keys().chain(disk) {
            if let Some(t) = title_of(&key.path) {
                by_site.entry(&key.site).or_default().insert(t);
            }
        }
        by_site
            .into_iter()
            .map(|(site, titles)| netproof_proto::steering::SiteTitles {
                site: site.to_string(),
                titles: titles.into_iter().collect(),
            })
            .collect()
    }

    /// Whether the store fills what it lacks (it has a source).
    pub fn fills(&self) -> bool {
        !self.shared.sources.is_empty()
    }

    /// Whether `key` is cached whole in memory (does not count as a hit).
    pub fn contains(&self, key: &ObjectKey) -> bool {
        let st = self.shared.lock();
        st.cache.contains(key)
    }

    /// Whether `key` is on the disk tier (does not count as a hit).
    pub fn on_disk(&self, key: &ObjectKey) -> bool {
        let st = self.shared.lock();
        st.disk.as_ref().is_some_and(|d| d.contains(key))
    }

    /// Opens `key`, and the body as the fill writes it; a fill it starts
    /// is paced by `limiter` when given.
    pub(crate) async fn open_fill(
        &self,
        key: &ObjectKey,
        limiter: Option<Limiter>,
    ) -> Result<(Opened, Option<Arc<FillBody>>), OpenError> {
        let c = &self.shared.counters;
        let mut stale_task = None;
        let (status, live) = {
            let mut st = self.shared.lock();
            if let Some(s) = st.cache.get(key) {
                Counters::add(&c.hits, 1);
                let opened = Opened {
                    meta: s.meta.clone(),
                    body: s.body.clone(),
                    status: CacheStatus::Hit,
                    source: Some(s.source.clone()),
                };
                return Ok((opened, Some(s.body.clone())));
            }
            if let Some(e) = st.disk.as_mut().and_then(|d| d.get(key)) {
                Counters::add(&c.hits, 1);
                Counters::add(&c.disk_hits, 1);
                let opened = Opened {
                    meta: e.meta.clone(),
                    body: e.body(),
                    status: CacheStatus::Hit,
                    source: Some(e.source.clone()),
                };
                return Ok((opened, None));
            }
            // A proactive fill (the one caller with a limiter) is not a
            // client: its opens are counted apart from the hit ratio's.
            let client = limiter.is_none();
            let count = |counter: &std::sync::atomic::AtomicU64| {
                Counters::add(if client { counter } else { &c.prefills }, 1);
            };
            match st.flights.join(key.clone(), now(), |_| Live::new()) {
                Joined::Lead(id, live) => {
                    count(&c.misses);
                    self.spawn_fill(key, id, &live, limiter);
                    (CacheStatus::Miss, live)
                }
                Joined::Follow(_, live) => {
                    count(&c.coalesced);
                    (CacheStatus::Filling, live)
                }
                Joined::Replace { id, payload, stale } => {
                    count(&c.misses);
                    Counters::add(&c.stale_locks, 1);
                    stale.fail(OpenError::Upstream {
                        path: key.path.clone(),
                        why: "the fill made no progress for the lock timeout and was replaced"
                            .into(),
                        timed_out: true,
                    });
                    stale_task = Some(stale);
                    self.spawn_fill(key, id, &payload, limiter);
                    (CacheStatus::Miss, payload)
                }
            }
        };
        if let Some(stale) = stale_task {
            // Outside the store lock: the stale task's drop guard takes it.
            stale.abort();
        }
        let mut rx = live.head.subscribe();
        // `live` holds the sender, so the channel cannot close under us.
        let head = rx
            .wait_for(|h| !matches!(h, Head::Pending))
            .await
            .map(|h| h.clone())
            .unwrap_or(Head::Pending);
        match head {
            Head::Ready(s) => Ok((
                Opened {
                    meta: s.meta,
                    body: s.body.clone(),
                    status,
                    source: Some(s.source),
                },
                Some(s.body),
            )),
            Head::Failed(e) => {
                match e {
                    OpenError::NotFound { .. } => Counters::add(&c.not_found, 1),
                    _ => Counters::add(&c.upstream_errors, 1),
                }
                Err(e)
            }
            Head::Pending => Err(OpenError::Busy("the fill went away".into())),
        }
    }

    fn spawn_fill(
        &self,
        key: &ObjectKey,
        id: FlightId,
        live: &Arc<Live>,
        limiter: Option<Limiter>,
    ) {
        let fill = Fill {
            shared: self.shared.clone(),
            key: key.clone(),
            id,
            live: live.clone(),
            limiter,
            reservation: None,
            stored: None,
            why: Vec::new(),
            done: false,
        };
        let task = tokio::spawn(fill.run());
        *live.task.lock().expect("task lock") = Some(task.abort_handle());
    }
}

impl Objects for FillStore {
    fn open<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<Opened, OpenError>> {
        Box::pin(async move { self.open_fill(key, None).await.map(|(o, _)| o) })
    }

    /// A hit from memory or disk, else a timed-out upstream error (504):
    /// never a fill, and never a fill in progress (two peers filling one
    /// object from each other would wait on each other).
    fn open_cached<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<Opened, OpenError>> {
        Box::pin(async move {
            let c = &self.shared.counters;
            let mut st = self.shared.lock();
            let st = &mut *st;
            let hit = match st.cache.get(key) {
                Some(s) => Some((s.meta.clone(), s.body.clone() as Body, s.source.clone())),
                None => st.disk.as_mut().and_then(|d| d.get(key)).map(|e| {
                    Counters::add(&c.disk_hits, 1);
                    (e.meta.clone(), e.body(), e.source.clone())
                }),
            };
            match hit {
                Some((meta, body, source)) => {
                    Counters::add(&c.hits, 1);
                    Ok(Opened {
                        meta,
                        body,
                        status: CacheStatus::Hit,
                        source: Some(source),
                    })
                }
                None => {
                    Counters::add(&c.not_cached, 1);
                    Err(OpenError::Upstream {
                        path: key.path.clone(),
                        why: "not cached here, and only-if-cached was asked".into(),
                        timed_out: true,
                    })
                }
            }
        })
    }
}

/// One fill's task. Its `Drop` is the guard: however the task ends, the
/// lock is cleared, the reservation given back and the waiters released.
struct Fill {
    shared: Arc<Shared>,
    key: ObjectKey,
    id: FlightId,
    live: Arc<Live>,
    limiter: Option<Limiter>,
    reservation: Option<Reservation>,
    stored: Option<Stored>,
    why: Vec<String>,
    done: bool,
}

/// An attempt's end, or the news that this fill was replaced.
enum Ended {
    Outcome(Outcome),
    Replaced,
}

impl Fill {
    async fn run(mut self) {
        let mut attempts = Attempts::new(&self.shared.kinds);
        let mut step = attempts.start();
        loop {
            match step {
                Step::Fetch { source, from } => {
                    if !self.progress() {
                        return;
                    }
                    let outcome = match self.attempt(source, from).await {
                        Ended::Outcome(o) => o,
                        Ended::Replaced => return,
                    };
                    let reached = self.stored.as_ref().map_or(0, |s| s.body.filled());
                    step = attempts.on(source, outcome, reached);
                }
                Step::Done { source } => {
                    Counters::add(&self.shared.counters.sources[source].completed, 1);
                    if !self.done {
                        // An empty object: no last chunk committed it.
                        self.finish(true);
                    }
                    return;
                }
                // The lock and the reservation go before the waiters hear,
                // so a waiter that reacts finds the store settled.
                Step::NotFound => {
                    self.finish(false);
                    self.live.fail(OpenError::NotFound {
                        site: self.key.site.clone(),
                        path: self.key.path.clone(),
                    });
                    return;
                }
                Step::GiveUp { timed_out } => {
                    let why = if self.why.is_empty() {
                        "no fill source is configured".to_owned()
                    } else {
                        self.why.join("; ")
                    };
                    self.finish(false);
                    self.live.fail(OpenError::Upstream {
                        path: self.key.path.clone(),
                        why,
                        timed_out,
                    });
                    return;
                }
            }
        }
    }

    /// Tells the flight table the leader is alive; false when replaced.
    fn progress(&self) -> bool {
        let mut st = self.shared.lock();
        st.flights.progress(&self.key, self.id, now())
    }

    async fn attempt(&mut self, source: usize, from: u64) -> Ended {
        let shared = self.shared.clone();
        let src = &shared.sources[source];
        let counters = &shared.counters.sources[source];
        Counters::add(&counters.fetches, 1);
        let failed = |this: &mut Fill, kind: FailKind, why: String| {
            shared.counters.failed(kind);
            this.why.push(format!("{} `{}`: {why}", src.kind, src.name));
            Ended::Outcome(Outcome::Failed(kind))
        };
        let only_if_cached = src.kind == SourceKind::Peer;
        let answer = src
            .client
            .get(&self.key.site, &self.key.path, from, only_if_cached)
            .await;
        let mut fetch = match answer {
            Err(e) => return failed(self, e.kind, e.why),
            Ok(Answer::NotFound) => {
                self.why
                    .push(format!("{} `{}`: not found", src.kind, src.name));
                return Ended::Outcome(Outcome::NotFound);
            }
            Ok(Answer::Body(f)) => f,
        };
        let body = match &self.stored {
            Some(s) => {
                if s.meta.len != fetch.meta.len || s.meta.etag != fetch.meta.etag {
                    let why = format!(
                        "answered {} bytes with ETag {} where the fill holds {} bytes with ETag {}",
                        fetch.meta.len, fetch.meta.etag, s.meta.len, s.meta.etag
                    );
                    return failed(self, FailKind::Protocol, why);
                }
                s.body.clone()
            }
            None => self.start_body(&fetch.meta, &src.name),
        };
        loop {
            match fetch.chunk().await {
                Ok(Some(data)) => {
                    let n = data.len() as u64;
                    if let Some(l) = &self.limiter {
                        let mut wait = l.lock().expect("limiter lock").take(now(), n);
                        // In slices, telling the lock we are alive, so a
                        // low rate cap never makes a paced fill look stale.
                        while !wait.is_zero() {
                            let slice = wait.min(self.shared.heartbeat);
                            tokio::time::sleep(slice).await;
                            wait -= slice;
                            if !self.progress() {
                                return Ended::Replaced;
                            }
                        }
                    }
                    if body.filled() + n == body.len() {
                        // The last bytes and the commit happen under one
                        // lock, so whoever sees the body whole finds the
                        // object cached (and a later open is a hit).
                        let mut st = shared.lock();
                        if let Err(e) = body.push(data) {
                            drop(st);
                            return failed(self, FailKind::Protocol, e.to_string());
                        }
                        Counters::add(&counters.bytes, n);
                        self.finish_locked(&mut st, true);
                        drop(st);
                        let whole = body.clone();
                        tokio::task::spawn_blocking(move || whole.compact());
                        return Ended::Outcome(Outcome::Complete);
                    }
                    if let Err(e) = body.push(data) {
                        return failed(self, FailKind::Protocol, e.to_string());
                    }
                    Counters::add(&counters.bytes, n);
                    if !self.progress() {
                        return Ended::Replaced;
                    }
                }
                Ok(None) if body.is_complete() => return Ended::Outcome(Outcome::Complete),
                Ok(None) => {
                    let why = format!("the body ended at byte {} of {}", body.filled(), body.len());
                    return failed(self, FailKind::Body, why);
                }
                Err(e) => return failed(self, e.kind, e.why),
            }
        }
    }

    /// The first answer with a body: make the buffer, reserve its bytes
    /// in the cache and hand it to the waiters.
    fn start_body(&mut self, meta: &ObjectMeta, source: &Arc<str>) -> Arc<FillBody> {
        let body = Arc::new(FillBody::new(meta.len));
        let c = &self.shared.counters;
        let mut writes = Vec::new();
        let mut unlink = Vec::new();
        {
            let mut st = self.shared.lock();
            let st = &mut *st;
            match st.cache.reserve(meta.len) {
                Ok((r, evicted)) => {
                    self.reservation = Some(r);
                    for e in evicted {
                        Counters::add(&c.evictions, 1);
                        Counters::add(&c.evicted_bytes, e.size);
                        if let Some(disk) = &mut st.disk {
                            let v = e.value;
                            let (write, gone) = disk.demote(e.key, v.meta, v.source, v.body);
                            Counters::add(&c.disk_evictions, gone.len() as u64);
                            unlink.extend(gone);
                            writes.extend(write);
                        }
                    }
                }
                Err(e) => {
                    Counters::add(&c.uncacheable, 1);
                    tracing::info!(site = %self.key.site, path = %self.key.path, "{e}");
                }
            }
        }
        unlink_later(unlink);
        for w in writes {
            Counters::add(&c.demoted, 1);
            spawn_write(self.shared.clone(), w);
        }
        let stored = Stored {
            meta: meta.clone(),
            body: body.clone(),
            source: source.clone(),
        };
        self.stored = Some(stored.clone());
        self.live.head.send_replace(Head::Ready(stored));
        body
    }

    /// Clears the lock; keeps the object when `complete` and still ours.
    fn finish(&mut self, complete: bool) {
        let shared = self.shared.clone();
        let mut st = shared.lock();
        self.finish_locked(&mut st, complete);
    }

    fn finish_locked(&mut self, st: &mut State, complete: bool) {
        self.done = true;
        let current = st.flights.finish(&self.key, self.id);
        let reservation = self.reservation.take();
        match (reservation, &self.stored) {
            (Some(r), Some(s)) if complete && current => {
                st.cache.commit(self.key.clone(), s.clone(), r);
                // A copy on disk is now the older one.
                if let Some(path) = st.disk.as_mut().and_then(|d| d.remove(&self.key)) {
                    unlink_later(vec![path]);
                }
            }
            (Some(r), _) => st.cache.release(r),
            (None, _) => {}
        }
    }
}

/// Removes files on a blocking thread (gone already is fine).
fn unlink_later(paths: Vec<PathBuf>) {
    if paths.is_empty() {
        return;
    }
    tokio::task::spawn_blocking(move || {
        for p in paths {
            if let Err(e) = std::fs::remove_file(&p)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(path = %p.display(), "cannot remove a disk tier file: {e}");
            }
        }
    });
}

/// Writes a demoted object's file, then checks it is still wanted.
fn spawn_write(shared: Arc<Shared>, write: Write) {
    tokio::spawn(async move {
        let write = Arc::new(write);
        let w = write.clone();
        let result = tokio::task::spawn_blocking(move || disk::write_file(&w))
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|r| r);
        let mut st = shared.lock();
        let Some(disk) = st.disk.as_mut() else {
            return;
        };
        let held = disk.holds(&write.key, &write.entry);
        match result {
            // Evicted while it was being written: its file goes too.
            Ok(()) if !held => unlink_later(vec![write.path.clone()]),
            Ok(()) => {}
            Err(e) => {
                Counters::add(&shared.counters.disk_write_failures, 1);
                tracing::warn!(path = %write.path.display(), "cannot write to the disk tier: {e}");
                if held {
                    disk.remove(&write.key);
                }
                unlink_later(vec![write.path.clone(), write.path.with_extension("tmp")]);
            }
        }
    });
}

impl Drop for Fill {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // Cancelled, panicked or replaced: never leave a lock or waiters.
        {
            let mut st = self.shared.lock();
            st.flights.finish(&self.key, self.id);
            if let Some(r) = self.reservation.take() {
                st.cache.release(r);
            }
        }
        self.live.fail(OpenError::Upstream {
            path: self.key.path.clone(),
            why: "the fill stopped before the object was whole".into(),
            timed_out: false,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse_from_config_text_and_errors_name_the_source() {
        let s = FillSource::parse("peer-a", "http://198.18.0.5:8080", "peer").unwrap();
        assert_eq!((s.kind, s.url.port), (SourceKind::Peer, 8080));
        let e = FillSource::parse("o", "ftp://x", "origin")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`o`"), "{e}");
        let e = FillSource::parse("o", "http://x", "cache")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`cache`") && e.contains("hint:"), "{e}");
    }

    #[test]
    fn an_https_source_without_a_ca_file_is_refused_at_start() {
        let s = FillSource::parse("tier", "https://198.18.0.9", "tier").unwrap();
        let e = FillStore::new(&FillConfig::new(vec![s], 1 << 20))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("`tier`") && e.contains("hint:"), "{e}");
    }

    #[tokio::test]
    async fn no_sources_means_an_upstream_error_not_a_hang() {
        let store = FillStore::new(&FillConfig::new(Vec::new(), 1 << 20)).unwrap();
        let key = ObjectKey {
            site: "a.test".into(),
            path: "/x".into(),
        };
        let e = tokio::time::timeout(Duration::from_secs(5), store.open(&key))
            .await
            .unwrap()
            .err()
            .unwrap();
        assert!(matches!(e, OpenError::Upstream { .. }), "{e}");
        assert_eq!(store.counters().snapshot().upstream_errors, 1);
        assert_eq!(store.usage(), (0, 0, 0));
    }
}
