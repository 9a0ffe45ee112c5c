//! The thin I/O around [`crate::health::Machine`]: one task per edge with a
//! `health` URL, which GETs it when the machine says, bounded by the
//! timeout, and hands the outcome back.
//!
//! An answer is read as the edge's admin endpoint writes it
//! (crates/cdn/src/admin.rs): `200 ok`; `503 draining`; `503 unhealthy`.
//! Any other status, an unreadable answer, a refused connection or no
//! answer within the timeout is a failed poll.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::Request;
use hyper::header::{CONNECTION, HOST};
use hyper_util::rt::TokioIo;
use netproof_proto::url::{Host, Url};
use tokio::net::TcpStream;

use crate::health::{Machine, Outcome, Params};
use crate::server::Service;

/// Bytes of a health answer read at most.
const MAX_ANSWER: usize = 1024;

/// Polls edge `i`'s `url` for as long as the task runs.
pub async fn poll(service: Arc<Service>, i: usize, url: Url, params: Params) {
    let mut machine = Machine::new(params, service.now());
    loop {
        let now = service.now();
        if machine.start(now) {
            let outcome = tokio::time::timeout(params.timeout, get(&url))
                .await
                .unwrap_or(Outcome::Failed);
            if let Some(t) = machine.finish(service.now(), outcome) {
                service.health_changed(i, t);
            }
        }
        let wake = service.instant(machine.wake_at());
        tokio::time::sleep_until(wake.into()).await;
    }
}

/// One poll: a plain HTTP/1.1 GET on a fresh connection.
pub async fn get(url: &Url) -> Outcome {
    if url.is_https() {
        // Health endpoints are plain HTTP (the admin listener); the config
        // check refuses https, so this is never reached from a config.
        return Outcome::Failed;
    }
    let stream = match &url.host {
        Host::Addr(a) => TcpStream::connect((*a, url.port)).await,
        Host::Name(n) => TcpStream::connect((n.as_str(), url.port)).await,
    };
    let Ok(stream) = stream else {
        return Outcome::Failed;
    };
    let _ = stream.set_nodelay(true);
    let Ok((mut sender, conn)) =
        hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream)).await
    else {
        return Outcome::Failed;
    };
    let conn = tokio::spawn(conn);
    let request = Request::get(url.path.as_str())
        .header(HOST, url.authority())
        .header(CONNECTION, "close")
        .body(Empty::new());
    let Ok(request) = request else {
        return Outcome::Failed;
    };
    let outcome = match sender.send_request(request).await {
        Ok(response) => {
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            classify(status, &body)
        }
        Err(_) => Outcome::Failed,
    };
    conn.abort();
    outcome
}

/// An answer's status and body as a poll outcome.
pub fn classify(status: u16, body: &[u8]) -> Outcome {
    let word = std::str::from_utf8(body).unwrap_or("").trim();
    match (status, word) {
        (200, _) => Outcome::Ok,
        (503, "draining") => Outcome::Draining,
        (503, "unhealthy") => Outcome::Unhealthy,
        _ => Outcome::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_read_as_the_edge_admin_endpoint_writes_them() {
        assert_eq!(classify(200, b"ok\n"), Outcome::Ok);
        assert_eq!(classify(503, b"draining\n"), Outcome::Draining);
        assert_eq!(classify(503, b"unhealthy\n"), Outcome::Unhealthy);
        assert_eq!(classify(503, b"busy"), Outcome::Failed);
        assert_eq!(classify(500, b"ok"), Outcome::Failed);
    }
}
