//! A differential test against a real peer: nginx serves a file whose
//! bytes come from the content function, our front serves the same file
//! from the catalogue, and the same Range headers must give the same
//! status, the same Content-Range and the same bytes (multipart parts
//! compared part by part, since the boundaries differ).

use std::net::SocketAddr;
use std::time::Duration;

use netproof_proto::range::ContentRange;

use crate::support::*;

/// nginx on a free loopback port, serving `root`; stopped on drop.
struct Nginx {
    addr: SocketAddr,
    _child: tokio::process::Child,
}

async fn nginx(dir: &std::path::Path) -> Nginx {
    need("nginx");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let d = dir.display();
    let conf = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/cb;\n  proxy_temp_path {d}/px;\n\
         fastcgi_temp_path {d}/fc;\n  uwsgi_temp_path {d}/uw;\n  scgi_temp_path {d}/sc;\n\
         server {{ listen {addr}; root {d}/www; }}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let child = tokio::process::Command::new("nginx")
        .args([
            "-p",
            &d.to_string(),
            "-c",
            &format!("{d}/nginx.conf"),
            "-e",
            &format!("{d}/error.log"),
        ])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("nginx starts");
    let deadline = tokio::time::Instant::now() + BOUND;
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "nginx did not listen on {addr}: {}",
            std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Nginx {
        addr,
        _child: child,
    }
}

/// The parts of a multipart/byteranges body (nginx opens with a CRLF).
fn parts(content_type: &str, body: &[u8]) -> Vec<(String, Vec<u8>)> {
    let boundary = content_type
        .split("boundary=")
        .nth(1)
        .expect("a boundary")
        .trim_matches('"');
    let delim = format!("--{boundary}");
    let body = body.strip_prefix(b"\r\n").unwrap_or(body);
    let mut rest = body
        .strip_prefix(delim.as_bytes())
        .expect("opens with a delimiter");
    let mut out = Vec::new();
    while let Some(r) = rest.strip_prefix(b"\r\n") {
        let end = r
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("part head");
        let head = std::str::from_utf8(&r[..end]).unwrap();
        let cr_text = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Range: "))
            .expect("Content-Range")
            .to_string();
        let cr = ContentRange::parse(cr_text.as_bytes()).unwrap();
        let data = &r[end + 4..end + 4 + cr.len() as usize];
        out.push((cr_text, data.to_vec()));
        rest = r[end + 4 + cr.len() as usize..]
            .strip_prefix(format!("\r\n{delim}").as_bytes())
            .expect("a delimiter after a part");
    }
    assert!(rest.starts_with(b"--"), "closed by the final delimiter");
    out
}

#[tokio::test]
async fn ranges_match_nginx_for_the_same_file_and_headers() {
    let lab = lab(None).await;
    let dir = tempfile::tempdir().unwrap();
    let bytes = whole(SEED, BIG);
    let len = bytes.len() as u64;
    std::fs::create_dir_all(dir.path().join("www")).unwrap();
    std::fs::write(dir.path().join("www/f.m4s"), &bytes).unwrap();
    let peer = nginx(dir.path()).await;
    let cases = [
        "bytes=0-0".to_string(),
        "bytes=0-1023".into(),
        "bytes=100-".into(),
        format!("bytes={}-", len - 1),
        format!("bytes={}-{}", len - 10, len + 10),
        "bytes=-1".into(),
        "bytes=-4096".into(),
        format!("bytes=-{}", len * 2),
        format!("bytes={len}-"),
        format!("bytes={}-{}", len + 1, len + 2),
        "bytes=0-9,20-29".into(),
        format!("bytes=0-0,-1,{}-", len - 100),
        format!("bytes={}-,5-6", len + 5),
        format!("bytes=0-{},0-{}", len - 1, len - 1),
    ];
    for range in &cases {
        let ours = fetch(
            lab.http(),
            Via::Plain,
            false,
            "a.test",
            BIG,
            &[("range", range)],
        )
        .await;
        let theirs = fetch(
            peer.addr,
            Via::Plain,
            false,
            "localhost",
            "/f.m4s",
            &[("range", range)],
        )
        .await;
        assert_eq!(ours.status, theirs.status, "status for {range}");
        assert_eq!(
            ours.header("content-range"),
            theirs.header("content-range"),
            "Content-Range for {range}"
        );
        let multipart = |g: &Got| {
            g.header("content-type")
                .is_some_and(|t| t.starts_with("multipart/"))
        };
        assert_eq!(
            multipart(&ours),
            multipart(&theirs),
            "multipart or not for {range}"
        );
        if multipart(&ours) {
            assert_eq!(
                parts(ours.header("content-type").unwrap(), &ours.body),
                parts(theirs.header("content-type").unwrap(), &theirs.body),
                "parts for {range}"
            );
        } else if ours.status != 416 {
            assert_eq!(ours.body, theirs.body, "body for {range}");
        }
    }
}
