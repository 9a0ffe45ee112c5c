//! A lab origin on loopback and a small client that sets the address, the
//! SNI, the Host and the HTTP version independently.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use netproof_cdn::catalogue::Catalogue;
use netproof_cdn::front::Limits;
use netproof_cdn::front::body::ResponseBody;
use netproof_cdn::metrics::AccessRecord;
use netproof_cdn::origin::Origin;
use netproof_cdn::server::{self, Running};
use netproof_proto::cdn::{Catalogue as CatalogueConfig, Listen, OriginKnobs, Site, Tls};
use netproof_proto::content::ContentKey;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;

/// Every wait in these tests is bounded by this.
pub const BOUND: Duration = Duration::from_secs(20);

/// The catalogue seed, and the seeds of the sites that have their own.
pub const SEED: u64 = 42;
pub const LIVE_SEED: u64 = 7;
pub const B_SEED: u64 = 8;

/// A 100 000-byte-ish file (800 kbit/s for 1 s) and a 12 500-byte-ish one.
pub const BIG: &str = "/t/3/800k/0001.m4s";
pub const SMALL: &str = "/t/0/100k/0002.m4s";

pub fn catalogue() -> CatalogueConfig {
    CatalogueConfig {
        seed: SEED,
        titles: 5,
        bitrates_kbps: vec![100, 800],
        segments: 3,
        segment_ms: 1000,
        zipf: 0.8,
    }
}

/// The bytes and length of `path` under `seed`.
pub fn content(seed: u64, path: &str) -> (ContentKey, u64) {
    let c = Catalogue::new(catalogue());
    let f = c.file(path).expect("a catalogue path");
    (c.key(seed, &f), c.meta(seed, &f).len)
}

/// The whole of `path` under `seed`.
pub fn whole(seed: u64, path: &str) -> Vec<u8> {
    let (key, len) = content(seed, path);
    let mut v = vec![0u8; len as usize];
    key.fill(0, &mut v);
    v
}

/// A lab: certificates in a scratch directory and an origin serving
/// `a.test` (+ `*.a.test`), `live.a.test`, `b.test` and `broken.test`
/// (whose certificate file is garbage).
pub struct Lab {
    pub dir: tempfile::TempDir,
    pub running: Running,
    /// Every access record the front wrote.
    pub log: Arc<Mutex<Vec<AccessRecord>>>,
}

impl Lab {
    pub fn https(&self) -> SocketAddr {
        self.running.https[0]
    }
    pub fn http(&self) -> SocketAddr {
        self.running.http[0]
    }
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }
    /// The DER of the certificate made for the site whose files are `stem`.
    pub fn cert_der(&self, stem: &str) -> Vec<u8> {
        use rustls::pki_types::pem::PemObject;
        CertificateDer::from_pem_file(self.dir.path().join(format!("{stem}.pem")))
            .expect("a lab certificate")
            .to_vec()
    }
}

fn site(name: &str, names: &[&str], dir: &Path, stem: &str, seed: Option<u64>) -> Site {
    Site {
        name: name.into(),
        names: names.iter().map(|s| s.to_string()).collect(),
        cert: Some(dir.join(format!("{stem}.pem"))),
        key: Some(dir.join(format!("{stem}.key"))),
        seed,
    }
}

pub async fn lab(default_site: Option<&str>) -> Lab {
    lab_with(default_site, OriginKnobs::default(), Limits::default()).await
}

pub async fn lab_with(default_site: Option<&str>, knobs: OriginKnobs, limits: Limits) -> Lab {
    let dir = tempfile::tempdir().expect("tempdir");
    netproof_cdn::certs::make(
        dir.path(),
        &[
            vec!["a.test".into(), "*.a.test".into()],
            vec!["live.a.test".into()],
            vec!["b.test".into()],
        ],
    )
    .expect("lab certificates");
    std::fs::write(dir.path().join("broken.test.pem"), "not a certificate\n").unwrap();
    std::fs::copy(
        dir.path().join("b.test.key"),
        dir.path().join("broken.test.key"),
    )
    .unwrap();
    let sites = vec![
        site("a.test", &["*.a.test"], dir.path(), "a.test", None),
        site(
            "live.a.test",
            &[],
            dir.path(),
            "live.a.test",
            Some(LIVE_SEED),
        ),
        site("b.test", &[], dir.path(), "b.test", Some(B_SEED)),
        site("broken.test", &[], dir.path(), "broken.test", None),
    ];
    let listen = Listen {
        https: vec!["127.0.0.1:0".parse().unwrap()],
        http: vec!["127.0.0.1:0".parse().unwrap()],
    };
    let tls = Tls {
        default_site: default_site.map(str::to_string),
    };
    let objects = Arc::new(Origin::new(Catalogue::new(catalogue()), &sites, knobs));
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let running = server::start(
        &listen,
        Some("127.0.0.1:0".parse().unwrap()),
        &tls,
        &sites,
        objects,
        limits,
        Some(Arc::new(move |r: &AccessRecord| {
            sink.lock().unwrap().push(r.clone())
        })),
    )
    .await
    .expect("the origin starts");
    Lab { dir, running, log }
}

/// Accepts any certificate and remembers it: the tests compare it with the
/// file they expect, which says more than a pass/fail verification.
#[derive(Debug)]
struct Recorder {
    seen: Arc<Mutex<Option<Vec<u8>>>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.seen.lock().unwrap() = Some(end_entity.to_vec());
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            m,
            c,
            d,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            m,
            c,
            d,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// How to connect.
#[derive(Debug, Clone)]
pub enum Via {
    /// Plain HTTP.
    Plain,
    /// TLS with this SNI (`None`: no SNI).
    Tls(Option<String>),
    /// TLS with SNI, verifying the chain against the lab CA file.
    Verified(String, PathBuf),
}

/// A response as the tests look at it.
#[derive(Debug)]
pub struct Got {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Vec<u8>,
    /// The server's end-entity certificate (TLS).
    pub cert: Option<Vec<u8>>,
    /// The ALPN protocol agreed.
    pub alpn: Option<Vec<u8>>,
}

impl Got {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A TLS handshake only; the server's certificate, or the error.
pub async fn handshake(
    addr: SocketAddr,
    via: &Via,
    alpn: &[&[u8]],
) -> Result<(tokio_rustls::client::TlsStream<TcpStream>, Option<Vec<u8>>), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let seen = Arc::new(Mutex::new(None));
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let (mut config, name) = match via {
        Via::Tls(sni) => {
            let c = builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Recorder {
                    seen: seen.clone(),
                    provider,
                }))
                .with_no_client_auth();
            // rustls sends no SNI for an IP address.
            let name = match sni {
                Some(s) => ServerName::try_from(s.clone()).unwrap(),
                None => ServerName::IpAddress(addr.ip().into()),
            };
            (c, name)
        }
        Via::Verified(sni, ca) => {
            use rustls::pki_types::pem::PemObject;
            let mut roots = rustls::RootCertStore::empty();
            roots
                .add(CertificateDer::from_pem_file(ca).unwrap())
                .unwrap();
            (
                builder.with_root_certificates(roots).with_no_client_auth(),
                ServerName::try_from(sni.clone()).unwrap(),
            )
        }
        Via::Plain => unreachable!("no TLS"),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let stream = tokio::time::timeout(
        BOUND,
        tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp),
    )
    .await
    .map_err(|_| "handshake timed out".to_string())?
    .map_err(|e| e.to_string())?;
    let cert = seen.lock().unwrap().take().or_else(|| {
        stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.to_vec())
    });
    Ok((stream, cert))
}

/// Sends one request (method GET unless `head`), with `host` as Host (or
/// `:authority`) and extra headers.
pub async fn fetch(
    addr: SocketAddr,
    via: Via,
    h2: bool,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Got {
    tokio::time::timeout(
        BOUND,
        fetch_inner(addr, via, h2, "GET", host, path, headers),
    )
    .await
    .expect("the request finishes in time")
}

pub async fn fetch_method(
    addr: SocketAddr,
    via: Via,
    h2: bool,
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Got {
    tokio::time::timeout(
        BOUND,
        fetch_inner(addr, via, h2, method, host, path, headers),
    )
    .await
    .expect("the request finishes in time")
}

async fn fetch_inner(
    addr: SocketAddr,
    via: Via,
    h2: bool,
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Got {
    let scheme = if matches!(via, Via::Plain) {
        "http"
    } else {
        "https"
    };
    let mut req = if h2 {
        Request::builder().uri(format!("{scheme}://{host}{path}"))
    } else {
        Request::builder().uri(path).header("host", host)
    };
    req = req.method(method);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(ResponseBody::empty()).unwrap();
    let (resp, cert, alpn) = match via {
        Via::Plain => {
            let tcp = TcpStream::connect(addr).await.unwrap();
            (send(TokioIo::new(tcp), h2, req).await, None, None)
        }
        via => {
            let alpn: &[&[u8]] = if h2 { &[b"h2"] } else { &[b"http/1.1"] };
            let (tls, cert) = handshake(addr, &via, alpn).await.expect("handshake");
            let agreed = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
            (send(TokioIo::new(tls), h2, req).await, cert, agreed)
        }
    };
    let (parts, body) = resp.into_parts();
    let body: Bytes = body.collect().await.expect("a whole body").to_bytes();
    Got {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: body.to_vec(),
        cert,
        alpn,
    }
}

async fn send<I>(
    io: TokioIo<I>,
    h2: bool,
    req: Request<ResponseBody>,
) -> hyper::Response<hyper::body::Incoming>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    if h2 {
        let (mut s, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .expect("h2 handshake");
        tokio::spawn(conn);
        s.send_request(req).await.expect("a response")
    } else {
        let (mut s, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .expect("h1 handshake");
        tokio::spawn(conn);
        s.send_request(req).await.expect("a response")
    }
}

/// Fails, naming the fix, when a peer program is missing.
pub fn need(program: &str) {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`{program}` is not installed; run scripts/install-peers.sh (it installs every peer the tests use)"
    );
}

/// Runs a peer program with a bounded wait; its output.
pub async fn run(program: &str, args: &[&str]) -> std::process::Output {
    need(program);
    let child = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(BOUND, child)
        .await
        .unwrap_or_else(|_| panic!("`{program}` did not finish within {BOUND:?}"))
        .unwrap_or_else(|e| panic!("cannot run `{program}`: {e}"))
}
