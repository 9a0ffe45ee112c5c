//! The front's TLS: each site's certificate loaded from PEM files, a
//! certificate resolver that chooses by SNI through [`sites`](crate::sites),
//! and the rustls server configuration (ring, TLS 1.3 and 1.2, ALPN `h2`
//! then `http/1.1`).
//!
//! One broken certificate does not take the front down: [`load`] returns
//! every site's certificate or the reason it could not be used, the front
//! reports the reasons at start, and the other sites serve. (rustls's own
//! `ResolvesServerCertUsingSni` matches exact names only and takes one
//! bad certificate as an error for all.)

use std::path::Path;
use std::sync::Arc;

use netproof_proto::cdn::Site;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use thiserror::Error;

use crate::sites::{CertChoice, Names};

/// Why a site's certificate cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("site `{site}`: {why}\nhint: {hint}")]
pub struct CertError {
    /// The site.
    pub site: String,
    /// What is wrong, naming the file.
    pub why: String,
    /// What to do.
    pub hint: String,
}

const REMAKE: &str = "make lab certificates with `netproof cdn certs --out DIR --site NAME` and point the site's `cert` and `key` at them";

fn pem_error(path: &Path, e: &rustls_pki_types::pem::Error) -> String {
    match e {
        rustls_pki_types::pem::Error::Io(io) => format!("cannot read `{}`: {io}", path.display()),
        other => format!("`{}` is not PEM: {other:?}", path.display()),
    }
}

/// Loads one site's certificate chain and key, checking that they belong
/// together.
fn load_one(
    provider: &CryptoProvider,
    site: &str,
    cert: &Path,
    key: &Path,
) -> Result<Arc<CertifiedKey>, CertError> {
    let err = |why: String| CertError {
        site: site.to_string(),
        why,
        hint: REMAKE.into(),
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| err(pem_error(cert, &e)))?
        .collect::<Result<_, _>>()
        .map_err(|e| err(pem_error(cert, &e)))?;
    if chain.is_empty() {
        return Err(err(format!(
            "`{}` holds no certificate (no `BEGIN CERTIFICATE` block)",
            cert.display()
        )));
    }
    let der = PrivateKeyDer::from_pem_file(key).map_err(|e| err(pem_error(key, &e)))?;
    let certified = CertifiedKey::from_der(chain, der, provider).map_err(|e| {
        err(format!(
            "the key `{}` does not go with the certificate `{}`: {e}",
            key.display(),
            cert.display()
        ))
    })?;
    Ok(Arc::new(certified))
}

/// Every site's certificate, or why it is unusable; `None` for a site
/// without `cert`/`key` (a plain-HTTP front).
pub fn load(sites: &[Site]) -> Vec<Option<Result<Arc<CertifiedKey>, CertError>>> {
    let provider = rustls::crypto::ring::default_provider();
    sites
        .iter()
        .map(|s| match (&s.cert, &s.key) {
            (Some(c), Some(k)) => Some(load_one(&provider, &s.name, c, k)),
            (None, None) => None,
            (c, _) => Some(Err(CertError {
                site: s.name.clone(),
                why: format!(
                    "has a `{}` but no `{}`",
                    if c.is_some() { "cert" } else { "key" },
                    if c.is_some() { "key" } else { "cert" }
                ),
                hint: REMAKE.into(),
            })),
        })
        .collect()
}

/// Chooses each handshake's certificate by SNI.
#[derive(Debug)]
pub struct Resolver {
    names: Arc<Names>,
    choice: CertChoice,
    keys: Vec<Option<Arc<CertifiedKey>>>,
}

impl Resolver {
    /// A resolver over `keys` (per site, `None` where unusable).
    pub fn new(
        names: Arc<Names>,
        keys: Vec<Option<Arc<CertifiedKey>>>,
        default: Option<usize>,
    ) -> Resolver {
        let choice = CertChoice {
            usable: keys.iter().map(Option::is_some).collect(),
            default,
        };
        Resolver {
            names,
            choice,
            keys,
        }
    }

    /// The policy, for routing requests after the handshake.
    pub fn choice(&self) -> &CertChoice {
        &self.choice
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let site = self.choice.choose(&self.names, hello.server_name())?;
        self.keys.get(site).cloned().flatten()
    }
}

/// The rustls configuration of a front: ring, TLS 1.3 and 1.2, ALPN h2 and
/// http/1.1, certificates from `resolver`.
pub fn server_config(resolver: Arc<Resolver>) -> Result<Arc<ServerConfig>, rustls::Error> {
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
