//! Lab certificates (`netproof cdn certs`): a lab CA and one certificate
//! per site, so a lab needs no outside PKI; the plan's `http` steps and
//! the edges' fill clients trust the CA.
//!
//! Files, in the output directory, with stable names a config can point
//! at: `ca.pem` and `ca.key` (the CA), and per site `NAME.pem` and
//! `NAME.key`, where NAME is the site's first name with a leading `*`
//! written `_wildcard` (`*.a.test` → `_wildcard.a.test.pem`). A directory
//! that already holds `ca.pem` and `ca.key` keeps its CA, so certificates
//! made on different days verify against the same CA. Keys are written
//! mode 0600. Validity is fixed (2025-01-01 to 2045-01-01), not taken
//! from the clock, so a lab made today still works in a recorded rerun.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use thiserror::Error;

/// Why certificates could not be made.
#[derive(Debug, Error)]
pub enum CertsError {
    /// A site name is not a host name.
    #[error(
        "site name `{name}` {why}\nhint: write DNS names such as `video.cdn.test` or `*.video.cdn.test`"
    )]
    Name {
        /// The name.
        name: String,
        /// What is wrong.
        why: &'static str,
    },
    /// A file could not be read or written.
    #[error("cannot {what} `{path}`: {source}")]
    Io {
        /// Read or write.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The existing CA could not be used.
    #[error(
        "the CA in `{dir}` cannot be used: {why}\nhint: remove `ca.pem` and `ca.key` there to make a new CA (and remake every site's certificate)"
    )]
    Ca {
        /// The directory.
        dir: PathBuf,
        /// Why.
        why: String,
    },
    /// rcgen refused.
    #[error("cannot make a certificate for `{name}`: {source}")]
    Rcgen {
        /// The site or `the CA`.
        name: String,
        /// Why.
        #[source]
        source: rcgen::Error,
    },
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The CA certificate.
    pub ca: PathBuf,
    /// Whether the CA was there already.
    pub reused_ca: bool,
    /// Per site: its names, its certificate, its key.
    pub sites: Vec<(Vec<String>, PathBuf, PathBuf)>,
}

/// The file stem of a site whose first name is `name`.
pub fn stem(name: &str) -> String {
    match name.strip_prefix("*.") {
        Some(rest) => format!("_wildcard.{rest}"),
        None => name.to_string(),
    }
}

fn write(path: &Path, text: &str, private: bool) -> Result<(), CertsError> {
    let io = |source| CertsError::Io {
        what: "write",
        path: path.to_path_buf(),
        source,
    };
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    if private {
        opts.mode(0o600);
    }
    opts.open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(io)
}

fn validity(p: &mut CertificateParams) {
    p.not_before = rcgen::date_time_ymd(2025, 1, 1);
    p.not_after = rcgen::date_time_ymd(2045, 1, 1);
}

/// Makes (or reuses) the CA in `out` and a certificate for each site; each
/// site is a list of names, its first naming the files.
pub fn make(out: &Path, sites: &[Vec<String>]) -> Result<Written, CertsError> {
    for name in sites.iter().flatten() {
        netproof_proto::cdn::check_name(name).map_err(|why| CertsError::Name {
            name: name.clone(),
            why,
        })?;
    }
    fs::create_dir_all(out).map_err(|source| CertsError::Io {
        what: "create",
        path: out.to_path_buf(),
        source,
    })?;
    let (ca_pem, ca_key) = (out.join("ca.pem"), out.join("ca.key"));
    let reused_ca = ca_pem.exists() && ca_key.exists();
    let rc = |name: &str| {
        let name = name.to_string();
        move |source| CertsError::Rcgen { name, source }
    };
    let issuer = if reused_ca {
        let read = |p: &Path| {
            fs::read_to_string(p).map_err(|source| CertsError::Io {
                what: "read",
                path: p.to_path_buf(),
                source,
            })
        };
        let ca_err = |why: String| CertsError::Ca {
            dir: out.to_path_buf(),
            why,
        };
        let key =
            KeyPair::from_pem(&read(&ca_key)?).map_err(|e| ca_err(format!("`ca.key`: {e}")))?;
        Issuer::from_ca_cert_pem(&read(&ca_pem)?, key)
            .map_err(|e| ca_err(format!("`ca.pem`: {e}")))?
    } else {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(rc("the CA"))?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "netproof lab CA");
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        validity(&mut params);
        let key = KeyPair::generate().map_err(rc("the CA"))?;
        let cert = params.self_signed(&key).map_err(rc("the CA"))?;
        write(&ca_pem, &cert.pem(), false)?;
        write(&ca_key, &key.serialize_pem(), true)?;
        Issuer::new(params, key)
    };
    let mut written = Vec::new();
    for names in sites {
        let Some(first) = names.first() else { continue };
        let mut params = CertificateParams::new(names.clone()).map_err(rc(first))?;
        params
            .distinguished_name
            .push(DnType::CommonName, first.as_str());
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        validity(&mut params);
        let key = KeyPair::generate().map_err(rc(first))?;
        let cert = params.signed_by(&key, &issuer).map_err(rc(first))?;
        let s = stem(first);
        let (cert_path, key_path) = (out.join(format!("{s}.pem")), out.join(format!("{s}.key")));
        write(&cert_path, &cert.pem(), false)?;
        write(&key_path, &key.serialize_pem(), true)?;
        written.push((names.clone(), cert_path, key_path));
    }
    Ok(Written {
        ca: ca_pem,
        reused_ca,
        sites: written,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn files_have_stable_names_and_the_ca_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let w = make(
            dir.path(),
            &[
                vec!["a.test".into(), "*.a.test".into()],
                vec!["*.b.test".into()],
            ],
        )
        .unwrap();
        assert!(!w.reused_ca);
        assert_eq!(w.sites[0].1, dir.path().join("a.test.pem"));
        assert_eq!(w.sites[1].2, dir.path().join("_wildcard.b.test.key"));
        let mode = fs::metadata(&w.sites[1].2).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let ca = fs::read(&w.ca).unwrap();
        let again = make(dir.path(), &[vec!["c.test".into()]]).unwrap();
        assert!(again.reused_ca);
        assert_eq!(fs::read(&w.ca).unwrap(), ca, "the CA is not rewritten");
        assert!(dir.path().join("a.test.pem").exists());
    }

    #[test]
    fn bad_names_are_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let err = make(dir.path(), &[vec!["a..test".into()]]).unwrap_err();
        assert!(err.to_string().contains("`a..test`"), "{err}");
        assert!(!dir.path().join("ca.pem").exists());
    }
}
