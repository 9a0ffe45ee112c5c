//! What the front counts and logs: requests and bytes by site, status and
//! cache result, open connections, errors by kind; rendered as Prometheus
//! text (the admin endpoint's `/metrics`) and as netproof sample lines (the
//! service sample channel), and one access-log record per request.
//!
//! No I/O here: the front feeds the counters when a response's body ends
//! (so bytes are what was sent, and an aborted body is counted as such),
//! and the server decides where text goes.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

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
}

/// Opens failing upstream in a row that make a front unhealthy: enough
/// that one bad object does not, few enough that an edge cut off from
/// every fill source says so within a handful of requests.
pub const UNHEALTHY_AFTER: u64 = 5;

impl Metrics {
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
        out
    }
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
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
