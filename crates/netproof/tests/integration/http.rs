//! `netproof probe http` against a real nginx with two TLS sites on one
//! address (distinct certificates from one lab CA, distinct bodies) and a
//! default server that rejects the handshake of any other name. Over
//! HTTP/1.1 and HTTP/2, IPv4 and IPv6: the right certificate for each SNI,
//! the right site for each Host, site a's SNI with site b's Host (a's
//! certificate, b's answer: the probe sets them independently), and a
//! failed handshake for an unknown or missing name.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::bin;

const BODY_A: &str = "this is site a\n";
const BODY_B: &str = "site b answers here\n";

/// nginx, stopped by its pid when the test ends (single process, so the
/// pid is the whole server).
struct Nginx {
    child: Child,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nginx_binary() -> &'static str {
    for p in ["/usr/sbin/nginx", "/usr/bin/nginx"] {
        if Path::new(p).exists() {
            return p;
        }
    }
    panic!(
        "nginx is not installed; the HTTP interop test needs it\nhint: run scripts/install-peers.sh (or apt-get install -y --no-install-recommends nginx-light)"
    );
}

/// A port free on both 127.0.0.1 and [::1] right now.
fn free_port() -> u16 {
    for _ in 0..20 {
        let v4 = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = v4.local_addr().unwrap().port();
        if TcpListener::bind(("::1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free on both 127.0.0.1 and [::1]");
}

/// Writes a lab CA and a certificate per site into `dir`.
fn pki(dir: &Path) {
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "netproof lab CA");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    std::fs::write(dir.join("ca.pem"), ca.self_signed(&ca_key).unwrap().pem()).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    for site in ["a", "b"] {
        let name = format!("{site}.test");
        let mut p = rcgen::CertificateParams::new(vec![name.clone()]).unwrap();
        p.distinguished_name
            .push(rcgen::DnType::CommonName, name.as_str());
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &issuer).unwrap();
        std::fs::write(dir.join(format!("{site}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{site}.key")), key.serialize_pem()).unwrap();
    }
}

fn start_nginx(dir: &Path, port: u16) -> Nginx {
    let nginx = nginx_binary();
    pki(dir);
    for (site, body) in [("a", BODY_A), ("b", BODY_B)] {
        std::fs::create_dir_all(dir.join(site)).unwrap();
        std::fs::write(dir.join(site).join("index.txt"), body).unwrap();
    }
    // A file of the reference CDN's catalogue (seed 42), for `--verify`.
    let seg = dir.join("a/t/7/1500k");
    std::fs::create_dir_all(&seg).unwrap();
    let mut bytes = vec![0u8; 100_000];
    netproof_proto::content::ContentKey::new(42, 7, "1500k/0003.m4s").fill(0, &mut bytes);
    std::fs::write(seg.join("0003.m4s"), bytes).unwrap();
    let d = dir.display();
    let listen = |extra: &str| {
        format!("listen 127.0.0.1:{port} ssl http2{extra}; listen [::1]:{port} ssl http2{extra};")
    };
    let site = |s: &str| {
        format!(
            "server {{ {} server_name {s}.test; ssl_certificate {d}/{s}.pem; ssl_certificate_key {d}/{s}.key; root {d}/{s}; }}",
            listen("")
        )
    };
    // Workers of a root master would drop to `nobody`, who cannot read a
    // private temp dir: stay the current user.
    let user = if unsafe { libc::geteuid() } == 0 {
        "user root;"
    } else {
        ""
    };
    let conf = format!(
        "{user}\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{ worker_connections 64; }}\nhttp {{\n access_log off;\n default_type text/plain;\n client_body_temp_path {d}/t1; proxy_temp_path {d}/t2; fastcgi_temp_path {d}/t3; uwsgi_temp_path {d}/t4; scgi_temp_path {d}/t5;\n server {{ {} ssl_reject_handshake on; }}\n {}\n {}\n}}\n",
        listen(" default_server"),
        site("a"),
        site("b")
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let child = Command::new(nginx)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .args(["-g", "daemon off; master_process off;"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nginx");
    let mut n = Nginx { child };
    let deadline = Instant::now() + Duration::from_secs(10);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        let exited = n.child.try_wait().unwrap();
        if exited.is_some() || Instant::now() > deadline {
            panic!(
                "nginx did not start ({exited:?}): {}",
                std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    n
}

/// Runs `netproof probe http --json` and returns its exit code and JSON.
fn probe(args: &[&str]) -> (i32, serde_json::Value) {
    let out = bin()
        .args(["probe", "http", "--json", "--timeout", "5s"])
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), json)
}

/// The one sample of `metric` in a probe's JSON.
fn sample<'a>(j: &'a serde_json::Value, metric: &str) -> &'a serde_json::Value {
    j["samples"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["metric"] == metric)
        .unwrap_or_else(|| panic!("no {metric} in {j}"))
}

#[test]
fn nginx_two_sites_by_sni_and_host_over_h1_h2_v4_v6() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _nginx = start_nginx(dir.path(), port);
    let ca = dir.path().join("ca.pem").display().to_string();

    for ip in ["127.0.0.1", "[::1]"] {
        let connect = format!("{ip}:{port}");
        for h2 in [false, true] {
            let run = |sni: &str, host: &str, extra: &[&str]| {
                let url = format!("https://{sni}:{port}/index.txt");
                let mut args = vec![
                    url.as_str(),
                    "--connect-to",
                    &connect,
                    "--cacert",
                    &ca,
                    "--sni",
                    sni,
                    "--host",
                    host,
                ];
                if h2 {
                    args.push("--http2");
                }
                args.extend_from_slice(extra);
                probe(&args)
            };
            let proto = if h2 { "h2" } else { "http/1.1" };
            let case = format!("{ip} {proto}");

            // Each SNI gets its own site's certificate, each Host its body.
            for (site, body) in [("a", BODY_A), ("b", BODY_B)] {
                let name = format!("{site}.test");
                let (code, j) = run(&name, &name, &[]);
                assert_eq!(code, 0, "{case} {name}: {j}");
                let tls = sample(&j, "http.tls");
                assert_eq!(
                    tls["labels"]["cert_subject"],
                    format!("CN={name}"),
                    "{case}"
                );
                assert_eq!(tls["labels"]["proto"], proto, "{case}");
                assert_eq!(
                    sample(&j, "http.cert_names")["value"],
                    serde_json::json!([name])
                );
                assert_eq!(sample(&j, "http.status")["value"], 200.0, "{case}");
                assert_eq!(
                    sample(&j, "http.bytes")["value"],
                    body.len() as f64,
                    "{case} {name}"
                );
                assert!(sample(&j, "http.total")["ok"].as_bool().unwrap());
            }

            // SNI a, Host b: a's certificate (verified for a), and whatever
            // nginx answers for b: its site when it routes by Host, or 421
            // when it refuses a name other than the handshake's.
            let (_, j) = run("a.test", &format!("b.test:{port}"), &[]);
            let tls = sample(&j, "http.tls");
            assert_eq!(tls["labels"]["cert_subject"], "CN=a.test", "{case}: {j}");
            assert_eq!(tls["labels"]["sni"], "a.test");
            assert_eq!(tls["labels"]["host"], format!("b.test:{port}"));
            let status = sample(&j, "http.status")["value"].as_f64().unwrap();
            if status == 200.0 {
                assert_eq!(
                    sample(&j, "http.bytes")["value"],
                    BODY_B.len() as f64,
                    "{case}"
                );
            } else {
                assert_eq!(status, 421.0, "{case}: {j}");
            }

            // An unknown name and no name at all: nginx's default server
            // rejects the handshake, a recorded TLS failure.
            for (what, extra) in [("unknown", &[][..]), ("missing", &["--no-sni"][..])] {
                let (code, j) = if what == "unknown" {
                    run("c.test", "c.test", extra)
                } else {
                    let url = format!("https://a.test:{port}/index.txt");
                    let mut args = vec![url.as_str(), "--connect-to", &connect, "--cacert", &ca];
                    if h2 {
                        args.push("--http2");
                    }
                    args.extend_from_slice(extra);
                    probe(&args)
                };
                assert_eq!(code, 1, "{case} {what}: {j}");
                let tls = sample(&j, "http.tls");
                assert_eq!(tls["ok"], false, "{case} {what}");
                assert_eq!(tls["labels"]["phase"], "tls");
                let error = tls["labels"]["error"].as_str().unwrap();
                assert_eq!(
                    error, "received fatal alert: UnrecognisedName",
                    "{case} {what}"
                );
            }
        }
    }

    // A byte range of site a over HTTP/2: 206 with exactly the bytes asked.
    let (code, j) = probe(&[
        &format!("https://a.test:{port}/index.txt"),
        "--connect-to",
        &format!("[::1]:{port}"),
        "--cacert",
        &ca,
        "--http2",
        "--range",
        "5-6",
    ]);
    assert_eq!(code, 0, "{j}");
    assert_eq!(sample(&j, "http.status")["value"], 206.0);
    assert_eq!(sample(&j, "http.bytes")["value"], 2.0);

    // `--verify`: a catalogue file's body, whole and as a range, is
    // checked byte by byte; with another catalogue's seed it fails, in
    // the verify phase.
    let seg = format!("https://a.test:{port}/t/7/1500k/0003.m4s");
    let connect = format!("127.0.0.1:{port}");
    for extra in [
        &[][..],
        &["--range", "1000-54321"][..],
        &["--http2", "--range", "99990-"][..],
    ] {
        let mut args = vec![
            seg.as_str(),
            "--connect-to",
            &connect,
            "--cacert",
            &ca,
            "--verify",
            "42",
        ];
        args.extend_from_slice(extra);
        let (code, j) = probe(&args);
        assert_eq!(code, 0, "{extra:?}: {j}");
    }
    let (code, j) = probe(&[
        &seg,
        "--connect-to",
        &connect,
        "--cacert",
        &ca,
        "--verify",
        "43",
    ]);
    assert_eq!(code, 1, "{j}");
    let failed = j["samples"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["labels"]["phase"] == "verify")
        .unwrap_or_else(|| panic!("no failure in the verify phase: {j}"));
    assert!(
        failed["labels"]["error"]
            .as_str()
            .unwrap()
            .contains("byte 0 of the body is not the catalogue's (seed 43)"),
        "{failed}"
    );
    // And a path that is not the catalogue's is refused before any request.
    let (code, _) = {
        let out = bin()
            .args([
                "probe",
                "http",
                &format!("https://a.test:{port}/index.txt"),
                "--verify",
                "42",
            ])
            .output()
            .unwrap();
        (out.status.code().unwrap_or(-1), ())
    };
    assert_eq!(
        code, 2,
        "a non-catalogue path with --verify is a usage error"
    );
}
