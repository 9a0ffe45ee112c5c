//! An edge learns its ISP's prefixes over BGP as Open Connect appliances
//! do, and reports them: BIRD on the ISP router announces client prefixes
//! beside static routes (`bgp_speaker = true`), BIRD on the edge's node
//! holds a receive-only session and writes what it learns to table 100
//! with the BGP attributes encoded; the edge's own route reader and
//! reporter (`netproof_cdn::server::edge` with `[report]`, run on a thread
//! inside the edge's namespace, as `netproof cdn edge` runs there) send
//! the routes to a test receiver on another node. A withdrawal on the ISP
//! router reaches the receiver as a report without the prefix, far sooner
//! than the 5 s report interval: the route event drives it; so does a cut
//! of the edge's link, whose IPv4 routes the kernel drops silently.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use netproof_plan::{Backend, Options};
use netproof_proto::steering::{EdgeReport, Health, Origin};
use netproof_sample::MemorySink;
use tokio::sync::mpsc;

use crate::{Cancel, Lab};

const PLAN: &str = r#"
[plan]
name = "edge-learns"
summary = "An ISP announces client prefixes to its embedded edge, which reports them"
backend = "netns"

[[node]]
name = "isp"
role = "router"
asn = 65010
originate = ["198.18.200.0/24", "198.18.201.0/24", "2001:2:0:200::/56"]
bgp_speaker = true
[[node]]
name = "oca"
asn = 65100
bgp_speaker = { table = 100, announce = false }
[[node]]
name = "steer"

[[link]]
ends = ["isp", "oca"]
[[link]]
ends = ["isp", "steer"]
# Reports reach steering without crossing the ISP link the test cuts.
[[link]]
ends = ["oca", "steer"]

[[bgp]]
ends = ["isp", "oca"]
keepalive = "1s"
hold = "3s"
a_to_b = { local_pref = 200, med = 30 }
"#;

/// The receiver's port on `steer`.
const PORT: u16 = 8080;

/// Every wait here is bounded by this.
const BOUND: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netns_an_edge_reports_the_prefixes_its_isp_announces_and_a_withdrawal() {
    let namespaces = crate::netns::census::net_namespace_inodes().expect("read /proc");
    let plan = netproof_plan::parse(Path::new("speaker.toml"), PLAN, &Options::default())
        .unwrap_or_else(|e| panic!("{}", e.render(false, 100)));
    let sink = Arc::new(MemorySink::new());
    let cancel = Cancel::new();
    let mut lab = Lab::plan(&plan, Backend::Netns)
        .expect("plan the lab")
        .up(&plan, sink.clone(), &cancel)
        .await
        .expect("build the lab (and converge: the routes in oca's table 100)");
    let outcome = exercise(&lab).await;
    lab.down().await;
    let after = crate::netns::census::net_namespace_inodes().expect("read /proc");
    assert!(after.is_subset(&namespaces), "namespaces left behind");
    if let Err(e) = outcome {
        panic!("{e}");
    }
}

/// Reports as they arrive, with their arrival time.
type Arrivals = mpsc::UnboundedReceiver<(Instant, EdgeReport)>;

async fn exercise(lab: &Lab) -> Result<(), String> {
    let steer = lab.node("steer").ok_or("no steer")?;
    let oca = lab.node("oca").ok_or("no oca")?.clone();
    let steer_addr = SocketAddr::new(steer.addr, PORT);
    let listener = steer
        .in_node(|| std::net::TcpListener::bind(steer_addr))
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("bind the receiver on steer: {e}"))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
    let (tx, mut reports) = mpsc::unbounded_channel();
    let receiver = tokio::spawn(receive(listener, tx));

    // The edge, on a thread inside oca's namespace with a runtime of its
    // own, until `stop` is dropped.
    let config = format!(
        "[listen]\nhttp = [\"127.0.0.1:0\"]\n[[site]]\nname = \"video.cdn.test\"\n\
         [catalogue]\nseed = 1\ntitles = 2\nbitrates_kbps = [100]\nsegments = 1\n\
         [report]\nedge = \"oca\"\nsteering = [\"http://{steer_addr}\"]\ninterval = \"5s\"\ntable = 100\n"
    );
    let config = netproof_cdn::config::edge_from(Path::new("edge.toml"), &config)
        .map_err(|e| e.to_string())?;
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let edge = std::thread::spawn(move || {
        oca.in_node(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async {
                let _running = netproof_cdn::server::edge(&config)
                    .await
                    .map_err(|e| format!("start the edge: {e}"))?;
                // Serve until the test is done (bounded by it).
                while let Err(std::sync::mpsc::TryRecvError::Empty) = stopped.try_recv() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Ok::<(), String>(())
            })
        })
        .map_err(|e| e.to_string())?
    });
    let result = check(lab, &mut reports).await;
    drop(stop);
    let edge_result = tokio::task::spawn_blocking(move || edge.join())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|_| "the edge's thread panicked".to_string())?;
    receiver.abort();
    result?;
    edge_result
}

async fn check(lab: &Lab, reports: &mut Arrivals) -> Result<(), String> {
    // The first report carries every announced prefix with its attributes.
    let (_, first) = wait_for(reports, |r| r.routes.len() == 3).await?;
    assert_eq!(first.edge, "oca");
    assert_eq!(first.health, Health::Ok);
    let prefixes: Vec<String> = first.routes.iter().map(|r| r.prefix.to_string()).collect();
    assert_eq!(
        prefixes,
        ["198.18.200.0/24", "198.18.201.0/24", "2001:2:0:200::/56"]
    );
    for r in &first.routes {
        // LOCAL_PREF set by oca's import, MED by isp's export, one AS on
        // the path, learned over eBGP; BIRD gives a prefix of its static
        // protocol ORIGIN IGP.
        assert_eq!(
            (r.local_pref, r.med, r.as_path_len, r.origin, r.ebgp),
            (200, 30, 1, Origin::Igp, true),
            "{r:?}"
        );
    }

    // Withdrawn on the ISP router: a report without it, long before the
    // 5 s interval would send one.
    let routers = lab.routers().ok_or("no routers")?;
    let prefix: netproof_plan::IpNet = "198.18.201.0/24".parse().expect("prefix");
    let t0 = Instant::now();
    let did = routers
        .withdraw("isp", prefix)
        .await
        .map_err(|e| format!("withdraw: {e}"))?;
    let reconfigured = t0.elapsed();
    let (arrived, report) = wait_for(reports, |r| r.routes.len() == 2).await?;
    let took = arrived - t0;
    eprintln!(
        "withdrawal on isp ({did}; BIRD reconfigured in {reconfigured:?}) to the report without it at the receiver: {took:?}"
    );
    assert!(
        !report.routes.iter().any(|r| r.prefix == prefix),
        "{report:?}"
    );
    assert!(
        took < Duration::from_secs(2),
        "the withdrawal took {took:?} to reach the receiver: the route event should send a report at once"
    );

    // Announced again: back within the same bound.
    let t1 = Instant::now();
    routers
        .announce("isp", prefix)
        .await
        .map_err(|e| format!("announce: {e}"))?;
    let (arrived, _) = wait_for(reports, |r| r.routes.len() == 3).await?;
    eprintln!("announcement to report: {:?}", arrived - t1);
    assert!(arrived - t1 < Duration::from_secs(2));
    // Sequence numbers only grow.
    assert!(report.seq > first.seq);

    // The edge's link to its ISP cut on the edge's side: the kernel drops
    // the IPv4 routes through it without a word (only IPv6's deletions
    // are announced), BIRD's session goes down with the interface; the
    // edge must still report no routes at once.
    let oca = lab.node("oca").ok_or("no oca")?;
    let args: Vec<String> = ["link", "set", "dev", "isp", "down"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let t2 = Instant::now();
    let out = oca
        .command("ip", &args)
        .map_err(|e| e.to_string())?
        .output()
        .await
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "ip link set down: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let (arrived, _) = wait_for(reports, |r| r.routes.is_empty()).await?;
    eprintln!("link cut to a report without routes: {:?}", arrived - t2);
    assert!(arrived - t2 < Duration::from_secs(2), "{:?}", arrived - t2);
    Ok(())
}

/// The first report from now on that satisfies `want`, within [`BOUND`].
async fn wait_for(
    reports: &mut Arrivals,
    want: impl Fn(&EdgeReport) -> bool,
) -> Result<(Instant, EdgeReport), String> {
    let deadline = tokio::time::Instant::now() + BOUND;
    let mut last = None;
    loop {
        match tokio::time::timeout_at(deadline, reports.recv()).await {
            Ok(Some((at, r))) if want(&r) => return Ok((at, r)),
            Ok(Some((_, r))) => last = Some(r),
            Ok(None) => return Err("the receiver stopped".into()),
            Err(_) => return Err(format!("no such report within {BOUND:?}; last: {last:?}")),
        }
    }
}

/// A minimal steering stand-in: `POST /report` bodies, parsed, stamped.
async fn receive(
    listener: tokio::net::TcpListener,
    tx: mpsc::UnboundedSender<(Instant, EdgeReport)>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                let tx = tx.clone();
                async move {
                    let path = req.uri().path().to_string();
                    let body = req.into_body().collect().await.map(|b| b.to_bytes());
                    let status = match (path.as_str(), body) {
                        ("/report", Ok(b)) => match serde_json::from_slice::<EdgeReport>(&b) {
                            Ok(r) => {
                                let _ = tx.send((Instant::now(), r));
                                204
                            }
                            Err(_) => 400,
                        },
                        _ => 404,
                    };
                    let mut resp = Response::new(http_body_util::Empty::<bytes::Bytes>::new());
                    *resp.status_mut() = hyper::StatusCode::from_u16(status).expect("status");
                    Ok::<_, std::convert::Infallible>(resp)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
