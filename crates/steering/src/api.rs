//! Steering's HTTP faces, HTTP/1.1:
//!
//! The API listener:
//! - `GET /steer?client=IP[/LEN]&title=ID[&site=NAME]`: the ranking for a
//!   client (an address, or a subnet) as JSON: `{client, site, title,
//!   urls, ranked: [{edge, url, kind, usable, reason}], miss, scope}`.
//!   Each URL is the edge's `url` plus the title's directory in the
//!   catalogue's path shape, `/t/{title}/` (a manifest-level URL: the
//!   player appends `{kbps}k/{segment}.m4s`), or `/` without a title.
//!   `urls` lists the usable edges only; `ranked` lists every candidate.
//! - `POST /report`: an [`EdgeReport`] as JSON (at most
//!   [`MAX_REPORT_BYTES`]): 204 when taken; 400 with the reason for a body
//!   that is not a report or says something impossible; 404 for an edge
//!   the config does not list; 409 for a report older than the last taken.
//!   Every rejection is counted and logged.
//! - `GET /edges`: every edge's state as JSON (polled health, whether it
//!   is usable and why not, its last report's age, seq, health, load,
//!   route and title counts), for tests and people.
//!
//! The admin listener: `GET /health` (`ok`), `GET /metrics` (Prometheus).

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use netproof_proto::prefix::IpNet;
use netproof_proto::steering::{EdgeKind, EdgeReport};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::decision::{Query, ReportError};
use crate::metrics::Face;
use crate::server::Service;

/// Bytes of report read at most: 200,000 routes of JSON fit.
pub const MAX_REPORT_BYTES: usize = 32 << 20;

/// Time a client has to send its whole request body.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Which listener a connection came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `/steer`, `/report`, `/edges`.
    Api,
    /// `/health`, `/metrics`.
    Admin,
}

/// Serves `role` on `listener` until dropped.
pub async fn serve(listener: TcpListener, service: Arc<Service>, role: Role) {
    let mut conns = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let Ok((stream, _)) = accepted else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let service = service.clone();
        conns.spawn(async move {
            let svc = service_fn(move |req: Request<Incoming>| {
                let service = service.clone();
                async move { Ok::<_, Infallible>(answer(&service, role, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

type Body = Full<Bytes>;

fn reply(status: StatusCode, text: impl Into<String>) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(text.into())));
    *r.status_mut() = status;
    r
}

fn reply_json(status: StatusCode, v: &Value) -> Response<Body> {
    let mut r = reply(status, format!("{v}\n"));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

const API_USAGE: &str = "GET /steer?client=IP&title=ID[&site=NAME], POST /report, GET /edges\n";
const ADMIN_USAGE: &str = "GET /health, GET /metrics\n";

async fn answer(service: &Service, role: Role, req: Request<Incoming>) -> Response<Body> {
    let get = matches!(*req.method(), Method::GET | Method::HEAD);
    let post = req.method() == Method::POST;
    match (role, req.uri().path()) {
        (Role::Api, "/steer") if get => steer(service, req.uri().query().unwrap_or("")),
        (Role::Api, "/report") if post => report(service, req.into_body()).await,
        (Role::Api, "/edges") if get => reply_json(StatusCode::OK, &edges(service)),
        (Role::Api, "/steer" | "/report" | "/edges") => {
            reply(StatusCode::METHOD_NOT_ALLOWED, API_USAGE)
        }
        (Role::Api, _) => reply(StatusCode::NOT_FOUND, format!("not found; try {API_USAGE}")),
        (Role::Admin, "/health") if get => reply(StatusCode::OK, "ok\n"),
        (Role::Admin, "/metrics") if get => {
            let s = service.steering();
            reply(
                StatusCode::OK,
                service.metrics().prometheus(&s, service.now()),
            )
        }
        (Role::Admin, "/health" | "/metrics") => reply(StatusCode::METHOD_NOT_ALLOWED, ADMIN_USAGE),
        (Role::Admin, _) => reply(
            StatusCode::NOT_FOUND,
            format!("not found; try {ADMIN_USAGE}"),
        ),
    }
}

fn bad_request(what: String, hint: &str) -> Response<Body> {
    reply_json(
        StatusCode::BAD_REQUEST,
        &json!({ "error": what, "hint": hint }),
    )
}

/// The `/steer` query's parameters.
struct SteerQuery {
    client: IpNet,
    site: String,
    title: Option<u32>,
}

/// A bad parameter: what is wrong, and the hint.
type Bad = (String, &'static str);

fn parse_steer(query: &str) -> Result<SteerQuery, Bad> {
    let (mut client, mut site, mut title) = (None, String::new(), None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "client" => {
                let net = v
                    .parse::<IpNet>()
                    .map(|n| n.trunc())
                    .or_else(|_| v.parse::<IpAddr>().map(IpNet::from));
                client = Some(net.map_err(|_| {
                    (
                        format!("`client={v}` is not an address or a subnet"),
                        "write the client's address, e.g. `client=198.18.64.7`, or a subnet `198.18.64.0/24`",
                    )
                })?);
            }
            "title" => {
                title = Some(v.parse::<u32>().map_err(|_| {
                    (
                        format!("`title={v}` is not a title number"),
                        "write the title's number, e.g. `title=7`",
                    )
                })?);
            }
            "site" => site = v.to_ascii_lowercase(),
            other => {
                return Err((
                    format!("unknown parameter `{other}`"),
                    "use `client`, `title` and `site`",
                ));
            }
        }
    }
    let client = client.ok_or_else(|| {
        (
            "no `client`".to_string(),
            "add `client=IP`, the address of the client to steer",
        )
    })?;
    Ok(SteerQuery {
        client,
        site,
        title,
    })
}

fn kind(k: EdgeKind) -> &'static str {
    match k {
        EdgeKind::Embedded => "embedded",
        EdgeKind::Exchange => "exchange",
        EdgeKind::Tier => "tier",
    }
}

fn steer(service: &Service, query: &str) -> Response<Body> {
    let q = match parse_steer(query) {
        Ok(q) => q,
        Err((what, hint)) => return bad_request(what, hint),
    };
    let query = Query {
        client: q.client,
        site: &q.site,
        title: q.title,
    };
    let body = service.decide(Face::Api, &query, |s, d| {
        let url = |i: usize| {
            let base = s.edges()[i].entry.url.trim_end_matches('/');
            match q.title {
                Some(t) => format!("{base}/t/{t}/"),
                None => format!("{base}/"),
            }
        };
        let ranked: Vec<Value> = d
            .ranked
            .iter()
            .map(|r| {
                let e = &s.edges()[r.edge].entry;
                json!({
                    "edge": e.name,
                    "url": url(r.edge),
                    "kind": kind(e.kind),
                    "class": r.reason.class.as_str(),
                    "usable": r.usable(),
                    "reason": r.reason.to_string(),
                })
            })
            .collect();
        let urls: Vec<String> = d.usable().map(|r| url(r.edge)).collect();
        let client = if q.client.prefix_len() == q.client.max_prefix_len() {
            q.client.addr().to_string()
        } else {
            q.client.to_string()
        };
        json!({
            "client": client,
            "site": q.site,
            "title": q.title,
            "urls": urls,
            "ranked": ranked,
            "miss": d.miss.map(|m| m.as_str()),
            "scope": d.scope,
        })
    });
    reply_json(StatusCode::OK, &body)
}

async fn report(service: &Service, body: Incoming) -> Response<Body> {
    let reject = |result: &str, status: StatusCode, what: String, hint: &str| {
        service.metrics().report(result);
        tracing::warn!(result, %what, "report rejected");
        reply_json(status, &json!({ "error": what, "hint": hint }))
    };
    let too_large = || {
        reject(
            "too_large",
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the report is over {MAX_REPORT_BYTES} bytes"),
            "report the client prefixes the ISP announces, not a full table",
        )
    };
    // A body announced too large is refused from its head, unread.
    if hyper::body::Body::size_hint(&body).lower() > MAX_REPORT_BYTES as u64 {
        return too_large();
    }
    let bytes =
        match tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, MAX_REPORT_BYTES).collect())
            .await
        {
            Err(_) => {
                return reject(
                    "bad_json",
                    StatusCode::REQUEST_TIMEOUT,
                    format!("the report did not arrive within {BODY_TIMEOUT:?}"),
                    "send the whole report at once",
                );
            }
            Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => return too_large(),
            Ok(Err(e)) => {
                return reject(
                    "bad_json",
                    StatusCode::BAD_REQUEST,
                    format!("reading the report failed: {e}"),
                    "send the report as the request body",
                );
            }
            Ok(Ok(b)) => b.to_bytes(),
        };
    let report: EdgeReport = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(e) => {
            return reject(
                "bad_json",
                StatusCode::BAD_REQUEST,
                format!("the body is not an edge report: {e}"),
                "send JSON with `edge`, `seq`, `health`, `load`, `routes` and `contents` (docs/cdn.md, \"Steering\")",
            );
        }
    };
    match service.report(report) {
        Ok(()) => {
            service.metrics().report("accepted");
            reply(StatusCode::NO_CONTENT, "")
        }
        Err(e) => {
            let status = match e {
                ReportError::UnknownEdge(_) => StatusCode::NOT_FOUND,
                ReportError::Stale { .. } => StatusCode::CONFLICT,
                ReportError::Invalid { .. } => StatusCode::BAD_REQUEST,
            };
            let text = e.to_string();
            let (what, hint) = text.split_once("\nhint: ").unwrap_or((&text, ""));
            reject(e.kind(), status, what.to_string(), hint)
        }
    }
}

fn edges(service: &Service) -> Value {
    let s = service.steering();
    let now = service.now();
    let list: Vec<Value> = s
        .edges()
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let report = s.last_report(i, now).map(|(r, age)| {
                json!({
                    "seq": r.seq,
                    "age": age.as_secs_f64(),
                    "fresh": s.is_fresh(i, now),
                    "health": r.health.as_str(),
                    "load": r.load,
                    "routes": r.routes.len(),
                    "titles": r.contents.titles.iter().map(|t| t.titles.len()).sum::<usize>(),
                })
            });
            json!({
                "edge": e.entry.name,
                "kind": kind(e.entry.kind),
                "cluster": e.entry.cluster,
                "host": e.entry.host,
                "url": e.entry.url,
                "polled": s.polled(i).as_str(),
                "usable": s.unusable(i, now).is_none(),
                "unusable": s.unusable(i, now).map(|u| u.as_str()),
                "report": report,
            })
        })
        .collect();
    json!({ "edges": list, "report_timeout": s.report_timeout().as_secs_f64() })
}
