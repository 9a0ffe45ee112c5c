//! TLS for the HTTP probe: trust (a CA file, or none), the name the
//! certificate is checked against, and the certificate the server showed.
//!
//! Every connection gets a verifier of its own that keeps a copy of the
//! end-entity certificate before judging it, so a handshake that fails
//! verification still reports *which* certificate the server presented
//! (the point of probing a multi-site server with a wrong name). In
//! insecure mode the verifier accepts any chain but still checks the
//! handshake signatures, so the recorded certificate is the one whose key
//! the server holds.
//!
//! Certificate fields are read with `x509-parser`; a certificate it cannot
//! read yields [`CertInfo::unreadable`], never a panic.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use thiserror::Error;

/// How the server's certificate is judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Verify the chain against the CA certificates in this PEM file (the
    /// lab CA) and the name against the certificate's SANs.
    CaFile(PathBuf),
    /// Verify against CA certificates given as PEM text.
    CaPem(Vec<u8>),
    /// Accept any certificate (still recorded, still signature-checked).
    Insecure,
}

/// A trust setting that cannot be used.
#[derive(Debug, Error)]
pub enum TlsSetupError {
    /// The CA file cannot be read.
    #[error("cannot read the CA file `{path}`: {source}")]
    ReadCa {
        /// The file.
        path: PathBuf,
        /// The system's reason.
        source: std::io::Error,
    },
    /// The CA file holds no usable certificate.
    #[error("the CA file `{what}` holds no usable PEM certificate{detail}")]
    NoCa {
        /// The file, or `PEM text`.
        what: String,
        /// What went wrong with the ones it has.
        detail: String,
    },
    /// rustls refused the configuration.
    #[error("cannot set up TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The certificate a server presented, as sample labels and values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The subject's distinguished name, e.g. `CN=a.test`.
    pub subject: String,
    /// The issuer's distinguished name.
    pub issuer: String,
    /// DNS names and IP addresses from the subjectAltName extension, sorted.
    pub names: Vec<String>,
    /// notAfter, seconds since the Unix epoch.
    pub not_after: i64,
    /// notAfter as RFC 2822 text (for labels).
    pub not_after_text: String,
}

impl CertInfo {
    /// Reads the fields of a DER certificate; `None` when it is not one.
    pub fn from_der(der: &[u8]) -> Option<CertInfo> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        let mut names = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for n in &san.value.general_names {
                match n {
                    x509_parser::extensions::GeneralName::DNSName(d) => {
                        names.push(d.to_ascii_lowercase())
                    }
                    x509_parser::extensions::GeneralName::IPAddress(b) => {
                        if let Some(ip) = ip_from_bytes(b) {
                            names.push(ip.to_string());
                        }
                    }
                    _ => {}
                }
            }
        }
        names.sort();
        names.dedup();
        let not_after = cert.validity().not_after;
        Some(CertInfo {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            names,
            not_after: not_after.timestamp(),
            not_after_text: not_after
                .to_rfc2822()
                .unwrap_or_else(|_| not_after.to_string()),
        })
    }

    /// What a certificate that cannot be parsed is recorded as.
    pub fn unreadable() -> CertInfo {
        CertInfo {
            subject: "(unreadable certificate)".into(),
            issuer: String::new(),
            names: Vec::new(),
            not_after: 0,
            not_after_text: String::new(),
        }
    }
}

fn ip_from_bytes(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => <[u8; 4]>::try_from(b).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(b).ok().map(IpAddr::from),
        _ => None,
    }
}

/// The shared part of every connection's TLS setup.
#[derive(Debug, Clone)]
pub(crate) struct TlsSetup {
    base: Arc<ClientConfig>,
    provider: Arc<CryptoProvider>,
    /// `None` in insecure mode.
    webpki: Option<Arc<WebPkiServerVerifier>>,
}

/// What the per-connection verifier saw.
pub(crate) type SeenCert = Arc<Mutex<Option<CertificateDer<'static>>>>;

impl TlsSetup {
    /// Loads the trust anchors and builds the base configuration. `alpn`
    /// is offered as given (`h2` or `http/1.1`).
    pub(crate) fn new(trust: &Trust, alpn: &[&[u8]]) -> Result<TlsSetup, TlsSetupError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let webpki = match trust {
            Trust::Insecure => None,
            Trust::CaFile(path) => {
                let pem = std::fs::read(path).map_err(|source| TlsSetupError::ReadCa {
                    path: path.clone(),
                    source,
                })?;
                Some(webpki(&pem, &path.display().to_string(), &provider)?)
            }
            Trust::CaPem(pem) => Some(webpki(pem, "PEM text", &provider)?),
        };
        let placeholder = Arc::new(Recorder {
            webpki: webpki.clone(),
            algorithms: provider.signature_verification_algorithms,
            seen: SeenCert::default(),
        });
        let mut base = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(placeholder)
            .with_no_client_auth();
        base.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(TlsSetup {
            base: Arc::new(base),
            provider,
            webpki,
        })
    }

    /// A configuration for one connection, with a verifier that records
    /// the presented certificate into the returned slot. `sni = false`
    /// leaves the server_name extension out.
    pub(crate) fn for_connection(&self, sni: bool) -> (Arc<ClientConfig>, SeenCert) {
        let seen = SeenCert::default();
        let mut cfg = (*self.base).clone();
        cfg.enable_sni = sni;
        cfg.dangerous().set_certificate_verifier(Arc::new(Recorder {
            webpki: self.webpki.clone(),
            algorithms: self.provider.signature_verification_algorithms,
            seen: seen.clone(),
        }));
        (Arc::new(cfg), seen)
    }
}

fn webpki(
    pem: &[u8],
    what: &str,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, TlsSetupError> {
    let mut roots = RootCertStore::empty();
    let mut problems = Vec::new();
    for cert in CertificateDer::pem_slice_iter(pem) {
        match cert {
            Ok(c) => {
                if let Err(e) = roots.add(c) {
                    problems.push(e.to_string());
                }
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    if roots.is_empty() {
        return Err(TlsSetupError::NoCa {
            what: what.to_string(),
            detail: if problems.is_empty() {
                String::new()
            } else {
                format!(" ({})", problems.join("; "))
            },
        });
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| TlsSetupError::Rustls(rustls::Error::General(e.to_string())))
}

/// Keeps the end-entity certificate, then verifies it (or not).
#[derive(Debug)]
struct Recorder {
    webpki: Option<Arc<WebPkiServerVerifier>>,
    algorithms: WebPkiSupportedAlgorithms,
    seen: SeenCert,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut slot) = self.seen.lock() {
            *slot = Some(end_entity.clone().into_owned());
        }
        match &self.webpki {
            Some(v) => {
                v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            None => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The reason a TLS handshake failed, from tokio-rustls' I/O error: the
/// rustls error when there is one (`received fatal alert: HandshakeFailure`,
/// `invalid peer certificate: UnknownIssuer`), else the I/O reason.
pub(crate) fn handshake_reason(e: &std::io::Error) -> String {
    if let Some(inner) = e.get_ref()
        && let Some(r) = inner.downcast_ref::<rustls::Error>()
    {
        return r.to_string();
    }
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => {
            "the server closed the connection during the TLS handshake".into()
        }
        _ => e.to_string(),
    }
}

/// The name rustls connects with: the SNI name, or, when no SNI is sent,
/// the name the certificate is checked against.
pub(crate) fn server_name(name: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(name.to_string())
        .map_err(|_| format!("`{name}` is neither a DNS name nor an IP address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_subject_issuer_names_and_expiry() {
        let mut params =
            rcgen::CertificateParams::new(vec!["A.test".into(), "b.test".into()]).expect("params");
        params
            .subject_alt_names
            .push(rcgen::SanType::IpAddress("::1".parse().unwrap()));
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "a.test");
        params.not_after = rcgen::date_time_ymd(2031, 1, 2);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let info = CertInfo::from_der(cert.der()).unwrap();
        assert_eq!(info.subject, "CN=a.test");
        assert_eq!(info.issuer, "CN=a.test");
        assert_eq!(info.names, vec!["::1", "a.test", "b.test"]);
        assert_eq!(info.not_after, 1_925_078_400);
        assert!(
            info.not_after_text.contains("2031"),
            "{}",
            info.not_after_text
        );
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert_eq!(CertInfo::from_der(b"\x30\x03\x02\x01"), None);
        assert_eq!(CertInfo::from_der(b""), None);
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let e = TlsSetup::new(&Trust::CaPem(b"not pem".to_vec()), &[b"h2"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the CA file `PEM text` holds no usable PEM certificate"
        );
        let e = TlsSetup::new(&Trust::CaFile("/nonexistent/ca.pem".into()), &[]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot read the CA file `/nonexistent/ca.pem`"),
            "{e}"
        );
    }
}
