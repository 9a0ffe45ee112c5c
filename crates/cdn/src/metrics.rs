//! What the front counts and logs: requests and bytes by site, status and
//! cache result, open connections, errors by kind, and, on an edge that
//! fills, its store's [`Counters`] (opens by cache result, hit ratio, fill
//! bytes and fetches by source, failures by kind, evictions); rendered as
//! Prometheus text (the admin endpoint's `/metrics`) and as netproof sample
//! lines (the service sample channel), and one access-log record per
//! request.
//!
//! No I/O here: the front feeds the counters when a response's body ends
//! (so bytes are what was sent, and an aborted body is counted as such),
//! and the server decides where text goes.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde::Serialize;

use crate::fill::counters::{Counters, Snapshot};
use crate::reporter::ReportCounters;
use crate::routes::RouteCounters;

/// One request, as the access log writes it (one JSON object per line).
#[derive(Debug, Clone, Default, Serialize)]
pub struct AccessRecord {
    /// Unix seconds when the request arrived.
    pub time: f64,
    /// The site it was served from (`-` when it was refused before).
    pub site: String,
    /// The TLS server name the client sent, if any.
    pub sni: Option<String>,
    /// The method.
    pub method: String,
    /// The path.
    pub path: String,
    /// The `Range` header, as sent.
    pub range: Option<String>,
    /// The response status.
    pub status: u16,
    /// `hit`, `miss`, `filling`, `origin`, or `-` when nothing was opened.
    pub cache: &'static str,
    /// The fill source, when the bytes came from one.
    pub source: Option<String>,
    /// Body bytes sent.
    pub bytes: u64,
    /// Whether the whole body was sent.
    pub complete: bool,
    /// Seconds from the request to the body's end.
    pub duration: f64,
    /// The client's Common Media Client Data (CTA-5004), as sent: the
    /// `CMCD` query argument, or the `CMCD-Object`, `CMCD-Request`,
    /// `CMCD-Session` and `CMCD-Status` headers joined by commas.
    pub cmcd: Option<String>,
}

/// A request counter's labels: site, status, cache result.
type RequestKey = (Arc<str>, u16, &'static str);

/// The front's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Requests by (site, status, cache result). Keys are shared strings
    /// so counting a request allocates nothing.
    requests: Mutex<HashMap<RequestKey, u64>>,
    /// Body bytes sent by site.
    bytes: Mutex<HashMap<Arc<str>, u64>>,
    /// Connections open now.
    pub open_connections: AtomicI64,
    /// Connections closed because the front was at its cap.
    pub refused_connections: AtomicU64,
    /// TLS handshakes that failed or timed out.
    pub failed_handshakes: AtomicU64,
    /// Connections that ended in a protocol error.
    pub protocol_errors: AtomicU64,
    /// Connections closed because the client sent no request (or HTTP/2
    /// preface) in time.
    pub header_timeouts: AtomicU64,
    /// Response bodies cut off before their end (a failed fill, a client
    /// that left).
    pub aborted_bodies: AtomicU64,
    /// Opens in a row that failed because no fill source could serve
    /// (reset by any open that succeeds).
    pub upstream_failures_in_a_row: AtomicU64,
    /// The edge's store's counters, once [`Metrics::attach_fill`] gave
    /// them (an origin, or an edge serving its catalogue, has none).
    fill: OnceLock<Arc<Counters>>,
    /// The reporter's and the route reader's counters, on an edge that
    /// reports to steering.
    reports: OnceLock<(Arc<ReportCounters>, Option<Arc<RouteCounters>>)>,
}

/// Opens failing upstream in a row that make a front unhealthy: enough
/// that one bad object does not, few enough that an edge cut off from
/// every fill source says so within a handful of requests.
pub const UNHEALTHY_AFTER: u64 = 5;

impl Metrics {
    /// Exports the fill store's counters with the front's, so `/metrics`
    /// and the service samples carry fill traffic and hit ratio. The first
    /// store attached stays (a front serves from one store).
    pub fn attach_fill(&self, counters: Arc<Counters>) {
        let _ = self.fill.set(counters);
    }

    /// Exports the reporter's counters (and the route reader's, when the
    /// edge reads a table) with the front's; the first attached stays.
    pub fn attach_reports(&self, reports: Arc<ReportCounters>, routes: Option<Arc<RouteCounters>>) {
        let _ = self.reports.set((reports, routes));
    }

    /// Reports sent and failed, learned routes and refused routes, when
    /// the edge reports.
    fn report_counts(&self) -> Option<[(&'static str, u64); 4]> {
        let (r, routes) = self.reports.get()?;
        let route = |f: fn(&RouteCounters) -> &AtomicU64| {
            routes.as_ref().map_or(0, |c| f(c).load(Ordering::Relaxed))
        };
        Some([
            ("sent", r.sent.load(Ordering::Relaxed)),
            ("failed", r.failed.load(Ordering::Relaxed)),
            ("routes", route(|c| &c.routes)),
            ("refused", route(|c| &c.refused)),
        ])
    }

    /// The fill store's counters now, when one is attached.
    pub fn fill(&self) -> Option<Snapshot> {
        self.fill.get().map(|c| c.snapshot())
    }

    /// Counts one finished request: its site (`-` when refused before
    /// one was chosen), status, cache result, bytes sent and whether the
    /// body was whole.
    pub fn record(
        &self,
        site: &Arc<str>,
        status: u16,
        cache: &'static str,
        bytes: u64,
        whole: bool,
    ) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((site.clone(), status, cache)).or_default() += 1;
        }
        if let Ok(mut m) = self.bytes.lock() {
            *m.entry(site.clone()).or_default() += bytes;
        }
        if !whole {
            self.aborted_bodies.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The request counts, sorted, for stable output.
    fn sorted_requests(&self) -> Vec<(RequestKey, u64)> {
        let mut v: Vec<_> = self
            .requests
            .lock()
            .map(|m| m.iter().map(|(k, n)| (k.clone(), *n)).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// The byte counts, sorted.
    fn sorted_bytes(&self) -> Vec<(Arc<str>, u64)> {
        let mut v: Vec<_> = self
            .bytes
            .lock()
            .map(|m| m.iter().map(|(k, n)| (k.clone(), *n)).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Counts an open: whether it failed because no fill source could
    /// serve.
    pub fn opened(&self, upstream_failed: bool) {
        if upstream_failed {
            self.upstream_failures_in_a_row
                .fetch_add(1, Ordering::Relaxed);
        } else {
            self.upstream_failures_in_a_row.store(0, Ordering::Relaxed);
        }
    }

    /// Whether the last [`UNHEALTHY_AFTER`] opens or more all failed
    /// upstream.
    pub fn unhealthy(&self) -> bool {
        self.upstream_failures_in_a_row.load(Ordering::Relaxed) >= UNHEALTHY_AFTER
    }

    /// Requests so far with this site, status and cache result.
    pub fn requests(&self, site: &str, status: u16, cache: &'static str) -> u64 {
        self.requests
            .lock()
            .ok()
            .and_then(|m| m.get(&(Arc::from(site), status, cache)).copied())
            .unwrap_or(0)
    }

    /// Body bytes sent so far for `site`.
    pub fn bytes(&self, site: &str) -> u64 {
        self.bytes
            .lock()
            .ok()
            .and_then(|m| m.get(site).copied())
            .unwrap_or(0)
    }

    fn errors(&self) -> [(&'static str, u64); 5] {
        [
            (
                "refused_connection",
                self.refused_connections.load(Ordering::Relaxed),
            ),
            (
                "failed_handshake",
                self.failed_handshakes.load(Ordering::Relaxed),
            ),
            (
                "protocol_error",
                self.protocol_errors.load(Ordering::Relaxed),
            ),
            (
                "header_timeout",
                self.header_timeouts.load(Ordering::Relaxed),
            ),
            ("aborted_body", self.aborted_bodies.load(Ordering::Relaxed)),
        ]
    }

    /// The Prometheus text exposition of every counter.
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP cdn_requests_total Requests answered, by site, status and cache result.\n# TYPE cdn_requests_total counter\n");
        for ((site, status, cache), n) in self.sorted_requests() {
            let _ = writeln!(
                out,
                "cdn_requests_total{{site=\"{}\",status=\"{status}\",cache=\"{cache}\"}} {n}",
                label(&site)
            );
        }
        out.push_str("# HELP cdn_response_bytes_total Body bytes sent, by site.\n# TYPE cdn_response_bytes_total counter\n");
        for (site, n) in self.sorted_bytes() {
            let _ = writeln!(
                out,
                "cdn_response_bytes_total{{site=\"{}\"}} {n}",
                label(&site)
            );
        }
        let _ = writeln!(
            out,
            "# HELP cdn_open_connections Connections open now.\n# TYPE cdn_open_connections gauge\ncdn_open_connections {}",
            self.open_connections.load(Ordering::Relaxed)
        );
        out.push_str("# HELP cdn_errors_total Errors, by kind.\n# TYPE cdn_errors_total counter\n");
        for (kind, n) in self.errors() {
            let _ = writeln!(out, "cdn_errors_total{{kind=\"{kind}\"}} {n}");
        }
        if let Some(f) = self.fill() {
            fill_prometheus(&mut out, &f);
        }
        if let Some([sent, failed, routes, refused]) = self.report_counts() {
            let _ = writeln!(
                out,
                "# HELP cdn_reports_total Reports to steering, by result.\n# TYPE cdn_reports_total counter\ncdn_reports_total{{result=\"sent\"}} {}\ncdn_reports_total{{result=\"failed\"}} {}",
                sent.1, failed.1
            );
            let _ = writeln!(
                out,
                "# HELP cdn_learned_routes Routes learned over BGP, in the kernel table read.\n# TYPE cdn_learned_routes gauge\ncdn_learned_routes {}\n# HELP cdn_learned_routes_refused Routes of that table without the BGP encoding.\n# TYPE cdn_learned_routes_refused gauge\ncdn_learned_routes_refused {}",
                routes.1, refused.1
            );
        }
        out
    }

    /// The same counters as netproof sample lines (`svc.cdn.*`), stamped
    /// `time` (Unix seconds).
    pub fn sample_lines(&self, time: f64) -> Vec<String> {
        let line = |metric: &str, value: f64, unit: &str, labels: serde_json::Value| {
            serde_json::json!({
                "metric": metric, "value": value, "unit": unit, "labels": labels, "time": time,
            })
            .to_string()
        };
        let mut out = Vec::new();
        for ((site, status, cache), n) in self.sorted_requests() {
            out.push(line(
                "svc.cdn.requests",
                n as f64,
                "count",
                serde_json::json!({"site": &*site, "status": status.to_string(), "cache": cache}),
            ));
        }
        for (site, n) in self.sorted_bytes() {
            out.push(line(
                "svc.cdn.response_bytes",
                n as f64,
                "B",
                serde_json::json!({"site": &*site}),
            ));
        }
        out.push(line(
            "svc.cdn.open_connections",
            self.open_connections.load(Ordering::Relaxed) as f64,
            "count",
            serde_json::json!({}),
        ));
        for (kind, n) in self.errors() {
            out.push(line(
                "svc.cdn.errors",
                n as f64,
                "count",
                serde_json::json!({"kind": kind}),
            ));
        }
        if let Some(f) = self.fill() {
            let none = serde_json::json!({});
            for (result, n) in opens(&f) {
                let labels = serde_json::json!({ "result": result });
                out.push(line("svc.cdn.fill.opens", n as f64, "count", labels));
            }
            if let Some(r) = hit_ratio(&f) {
                out.push(line("svc.cdn.fill.hit_ratio", r, "ratio", none.clone()));
            }
            for (name, bytes, fetches, completed) in &f.sources {
                let labels = serde_json::json!({ "source": &**name });
                out.push(line(
                    "svc.cdn.fill.bytes",
                    *bytes as f64,
                    "B",
                    labels.clone(),
                ));
                out.push(line(
                    "svc.cdn.fill.fetches",
                    *fetches as f64,
                    "count",
                    labels.clone(),
                ));
                out.push(line(
                    "svc.cdn.fill.completed",
                    *completed as f64,
                    "count",
                    labels,
                ));
            }
            for (kind, n) in &f.failures {
                let labels = serde_json::json!({ "kind": kind.name() });
                out.push(line("svc.cdn.fill.failures", *n as f64, "count", labels));
            }
            for (what, n) in store_events(&f) {
                let labels = serde_json::json!({ "event": what });
                out.push(line("svc.cdn.cache.events", n as f64, "count", labels));
            }
            out.push(line(
                "svc.cdn.cache.evicted_bytes",
                f.evicted_bytes as f64,
                "B",
                none,
            ));
        }
        if let Some([sent, failed, routes, refused]) = self.report_counts() {
            for (result, n) in [sent, failed] {
                let labels = serde_json::json!({ "result": result });
                out.push(line("svc.cdn.reports", n as f64, "count", labels));
            }
            let none = serde_json::json!({});
            out.push(line(
                "svc.cdn.learned_routes",
                routes.1 as f64,
                "count",
                none.clone(),
            ));
            out.push(line(
                "svc.cdn.learned_routes_refused",
                refused.1 as f64,
                "count",
                none,
            ));
        }
        out
    }
}

/// Opens by how the store answered them.
fn opens(f: &Snapshot) -> [(&'static str, u64); 7] {
    [
        ("hit", f.hits),
        ("miss", f.misses),
        ("coalesced", f.coalesced),
        ("not_found", f.not_found),
        ("upstream_error", f.upstream_errors),
        ("not_cached", f.not_cached),
        ("prefill", f.prefills),
    ]
}

/// Hits over opens that found an object (hits, misses, coalesced misses);
/// none before the first. A coalesced miss is a miss: it waited on a fill.
pub fn hit_ratio(f: &Snapshot) -> Option<f64> {
    let all = f.hits + f.misses + f.coalesced;
    (all > 0).then(|| f.hits as f64 / all as f64)
}

/// The cache's and the fill lock's events, by name.
fn store_events(f: &Snapshot) -> [(&'static str, u64); 7] {
    [
        ("eviction", f.evictions),
        ("uncacheable", f.uncacheable),
        ("stale_lock", f.stale_locks),
        ("disk_hit", f.disk_hits),
        ("disk_demotion", f.demoted),
        ("disk_eviction", f.disk_evictions),
        ("disk_write_failure", f.disk_write_failures),
    ]
}

/// The fill store's counters in Prometheus text.
fn fill_prometheus(out: &mut String, f: &Snapshot) {
    out.push_str("# HELP cdn_fill_opens_total Opens of the edge's store, by how it answered.\n# TYPE cdn_fill_opens_total counter\n");
    for (result, n) in opens(f) {
        let _ = writeln!(out, "cdn_fill_opens_total{{result=\"{result}\"}} {n}");
    }
    if let Some(r) = hit_ratio(f) {
        let _ = writeln!(
            out,
            "# HELP cdn_fill_hit_ratio Hits over hits and misses (coalesced included).\n# TYPE cdn_fill_hit_ratio gauge\ncdn_fill_hit_ratio {r}"
        );
    }
    type Column = fn(&(Arc<str>, u64, u64, u64)) -> u64;
    let per_source: [(&str, &str, Column); 3] = [
        (
            "cdn_fill_bytes_total",
            "Body bytes received, by fill source.",
            |s| s.1,
        ),
        (
            "cdn_fill_fetches_total",
            "Requests sent, by fill source.",
            |s| s.2,
        ),
        (
            "cdn_fill_completed_total",
            "Objects completed, by fill source.",
            |s| s.3,
        ),
    ];
    for (name, help, column) in per_source {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for s in &f.sources {
            let _ = writeln!(out, "{name}{{source=\"{}\"}} {}", label(&s.0), column(s));
        }
    }
    out.push_str("# HELP cdn_fill_failures_total Failed fill attempts, by kind.\n# TYPE cdn_fill_failures_total counter\n");
    for (kind, n) in &f.failures {
        let _ = writeln!(
            out,
            "cdn_fill_failures_total{{kind=\"{}\"}} {n}",
            kind.name()
        );
    }
    out.push_str("# HELP cdn_cache_events_total Cache and fill lock events: evictions, objects too large to keep, stale locks replaced, disk tier hits, demotions, evictions, write failures.\n# TYPE cdn_cache_events_total counter\n");
    for (what, n) in store_events(f) {
        let _ = writeln!(out, "cdn_cache_events_total{{event=\"{what}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "# HELP cdn_cache_evicted_bytes_total Bytes of the objects evicted from memory.\n# TYPE cdn_cache_evicted_bytes_total counter\ncdn_cache_evicted_bytes_total {}",
        f.evicted_bytes
    );
}

/// A Prometheus label value: backslash, quote and newline escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(m: &Metrics, site: &str, status: u16, cache: &'static str, bytes: u64, whole: bool) {
        m.record(&Arc::from(site), status, cache, bytes, whole);
    }

    #[test]
    fn requests_and_bytes_add_up_by_their_labels() {
        let m = Metrics::default();
        rec(&m, "a.test", 200, "hit", 100, true);
        rec(&m, "a.test", 200, "hit", 50, true);
        rec(&m, "a.test", 206, "miss", 10, false);
        rec(&m, "-", 404, "-", 20, true);
        assert_eq!(m.requests("a.test", 200, "hit"), 2);
        assert_eq!(m.requests("a.test", 206, "miss"), 1);
        assert_eq!(m.bytes("a.test"), 160);
        let text = m.prometheus();
        assert!(
            text.contains("cdn_requests_total{site=\"a.test\",status=\"200\",cache=\"hit\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("cdn_response_bytes_total{site=\"-\"} 20\n"),
            "{text}"
        );
        assert!(
            text.contains("cdn_errors_total{kind=\"aborted_body\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn sample_lines_use_the_service_sample_format() {
        let m = Metrics::default();
        rec(&m, "a.test", 200, "origin", 7, true);
        let lines = m.sample_lines(1.5);
        let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(first["metric"], "svc.cdn.requests");
        assert_eq!(first["unit"], "count");
        assert_eq!(first["labels"]["status"], "200");
        assert_eq!(first["time"], 1.5);
        assert!(
            lines
                .iter()
                .any(|l| l.contains("\"svc.cdn.response_bytes\"") && l.contains("\"B\""))
        );
    }

    #[test]
    fn upstream_failures_in_a_row_make_a_front_unhealthy_and_a_success_heals_it() {
        let m = Metrics::default();
        for _ in 0..UNHEALTHY_AFTER - 1 {
            m.opened(true);
        }
        assert!(!m.unhealthy());
        m.opened(true);
        assert!(m.unhealthy());
        m.opened(false);
        assert!(!m.unhealthy());
    }

    #[test]
    fn an_attached_fill_store_is_exported_with_its_hit_ratio_sources_and_failures() {
        let m = Metrics::default();
        assert!(!m.prometheus().contains("cdn_fill"));
        let c = Arc::new(Counters::new(["peer".into(), "origin".into()]));
        m.attach_fill(c.clone());
        // No open yet: no ratio to report.
        assert!(!m.prometheus().contains("cdn_fill_hit_ratio"));
        Counters::add(&c.hits, 3);
        Counters::add(&c.misses, 1);
        Counters::add(&c.sources[1].bytes, 4096);
        Counters::add(&c.sources[1].fetches, 1);
        Counters::add(&c.evictions, 2);
        c.failed(crate::fill::plan::FailKind::Stall);
        let text = m.prometheus();
        for want in [
            "cdn_fill_opens_total{result=\"hit\"} 3\n",
            "cdn_fill_opens_total{result=\"miss\"} 1\n",
            "cdn_fill_hit_ratio 0.75\n",
            "cdn_fill_bytes_total{source=\"origin\"} 4096\n",
            "cdn_fill_bytes_total{source=\"peer\"} 0\n",
            "cdn_fill_fetches_total{source=\"origin\"} 1\n",
            "cdn_fill_failures_total{kind=\"stall\"} 1\n",
            "cdn_cache_events_total{event=\"eviction\"} 2\n",
        ] {
            assert!(text.contains(want), "no `{want}` in\n{text}");
        }
        let lines: Vec<serde_json::Value> = m
            .sample_lines(2.0)
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let find = |metric: &str, key: &str, value: &str| {
            lines
                .iter()
                .find(|l| l["metric"] == metric && (key.is_empty() || l["labels"][key] == value))
                .unwrap_or_else(|| panic!("no {metric} {key}={value}"))
                .clone()
        };
        assert_eq!(find("svc.cdn.fill.hit_ratio", "", "")["value"], 0.75);
        assert_eq!(find("svc.cdn.fill.hit_ratio", "", "")["unit"], "ratio");
        let bytes = find("svc.cdn.fill.bytes", "source", "origin");
        assert_eq!(
            (bytes["value"].as_f64(), &bytes["unit"]),
            (Some(4096.0), &serde_json::json!("B"))
        );
        assert_eq!(find("svc.cdn.fill.opens", "result", "hit")["value"], 3.0);
        assert_eq!(find("svc.cdn.fill.failures", "kind", "stall")["value"], 1.0);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
