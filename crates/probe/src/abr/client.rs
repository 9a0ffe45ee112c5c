//! The thin I/O around [`Player`]: fetches each segment the player asks
//! for from a ranked list of servers, falling back to the next one when a
//! request fails, and records every segment and the session as samples.
//!
//! Each segment is one request of the HTTP probe ([`http::Client`]) on a
//! fresh connection, so its phases (connect, TLS, TTFB, transfer) are
//! those the `http` step measures; the download time the player sees runs
//! from the request's start to its last byte, handshakes included. A
//! server that fails (refused, reset, timed out, a status that is not
//! 2xx, bytes that fail verification) is left for the next one, which
//! keeps serving the session; when every server failed for a segment the
//! session is abandoned, and what it measured so far stays recorded.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use netproof_proto::content::ContentKey;
use netproof_proto::url::Url;
use netproof_sample::metric::{
    ABR_AVG_BITRATE, ABR_BITRATE, ABR_BUFFER, ABR_BYTES, ABR_DOWNLOAD, ABR_QOE, ABR_STALL,
    ABR_STALL_TIME, ABR_STALLS, ABR_STARTUP, ABR_STATUS, ABR_SWITCHES, ABR_TTFB,
};
use netproof_sample::{Labels, Metric, Sample, Sink, Timestamp};
use tokio::time::Instant;

use super::cmcd::Cmcd;
use super::manifest::Presentation;
use super::player::{Next, Player, PlayerConfig, SessionSummary};
use crate::http::{self, RequestReport};

/// How CMCD travels with each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmcdMode {
    /// Not sent.
    Off,
    /// A `CMCD=` query argument.
    Query,
    /// The four `CMCD-*` request headers.
    Headers,
}

/// One server of the ranked list.
#[derive(Debug, Clone, PartialEq)]
pub struct Server {
    /// Scheme, host and port (the Host header and SNI unless the session
    /// sets them), and a path prefix put before each segment's path (`/`
    /// for none).
    pub url: Url,
    /// Where to connect, when not the URL's host.
    pub connect: Option<SocketAddr>,
}

/// One streaming session.
#[derive(Clone)]
pub struct SessionConfig {
    /// The servers, best first.
    pub servers: Vec<Server>,
    /// What is played.
    pub presentation: Presentation,
    /// The player's settings (segments, duration and bitrates are taken
    /// from the presentation).
    pub player: PlayerConfig,
    /// The HTTP settings every request shares (trust, SNI, Host, HTTP/2,
    /// timeout, allowed addresses); its URL, connect address, range and
    /// headers are set per request.
    pub http: http::Config,
    /// How to make connections (inside a node's namespace in a lab).
    pub connector: http::Connector,
    /// CMCD.
    pub cmcd: CmcdMode,
    /// The session id CMCD sends.
    pub session_id: String,
    /// Check each segment's bytes against the reference CDN's catalogue
    /// of this seed.
    pub verify: Option<u64>,
    /// Names for the addresses connected to (a lab's nodes), for the
    /// `node` label.
    pub names: Vec<(IpAddr, String)>,
}

/// How the session went: its figures and why it ended early, if it did.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionOutcome {
    /// The quality figures.
    pub summary: SessionSummary,
    /// The last failure of each server for the segment that ended the
    /// session, when every server failed.
    pub abandoned: Option<String>,
    /// Requests that failed (a later server may have served the segment).
    pub failed_requests: u32,
}

/// Plays the session and records it into `sink` with `labels`.
///
/// Per segment (labels `segment`, `kbps`, `url` (the server's index,
/// from 0), `node` or `addr`, `cache` when the server says, `status`):
/// `abr.bitrate` stamped at the request, `abr.ttfb`, `abr.download`,
/// `abr.bytes`, `abr.status`, and `abr.buffer` twice (label `at` =
/// `request`, stamped at the request, and `done`, at the last byte).
/// A failed request is a failed `abr.download` with `error` and
/// `reason`. Per stall, `abr.stall` (its duration, stamped at its start);
/// per session, `abr.startup`, `abr.stalls`, `abr.stall_time`,
/// `abr.switches`, `abr.avg_bitrate` and `abr.qoe`.
pub async fn play(cfg: &SessionConfig, sink: &dyn Sink, labels: &Labels) -> SessionOutcome {
    let p = &cfg.presentation;
    let bitrates = p.bitrates();
    let top = *bitrates.last().unwrap_or(&0);
    let mut player = Player::new(PlayerConfig {
        segment_duration: p.segment_duration,
        bitrates: bitrates.clone(),
        segments: p.segments(),
        ..cfg.player.clone()
    });
    let start = Instant::now();
    let wall_start = Timestamp::now();
    let wall = |d: Duration| Timestamp(wall_start.0 + i64::try_from(d.as_nanos()).unwrap_or(0));
    let mut current = 0usize;
    let mut failed_requests = 0u32;
    let mut abandoned = None;
    let mut measured: Option<u64> = None;
    loop {
        let now = start.elapsed();
        match player.next(now) {
            Next::Done => break,
            Next::WaitUntil(t) => {
                tokio::time::sleep_until(start + t).await;
                continue;
            }
            Next::Fetch { segment, rendition } => {
                let buffer_before = player.buffer(now);
                let seg = &p.renditions[rendition].segments[segment];
                let kbps = bitrates[rendition];
                let cmcd = Cmcd {
                    br: kbps,
                    bl: buffer_before.as_millis() as u64,
                    bs: player.stalled(),
                    d: p.segment_duration.as_millis() as u64,
                    mtp: measured,
                    sf: 'o',
                    sid: cfg.session_id.clone(),
                    su: player.records().is_empty() || player.stalled(),
                    tb: top,
                };
                let mut l = labels.clone();
                l.insert("segment".into(), segment.to_string());
                l.insert("kbps".into(), kbps.to_string());
                emit(sink, &ABR_BITRATE, f64::from(kbps) * 1000.0, &l, wall(now));
                let mut lb = l.clone();
                lb.insert("at".into(), "request".into());
                emit(
                    sink,
                    &ABR_BUFFER,
                    buffer_before.as_secs_f64(),
                    &lb,
                    wall(now),
                );
                let mut served = None;
                let mut reasons = Vec::new();
                for (i, server) in cfg.servers.iter().enumerate().skip(current) {
                    let base = &server.url;
                    let path = join_path(&base.path, &seg.path);
                    let (path, headers) = match cfg.cmcd {
                        CmcdMode::Off => (path, Vec::new()),
                        CmcdMode::Query => (cmcd.append_to(&path), Vec::new()),
                        CmcdMode::Headers => (path, cmcd.headers()),
                    };
                    let content_path = join_path(&base.path, &seg.path);
                    let report = fetch(cfg, server, path, seg.range, headers, &content_path).await;
                    let mut l = l.clone();
                    l.insert("url".into(), i.to_string());
                    if let Some(a) = report.addr {
                        match cfg.names.iter().find(|(ip, _)| *ip == a.ip()) {
                            Some((_, n)) => l.insert("node".into(), n.clone()),
                            None => l.insert("addr".into(), a.to_string()),
                        };
                    }
                    if let Some(c) = cache_result(&report.headers) {
                        l.insert("cache".into(), c);
                    }
                    if let Some(s) = report.status {
                        l.insert("status".into(), s.to_string());
                    }
                    match judge(&report) {
                        Ok(()) => {
                            served = Some((report, l));
                            current = i;
                            break;
                        }
                        Err(reason) => {
                            failed_requests += 1;
                            let mut s = Sample::failed(&ABR_DOWNLOAD, short_error(&report))
                                .label("reason", reason.clone())
                                .at(report.time);
                            s.labels.extend(l);
                            sink.sample(s);
                            reasons.push(format!("{}: {reason}", base_text(base)));
                        }
                    }
                }
                let done = start.elapsed();
                let Some((report, l)) = served else {
                    player.failed(done);
                    abandoned = Some(format!(
                        "segment {segment} at {kbps} kbit/s could not be had from any server ({})",
                        reasons.join("; ")
                    ));
                    break;
                };
                let download = done.saturating_sub(now);
                let record = player.downloaded(done, report.bytes, download);
                if record.throughput.is_finite() {
                    measured = Some((record.throughput / 1000.0) as u64);
                }
                if let Some(t) = report.ttfb {
                    emit(sink, &ABR_TTFB, t.as_secs_f64(), &l, wall(now));
                }
                emit(sink, &ABR_DOWNLOAD, download.as_secs_f64(), &l, wall(now));
                emit(sink, &ABR_BYTES, report.bytes as f64, &l, wall(now));
                if let Some(s) = report.status {
                    emit(sink, &ABR_STATUS, f64::from(s), &l, wall(now));
                }
                let mut lb = l.clone();
                lb.insert("at".into(), "done".into());
                emit(
                    sink,
                    &ABR_BUFFER,
                    record.buffer_after.as_secs_f64(),
                    &lb,
                    wall(done),
                );
            }
        }
    }
    let end = start.elapsed();
    let summary = player.finish(end);
    for s in &summary.stalls {
        emit(
            sink,
            &ABR_STALL,
            s.duration.as_secs_f64(),
            labels,
            wall(s.at),
        );
    }
    let at = wall(end);
    if let Some(d) = summary.startup_delay {
        emit(sink, &ABR_STARTUP, d.as_secs_f64(), labels, wall_start);
    }
    emit(sink, &ABR_STALLS, summary.stalls.len() as f64, labels, at);
    emit(
        sink,
        &ABR_STALL_TIME,
        summary.stall_time().as_secs_f64(),
        labels,
        at,
    );
    emit(sink, &ABR_SWITCHES, f64::from(summary.switches), labels, at);
    emit(sink, &ABR_AVG_BITRATE, summary.average_bitrate, labels, at);
    emit(sink, &ABR_QOE, summary.qoe, labels, at);
    SessionOutcome {
        summary,
        abandoned,
        failed_requests,
    }
}

fn emit(sink: &dyn Sink, m: &Metric, v: f64, labels: &Labels, at: Timestamp) {
    let mut s = Sample::num(m, v).at(at);
    s.labels
        .extend(labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    sink.sample(s);
}

/// The largest manifest read.
const MANIFEST_MAX: usize = 1 << 20;

/// Fetches and parses the manifest at `path` from the first server that
/// serves it (2xx). The error says what each server answered, or why
/// the manifest cannot be played.
pub async fn fetch_manifest(cfg: &SessionConfig, path: &str) -> Result<Presentation, String> {
    let mut reasons = Vec::new();
    for server in &cfg.servers {
        let body = Arc::new(Mutex::new(Vec::new()));
        let sink = body.clone();
        let collect = Arc::new(move |_offset: u64, chunk: &[u8]| {
            let mut b = sink.lock().map_err(|_| "poisoned".to_string())?;
            if b.len() + chunk.len() > MANIFEST_MAX {
                return Err(format!("the manifest is larger than {MANIFEST_MAX} bytes"));
            }
            b.extend_from_slice(chunk);
            Ok(())
        });
        let client = match client_for(
            cfg,
            server,
            join_path(&server.url.path, path),
            None,
            Vec::new(),
        ) {
            Ok(c) => c.with_body_check(collect),
            Err(e) => return Err(e),
        };
        let report = client.request().await;
        if let Err(reason) = judge(&report) {
            reasons.push(format!("{}: {reason}", base_text(&server.url)));
            continue;
        }
        let text = body.lock().map(|b| b.clone()).unwrap_or_default();
        let text = String::from_utf8(text).map_err(|_| {
            format!(
                "the manifest `{path}` from {} is not UTF-8 text",
                base_text(&server.url)
            )
        })?;
        return Presentation::parse(&text)
            .map_err(|e| format!("the manifest `{path}` from {}: {e}", base_text(&server.url)));
    }
    Err(format!(
        "no server served the manifest `{path}` ({})",
        reasons.join("; ")
    ))
}

/// The HTTP probe for one request to `server`.
fn client_for(
    cfg: &SessionConfig,
    server: &Server,
    path: String,
    range: Option<netproof_proto::range::ByteRange>,
    headers: Vec<(String, String)>,
) -> Result<http::Client, String> {
    let hc = http::Config {
        url: Url {
            path,
            ..server.url.clone()
        },
        connect: server.connect.map(http::Endpoint::Addr),
        range,
        headers,
        requests: 1,
        ..cfg.http.clone()
    };
    http::Client::new(hc, cfg.connector.clone()).map_err(|e| e.to_string())
}

/// One request for one segment from one server.
async fn fetch(
    cfg: &SessionConfig,
    server: &Server,
    path: String,
    range: Option<netproof_proto::range::ByteRange>,
    headers: Vec<(String, String)>,
    content_path: &str,
) -> RequestReport {
    let client = match client_for(cfg, server, path, range, headers) {
        Ok(c) => c,
        Err(reason) => {
            let mut r = RequestReport::new(Timestamp::now());
            r.failure = Some(http::Failure {
                phase: http::Phase::Connect,
                reason,
            });
            return r;
        }
    };
    let client = match cfg
        .verify
        .and_then(|seed| ContentKey::for_path(seed, content_path))
    {
        Some(key) => client.with_body_check(Arc::new(move |offset: u64, chunk: &[u8]| {
            match key.first_mismatch(offset, chunk) {
                None => Ok(()),
                Some(at) => Err(format!("byte {at} differs from the catalogue's")),
            }
        })),
        None => client,
    };
    client.request().await
}

/// Whether a request served its segment, and if not, why.
fn judge(r: &RequestReport) -> Result<(), String> {
    if let Some(f) = &r.failure {
        return Err(format!("{} failed: {}", f.phase.as_str(), f.reason));
    }
    match r.status {
        Some(s) if (200..300).contains(&s) => Ok(()),
        Some(s) => Err(format!("status {s}")),
        None => Err("no response".into()),
    }
}

fn short_error(r: &RequestReport) -> String {
    match (&r.failure, r.status) {
        (Some(f), _) => f.phase.as_str().to_string(),
        (None, Some(s)) => format!("status_{s}"),
        (None, None) => "no_response".into(),
    }
}

fn base_text(u: &Url) -> String {
    format!("{}://{}", u.scheme.as_str(), u.authority())
}

/// `prefix` (a base URL's path, `/` or `/cdn`) joined with `path`
/// (`/t/7/...`).
fn join_path(prefix: &str, path: &str) -> String {
    let prefix = prefix.split('?').next().unwrap_or("").trim_end_matches('/');
    format!("{prefix}{path}")
}

/// The cache result a server reports: the reference CDN's `x-cache:
/// netproof; hit; source=origin` (`hit`), nginx's `x-cache-status: HIT`,
/// or another `x-cache: HIT from ...` (its first word), lower-cased.
pub fn cache_result(headers: &[(String, String)]) -> Option<String> {
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.trim())
    };
    if let Some(v) = get("x-cache") {
        let mut parts = v.split(';').map(str::trim);
        let first = parts.next().unwrap_or("");
        let word = if first.eq_ignore_ascii_case("netproof") {
            parts.next().unwrap_or("")
        } else {
            first.split_whitespace().next().unwrap_or("")
        };
        return (!word.is_empty()).then(|| word.to_ascii_lowercase());
    }
    get("x-cache-status").map(str::to_ascii_lowercase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_result_is_read_from_the_usual_headers() {
        let h = |n: &str, v: &str| vec![(n.to_string(), v.to_string())];
        assert_eq!(
            cache_result(&h("x-cache", "netproof; hit; source=origin")).as_deref(),
            Some("hit")
        );
        assert_eq!(
            cache_result(&h("x-cache", "netproof; miss")).as_deref(),
            Some("miss")
        );
        assert_eq!(
            cache_result(&h("X-Cache", "HIT from edge-1")).as_deref(),
            Some("hit")
        );
        assert_eq!(
            cache_result(&h("x-cache-status", "EXPIRED")).as_deref(),
            Some("expired")
        );
        assert_eq!(cache_result(&h("server", "nginx")), None);
    }

    #[test]
    fn a_base_path_prefixes_each_segment() {
        assert_eq!(join_path("/", "/t/7/500k/0000.m4s"), "/t/7/500k/0000.m4s");
        assert_eq!(join_path("/cdn/", "/a.m4s"), "/cdn/a.m4s");
        assert_eq!(join_path("/cdn?x=1", "/a.m4s"), "/cdn/a.m4s");
    }
}
