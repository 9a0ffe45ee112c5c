//! The admin endpoint, HTTP/1.1 only, on its own address:
//!
//! - `GET /health`: `ok`; `draining` (503, so a load balancer's check
//!   fails) once the front drains; `unhealthy` (503) while the last
//!   [`UNHEALTHY_AFTER`](crate::metrics::UNHEALTHY_AFTER) opens or more
//!   failed because no fill source could serve.
//! - `GET /metrics`: the counters in Prometheus text.
//! - `POST /drain`: starts draining.
//! - `POST /prefill` (an edge with a fill store): a JSON manifest
//!   ([`crate::fill::manifest`]) starts a proactive fill in the background
//!   (202); one run at a time (409 while one runs); a manifest that cannot
//!   be used is 400 with every problem at its key path.
//! - `GET /prefill`: the current or last run as JSON (`idle`, `running`,
//!   or `done` with what was filled, from where, at what rate).

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;

use crate::fill::FillStore;
use crate::fill::manifest::{self, running_json};
use crate::fill::prefill::{Pace, prefill};
use crate::front::Front;
use crate::front::body::ResponseBody;

/// Bytes of manifest read at most: a full [`manifest::MAX_OBJECTS`]
/// manifest of paths fits, a runaway upload does not.
pub const MAX_MANIFEST_BYTES: usize = 16 << 20;

/// Time a client has to send its whole manifest.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// What the admin endpoint serves from: the front, and the edge's store
/// once there is one.
pub struct Admin {
    front: Front,
    prefill: OnceLock<Prefiller>,
}

/// An edge's proactive fill: its store and its one run.
struct Prefiller {
    store: FillStore,
    run: Arc<Mutex<Run>>,
    task: Mutex<Option<AbortHandle>>,
}

/// The current or last run.
enum Run {
    Idle,
    Running {
        started: SystemTime,
        since: Instant,
        objects: usize,
        pace: Pace,
    },
    Done(Value),
}

impl Admin {
    /// An admin endpoint over `front`, without a store to prefill yet.
    pub fn new(front: Front) -> Arc<Admin> {
        Arc::new(Admin {
            front,
            prefill: OnceLock::new(),
        })
    }

    /// Gives the endpoint the edge's store, for `/prefill` (the first stays).
    pub fn set_store(&self, store: FillStore) {
        let _ = self.prefill.set(Prefiller {
            store,
            run: Arc::new(Mutex::new(Run::Idle)),
            task: Mutex::new(None),
        });
    }
}

impl Drop for Admin {
    /// A prefill still running stops with the server that started it.
    fn drop(&mut self) {
        if let Some(p) = self.prefill.get()
            && let Some(t) = p.task.lock().unwrap_or_else(|e| e.into_inner()).take()
        {
            t.abort();
        }
    }
}

/// Serves the admin endpoint on `listener` until dropped.
pub async fn serve(listener: TcpListener, admin: Arc<Admin>) {
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
        let admin = admin.clone();
        conns.spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let admin = admin.clone();
                async move { Ok::<_, std::convert::Infallible>(answer(&admin, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn reply(status: StatusCode, text: impl Into<String>) -> Response<ResponseBody> {
    let mut r = Response::new(ResponseBody::text(text.into()));
    *r.status_mut() = status;
    r
}

fn reply_json(status: StatusCode, v: &Value) -> Response<ResponseBody> {
    let mut r = reply(status, format!("{v:#}\n"));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

const USAGE: &str = "GET /health, GET /metrics, POST /drain, POST /prefill, GET /prefill\n";

/// One admin request's answer.
async fn answer(admin: &Admin, req: Request<Incoming>) -> Response<ResponseBody> {
    let front = &admin.front;
    let get = matches!(*req.method(), Method::GET | Method::HEAD);
    let post = req.method() == Method::POST;
    match req.uri().path() {
        "/health" if get && front.is_draining() => {
            reply(StatusCode::SERVICE_UNAVAILABLE, "draining\n")
        }
        "/health" if get && front.metrics().unhealthy() => {
            reply(StatusCode::SERVICE_UNAVAILABLE, "unhealthy\n")
        }
        "/health" if get => reply(StatusCode::OK, "ok\n"),
        "/metrics" if get => reply(StatusCode::OK, front.metrics().prometheus()),
        "/drain" if post => {
            front.drain();
            reply(StatusCode::ACCEPTED, "draining\n")
        }
        "/prefill" if get || post => match admin.prefill.get() {
            None => reply(
                StatusCode::NOT_FOUND,
                "this server has no fill store to prefill\nhint: prefill an edge with `[fill]`\n",
            ),
            Some(p) if get => reply_json(StatusCode::OK, &p.status()),
            Some(p) => p.start(front, req.into_body()).await,
        },
        "/health" | "/metrics" | "/drain" | "/prefill" => {
            reply(StatusCode::METHOD_NOT_ALLOWED, USAGE)
        }
        _ => reply(StatusCode::NOT_FOUND, format!("not found; try {USAGE}")),
    }
}

impl Prefiller {
    fn status(&self) -> Value {
        match &*self.run.lock().unwrap_or_else(|e| e.into_inner()) {
            Run::Idle => json!({ "state": "idle" }),
            Run::Running {
                started,
                since,
                objects,
                pace,
            } => running_json(*started, *objects, *pace, since.elapsed()),
            Run::Done(v) => v.clone(),
        }
    }

    /// Reads a manifest and starts its run, unless one runs.
    async fn start(&self, front: &Front, body: Incoming) -> Response<ResponseBody> {
        if self.running() {
            return self.busy();
        }
        let body = match tokio::time::timeout(
            BODY_TIMEOUT,
            Limited::new(body, MAX_MANIFEST_BYTES).collect(),
        )
        .await
        {
            Err(_) => {
                return reply(
                    StatusCode::REQUEST_TIMEOUT,
                    format!("the manifest did not arrive within {BODY_TIMEOUT:?}\n"),
                );
            }
            Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
                return reply(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "the manifest is over {MAX_MANIFEST_BYTES} bytes\nhint: name titles rather than every path, or send it in parts\n"
                    ),
                );
            }
            Ok(Err(e)) => {
                return reply(
                    StatusCode::BAD_REQUEST,
                    format!("reading the manifest failed: {e}\n"),
                );
            }
            Ok(Ok(b)) => b.to_bytes(),
        };
        let (manifest, pace) = match manifest::parse(&body, front.site_names()) {
            Ok(m) => m,
            Err(e) => return reply(StatusCode::BAD_REQUEST, format!("{e}\n")),
        };
        let started = SystemTime::now();
        let objects = manifest.keys().len();
        {
            // Checked again under the lock: two POSTs may have raced here.
            let mut run = self.run.lock().unwrap_or_else(|e| e.into_inner());
            if matches!(*run, Run::Running { .. }) {
                drop(run);
                return self.busy();
            }
            *run = Run::Running {
                started,
                since: Instant::now(),
                objects,
                pace,
            };
        }
        let (store, run) = (self.store.clone(), self.run.clone());
        let task = tokio::spawn(async move {
            let report = prefill(&store, &manifest, pace).await;
            *run.lock().unwrap_or_else(|e| e.into_inner()) =
                Run::Done(manifest::report_json(started, pace, &report));
        });
        *self.task.lock().unwrap_or_else(|e| e.into_inner()) = Some(task.abort_handle());
        reply_json(
            StatusCode::ACCEPTED,
            &running_json(started, objects, pace, Duration::ZERO),
        )
    }

    fn running(&self) -> bool {
        matches!(
            *self.run.lock().unwrap_or_else(|e| e.into_inner()),
            Run::Running { .. }
        )
    }

    fn busy(&self) -> Response<ResponseBody> {
        let mut v = self.status();
        v["error"] =
            json!("a prefill is running; one runs at a time: poll GET /prefill until it is done");
        reply_json(StatusCode::CONFLICT, &v)
    }
}
