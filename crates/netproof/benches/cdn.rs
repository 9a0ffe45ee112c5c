//! The reference CDN's edge beside nginx, in one run on this machine: the
//! edge serving cached catalogue files (filled once from a local origin)
//! and nginx 1.22 serving the same bytes from disk, each with TLS 1.3 and
//! one core (`taskset -c 0`), the load generator on the other
//! (`taskset -c 1`). Prints each figure and the edge / nginx ratio: requests
//! per second and latency for 1 KiB objects over HTTP/1.1 (wrk, with p99)
//! and HTTP/2 (h2load), and Gbit/s for 1 MiB objects. Needs nginx, h2load
//! and wrk (`scripts/install-peers.sh`, and `apt-get install wrk`).
//!
//! Then the caches on plain HTTP, where Varnish and Apache Traffic Server
//! (Debian's packages `varnish` and `trafficserver`) can be compared
//! fairly: each fills from the same origin and serves from memory, on
//! core 0 with one worker thread where the server has the knob; nginx
//! serves the same bytes from files as the reference; `wrk` on core 1
//! gives requests/s and p99 for 1 KiB and Gbit/s for 1 MiB.
//!
//! `cargo bench -p netproof --bench cdn -- [--quick] [--tls-only|--caches-only]`
//!
//! Everything runs on loopback; every server is started here and killed
//! by its pid.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use netproof_cdn::catalogue::Catalogue;
use netproof_proto::cdn::Catalogue as CatalogueConfig;

const NETPROOF: &str = env!("CARGO_BIN_EXE_netproof");

/// A ~1 KiB file (8 kbit/s for one second) and a ~1 MiB one.
const SMALL: &str = "/t/0/8k/0000.m4s";
const LARGE: &str = "/t/0/8000k/0000.m4s";

fn catalogue() -> CatalogueConfig {
    CatalogueConfig {
        seed: 42,
        titles: 1,
        bitrates_kbps: vec![8, 8000],
        segments: 1,
        segment_ms: 1000,
        zipf: 0.8,
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A server we started, killed by its pid when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(mut cmd: Command, port: u16) -> Server {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (install it: scripts/install-peers.sh)"));
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{cmd:?} did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    server
}

fn output(mut cmd: Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (apt-get install wrk nghttp2-client)"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One load's figures.
#[derive(Debug, Default, Clone, Copy)]
struct Figures {
    rps: f64,
    /// Mean (h2load) or p99 (wrk) latency, ms.
    latency_ms: f64,
    gbits: f64,
}

/// `h2load` against `url` on core 1; `h1` for HTTP/1.1.
fn h2load(url: &str, h1: bool, requests: u32, clients: u32, streams: u32) -> Figures {
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", "1", "h2load", "-n"])
        .arg(requests.to_string())
        .args(["-c", &clients.to_string(), "-m", &streams.to_string()])
        // The URL's host is an address (no SNI: the default site's
        // certificate); the site is named in the request.
        .args(["-H", ":authority: a.test"]);
    if h1 {
        cmd.arg("--h1");
    }
    let text = output({
        cmd.arg(url);
        cmd
    });
    let done = text
        .lines()
        .find(|l| l.starts_with("requests:"))
        .unwrap_or_default();
    assert!(
        done.contains(&format!("{requests} succeeded")),
        "h2load did not complete every request: {text}"
    );
    // "finished in 1.23s, 81234.56 req/s, 98.66MB/s"
    let fin = text
        .lines()
        .find(|l| l.starts_with("finished in"))
        .unwrap_or_else(|| panic!("no summary from h2load: {text}"));
    let parts: Vec<&str> = fin.split(", ").collect();
    let rps: f64 = parts[1].trim_end_matches(" req/s").parse().unwrap_or(0.0);
    let bytes = parts[2].trim();
    let mb: f64 = bytes
        .trim_end_matches("MB/s")
        .trim_end_matches("GB/s")
        .trim_end_matches("KB/s")
        .parse()
        .unwrap_or(0.0);
    let scale = if bytes.ends_with("GB/s") {
        1024.0
    } else if bytes.ends_with("KB/s") {
        1.0 / 1024.0
    } else {
        1.0
    };
    let mean = text
        .lines()
        .find(|l| l.trim_start().starts_with("time for request:"))
        .and_then(|l| l.split_whitespace().nth(4).map(ms))
        .unwrap_or(0.0);
    Figures {
        rps,
        latency_ms: mean,
        gbits: mb * scale * 1024.0 * 1024.0 * 8.0 / 1e9,
    }
}

/// `12.3ms`, `456us`, `1.2s` in ms.
fn ms(s: &str) -> f64 {
    let (n, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len()));
    let n: f64 = n.parse().unwrap_or(0.0);
    match unit {
        "us" => n / 1000.0,
        "s" => n * 1000.0,
        _ => n,
    }
}

/// `wrk` (HTTP/1.1, keep-alive) against `url` on core 1, with p99.
fn wrk(url: &str, seconds: u32) -> Figures {
    let text = output({
        let mut c = Command::new("taskset");
        c.args(["-c", "1", "wrk", "-t1", "-c32", "--latency", "-d"])
            .arg(format!("{seconds}s"))
            .args(["-H", "Host: a.test", url]);
        c
    });
    let rps = text
        .lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec from wrk: {text}"));
    let p99 = text
        .lines()
        .find(|l| l.trim_start().starts_with("99%"))
        .and_then(|l| l.split_whitespace().nth(1).map(ms))
        .unwrap_or(0.0);
    // "Transfer/sec:    1.23GB"
    let gbits = text
        .lines()
        .find(|l| l.starts_with("Transfer/sec:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .map(|t| {
            let (n, unit) =
                t.split_at(t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len()));
            let scale = match unit {
                "GB" => 1024.0 * 1024.0 * 1024.0,
                "MB" => 1024.0 * 1024.0,
                "KB" => 1024.0,
                _ => 1.0,
            };
            n.parse::<f64>().unwrap_or(0.0) * scale * 8.0 / 1e9
        })
        .unwrap_or(0.0);
    Figures {
        rps,
        latency_ms: p99,
        gbits,
    }
}

fn write_configs(dir: &Path, origin: u16, edge: u16, nginx: u16) {
    let d = dir.display();
    let cat = catalogue();
    let rates: Vec<String> = cat.bitrates_kbps.iter().map(u32::to_string).collect();
    std::fs::write(
        dir.join("origin.toml"),
        format!(
            "listen = {{ http = [\"127.0.0.1:{origin}\"] }}\n[[site]]\nname = \"a.test\"\n[catalogue]\nseed = {}\ntitles = {}\nbitrates_kbps = [{}]\nsegments = {}\nsegment_ms = {}\n",
            cat.seed,
            cat.titles,
            rates.join(", "),
            cat.segments,
            cat.segment_ms
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("edge.toml"),
        format!(
            "listen = {{ https = [\"127.0.0.1:{edge}\"] }}\ntls = {{ default_site = \"a.test\" }}\n[[site]]\nname = \"a.test\"\ncert = \"{d}/a.test.pem\"\nkey = \"{d}/a.test.key\"\n[fill]\nsources = [{{ name = \"origin\", url = \"http://127.0.0.1:{origin}\", kind = \"origin\" }}]\ncache = {{ memory = \"256MiB\" }}\n"
        ),
    )
    .unwrap();
    // The same bytes on disk for nginx, one worker, TLS like the edge, its
    // file descriptors cached (the page cache holds the bytes).
    let c = Catalogue::new(catalogue());
    for path in [SMALL, LARGE] {
        let f = c.file(path).expect("a catalogue path");
        let mut bytes = vec![0u8; c.meta(42, &f).len as usize];
        c.key(42, &f).fill(0, &mut bytes);
        let file = dir.join("www").join(path.trim_start_matches('/'));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, bytes).unwrap();
    }
    std::fs::write(
        dir.join("nginx.conf"),
        format!(
            "user root;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{ worker_connections 4096; }}\nhttp {{\n access_log off;\n default_type application/octet-stream;\n keepalive_requests 1000000;\n open_file_cache max=100 inactive=60s;\n open_file_cache_valid 60s;\n client_body_temp_path {d}/t1; proxy_temp_path {d}/t2; fastcgi_temp_path {d}/t3; uwsgi_temp_path {d}/t4; scgi_temp_path {d}/t5;\n server {{ listen 127.0.0.1:{nginx} ssl http2 default_server; server_name a.test; ssl_certificate {d}/a.test.pem; ssl_certificate_key {d}/a.test.key; ssl_protocols TLSv1.3; root {d}/www; }}\n}}\n"
        ),
    )
    .unwrap();
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    if !std::env::args().any(|a| a == "--caches-only") {
        tls(quick);
    }
    if !std::env::args().any(|a| a == "--tls-only") {
        caches(quick);
    }
}

/// The edge beside nginx, both with TLS.
fn tls(quick: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let certs = Command::new(NETPROOF)
        .args(["cdn", "certs", "--out"])
        .arg(d)
        .args(["--site", "a.test"])
        .output()
        .expect("netproof cdn certs");
    assert!(certs.status.success(), "{certs:?}");
    let (po, pe, pn) = (free_port(), free_port(), free_port());
    write_configs(d, po, pe, pn);
    let _origin = start(
        {
            let mut c = Command::new(NETPROOF);
            c.args(["cdn", "origin", "--config"])
                .arg(d.join("origin.toml"));
            c
        },
        po,
    );
    let servers: [(&str, u16, Command); 2] = [
        ("edge", pe, {
            let mut c = Command::new("taskset");
            c.args(["-c", "0", NETPROOF, "cdn", "edge", "--config"])
                .arg(d.join("edge.toml"));
            c
        }),
        ("nginx", pn, {
            let mut c = Command::new("taskset");
            c.args(["-c", "0", "nginx", "-p"])
                .arg(d)
                .arg("-c")
                .arg(d.join("nginx.conf"))
                .args(["-g", "daemon off; master_process off;"]);
            c
        }),
    ];
    let (n_small, n_large, secs) = if quick {
        (20_000, 300, 3)
    } else {
        (200_000, 3_000, 10)
    };
    let mut results: Vec<(&str, [Figures; 3])> = Vec::new();
    for (name, port, cmd) in servers {
        let _server = start(cmd, port);
        let base = format!("https://127.0.0.1:{port}");
        // Warm: the edge fills both files once; both servers' caches are hot.
        for path in [SMALL, LARGE] {
            h2load(&format!("{base}{path}"), true, 10, 1, 1);
        }
        let h1 = wrk(&format!("{base}{SMALL}"), secs);
        let h2 = h2load(&format!("{base}{SMALL}"), false, n_small, 32, 10);
        let big = h2load(&format!("{base}{LARGE}"), true, n_large, 8, 1);
        println!(
            "bench: {name}: 1 KiB HTTP/1.1+TLS {:.0} req/s (p99 {:.2} ms), 1 KiB HTTP/2+TLS {:.0} req/s (mean {:.2} ms), 1 MiB HTTP/1.1+TLS {:.2} Gbit/s",
            h1.rps, h1.latency_ms, h2.rps, h2.latency_ms, big.gbits
        );
        results.push((name, [h1, h2, big]));
    }
    let (edge, nginx) = (results[0].1, results[1].1);
    println!(
        "bench: edge / nginx: 1 KiB h1 req/s {:.2}x, p99 {:.2}x (lower is better); 1 KiB h2 req/s {:.2}x; 1 MiB Gbit/s {:.2}x",
        edge[0].rps / nginx[0].rps,
        edge[0].latency_ms / nginx[0].latency_ms,
        edge[1].rps / nginx[1].rps,
        edge[2].gbits / nginx[2].gbits
    );
}

/// The caches on plain HTTP: the edge, Varnish, Apache Traffic Server and
/// nginx (files), one at a time on core 0, each warmed, then `wrk`.
fn caches(quick: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (po, pe, pv, pa, pn) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    write_plain_configs(d, po, pe, pn, pa);
    let _origin = start(
        {
            let mut c = Command::new(NETPROOF);
            c.args(["cdn", "origin", "--config"])
                .arg(d.join("origin.toml"));
            c
        },
        po,
    );
    let origin = format!("127.0.0.1:{po}");
    let servers: [(&str, u16, Command); 4] = [
        ("edge", pe, {
            let mut c = Command::new("taskset");
            c.args(["-c", "0", NETPROOF, "cdn", "edge", "--config"])
                .arg(d.join("edge.toml"));
            c
        }),
        ("varnish", pv, {
            let mut c = Command::new("taskset");
            c.args(["-c", "0", "varnishd", "-F", "-j", "none", "-a"])
                .arg(format!("127.0.0.1:{pv}"))
                .args([
                    "-b",
                    &origin,
                    "-s",
                    "malloc,256m",
                    "-p",
                    "thread_pools=1",
                    "-n",
                ])
                .arg(d.join("varnish"));
            c
        }),
        ("ats", pa, {
            let mut c = Command::new("taskset");
            c.args(["-c", "0", "traffic_server"])
                .arg(format!("--run-root={}", d.join("ats").display()));
            c
        }),
        ("nginx", pn, {
            let mut c = Command::new("taskset");
            c.args(["-c", "0", "nginx", "-p"])
                .arg(d)
                .arg("-c")
                .arg(d.join("nginx.conf"))
                .args(["-g", "daemon off; master_process off;"]);
            c
        }),
    ];
    let secs = if quick { 3 } else { 10 };
    let mut results: Vec<(&str, Figures, Figures)> = Vec::new();
    for (name, port, cmd) in servers {
        let _server = start(cmd, port);
        let base = format!("http://127.0.0.1:{port}");
        // Warm: each cache fills both files from the origin; a short run
        // after makes sure they are served from memory.
        for path in [SMALL, LARGE] {
            let _ = wrk(&format!("{base}{path}"), 1);
        }
        let small = wrk(&format!("{base}{SMALL}"), secs);
        let large = wrk(&format!("{base}{LARGE}"), secs);
        println!(
            "bench: plain HTTP: {name}: 1 KiB {:.0} req/s (p99 {:.2} ms), 1 MiB {:.2} Gbit/s",
            small.rps, small.latency_ms, large.gbits
        );
        results.push((name, small, large));
    }
    let edge = results[0];
    for (name, small, large) in &results[1..] {
        println!(
            "bench: plain HTTP: edge / {name}: 1 KiB req/s {:.2}x, p99 {:.2}x (lower is better), 1 MiB Gbit/s {:.2}x",
            edge.1.rps / small.rps,
            edge.1.latency_ms / small.latency_ms,
            edge.2.gbits / large.gbits
        );
    }
}

/// The origin, a plain-HTTP edge, nginx's files and an Apache Traffic
/// Server runroot (its own config, cache and logs under `dir`; it keeps
/// the client's Host, caches without explicit lifetimes like Varnish's
/// default, one exec thread).
fn write_plain_configs(dir: &Path, origin: u16, edge: u16, nginx: u16, ats: u16) {
    write_configs(dir, origin, 0, nginx);
    let d = dir.display();
    std::fs::write(
        dir.join("edge.toml"),
        format!(
            "listen = {{ http = [\"127.0.0.1:{edge}\"] }}\n[[site]]\nname = \"a.test\"\n[fill]\nsources = [{{ name = \"origin\", url = \"http://127.0.0.1:{origin}\", kind = \"origin\" }}]\ncache = {{ memory = \"256MiB\" }}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("nginx.conf"),
        format!(
            "user root;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{ worker_connections 4096; }}\nhttp {{\n access_log off;\n default_type application/octet-stream;\n keepalive_requests 1000000;\n open_file_cache max=100 inactive=60s;\n open_file_cache_valid 60s;\n client_body_temp_path {d}/t1; proxy_temp_path {d}/t2; fastcgi_temp_path {d}/t3; uwsgi_temp_path {d}/t4; scgi_temp_path {d}/t5;\n server {{ listen 127.0.0.1:{nginx} default_server; server_name a.test; root {d}/www; }}\n}}\n"
        ),
    )
    .unwrap();
    let root = dir.join("ats");
    let r = root.display();
    for sub in ["etc", "cache", "log", "run"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    // Debian's defaults, then ours.
    for entry in std::fs::read_dir("/etc/trafficserver")
        .expect("/etc/trafficserver (apt-get install trafficserver)")
    {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), root.join("etc").join(entry.file_name())).unwrap();
        }
    }
    std::fs::write(
        root.join("runroot.yaml"),
        format!(
            "prefix: {r}\nexec_prefix: /usr\nbindir: /usr/bin\nsbindir: /usr/sbin\nsysconfdir: {r}/etc\ndatadir: {r}/cache\nincludedir: /usr/include\nlibdir: /usr/lib/trafficserver\nlibexecdir: /usr/lib/trafficserver/modules\nlocalstatedir: {r}/run\nruntimedir: {r}/run\nlogdir: {r}/log\ncachedir: {r}/cache\n"
        ),
    )
    .unwrap();
    let records = root.join("etc/records.config");
    let mut text = std::fs::read_to_string(&records).unwrap();
    // Later lines win in records.config.
    text.push_str(&format!(
        "CONFIG proxy.config.http.server_ports STRING {ats}\n\
         CONFIG proxy.config.exec_thread.autoconfig INT 0\n\
         CONFIG proxy.config.exec_thread.limit INT 1\n\
         CONFIG proxy.config.accept_threads INT 0\n\
         CONFIG proxy.config.task_threads INT 1\n\
         CONFIG proxy.config.http.cache.required_headers INT 0\n\
         CONFIG proxy.config.url_remap.pristine_host_hdr INT 1\n\
         CONFIG proxy.config.admin.user_id STRING #-1\n\
         CONFIG proxy.config.log.logging_enabled INT 0\n"
    ));
    std::fs::write(&records, text).unwrap();
    std::fs::write(root.join("etc/storage.config"), format!("{r}/cache 256M\n")).unwrap();
    std::fs::write(
        root.join("etc/remap.config"),
        format!(
            "map http://a.test:{ats}/ http://127.0.0.1:{origin}/\nmap http://a.test/ http://127.0.0.1:{origin}/\n"
        ),
    )
    .unwrap();
}
