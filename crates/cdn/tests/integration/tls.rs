//! Fill from an `https` source: the store trusts the configured CA file
//! (a lab CA made here with rcgen) and sends the site as SNI and Host.

use std::sync::Arc;
use std::time::Duration;

use netproof_cdn::fill::plan::FailKind;
use netproof_cdn::fill::{FillConfig, FillSource, FillStore};
use netproof_cdn::object::{ObjectKey, Objects, OpenError};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::time::timeout;

use crate::upstream_server::{Knobs, content_of, start_with};

const BOUND: Duration = Duration::from_secs(20);

/// A CA (PEM) and a server config for `names` signed by it.
fn lab_pki(names: &[&str]) -> (String, rustls::ServerConfig) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let leaf = CertificateParams::new(names)
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    (ca.pem(), server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_source_is_trusted_through_the_ca_file_and_gets_the_site_as_sni_and_host() {
    let (ca_pem, server) = lab_pki(&["a.test"]);
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let tier = start_with(Knobs::new("tier", 70_000, &log), Some(acceptor)).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("lab-ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let url = format!("https://{}", tier.addr);
    let mut c = FillConfig::new(
        vec![FillSource::parse("tier", &url, "tier").unwrap()],
        1 << 20,
    );
    c.ca_file = Some(ca_file);
    let store = FillStore::new(&c).unwrap();

    let k = ObjectKey {
        site: "a.test".into(),
        path: "/t/3/f".into(),
    };
    let o = timeout(BOUND, store.open(&k)).await.unwrap().unwrap();
    let mut at = 0;
    let content = content_of("a.test", "/t/3/f");
    while at < o.meta.len {
        let b = timeout(BOUND, o.body.read_at(at, 1 << 20))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(content.first_mismatch(at, &b), None);
        at += b.len() as u64;
    }
    assert_eq!(at, 70_000);
    assert_eq!(*tier.knobs.sni.lock().unwrap(), [Some("a.test".to_owned())]);
    assert_eq!(log.lock().unwrap()[0].host, "a.test");

    // A site the source's certificate does not name is refused by TLS,
    // never served.
    let k = ObjectKey {
        site: "b.test".into(),
        path: "/t/3/f".into(),
    };
    let e = timeout(BOUND, store.open(&k)).await.unwrap().err().unwrap();
    assert!(matches!(e, OpenError::Upstream { .. }), "{e}");
    assert!(e.to_string().contains("TLS"), "{e}");
    assert_eq!(store.counters().snapshot().failed(FailKind::Tls), 1);
    assert_eq!(log.lock().unwrap().len(), 1);
}
