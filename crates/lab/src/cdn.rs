//! The reference CDN's services in a lab: their config files and the lab's
//! certificates.
//!
//! A CDN service (`cdn = "origin"|"edge"` in the plan) is a process like
//! any other service, `{netproof} cdn ROLE --config FILE`, so a node fault
//! kills a real process and the lab never links the CDN's code. What this
//! module adds before such a service starts:
//!
//! - once per lab, when some service needs them, the lab's certificates:
//!   `{netproof} cdn certs --out DIR --site NAME,ALIAS... ...` run as a
//!   child process, for every https site whose `cert` and `key` the plan
//!   left out (a site served by several services gets one certificate
//!   with every name any of them gives it). The CA is what `ca =
//!   "{lab_ca}"` in an `http` step and an edge's default `fill.ca` trust;
//!   the certificates are artifacts of the run.
//! - per start, the service's config file, rendered from the plan with the
//!   nodes' addresses and those certificates, in the lab's run directory
//!   (`<registry>/<lab id>.d/cdn/`, removed with the lab and by `lab gc`).
//!
//! What a readiness check connects to is the config's first listener.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use netproof_plan::{CdnService, Service, cert_files};
use netproof_sample::{Artifact, Event, Severity, Sink};
use thiserror::Error;

use crate::NodeHandle;

/// How long `netproof cdn certs` may take (a few RSA-free rcgen keys: well
/// under a second; the bound is for a wedged machine).
const CERTS_WITHIN: Duration = Duration::from_secs(30);

/// Why a CDN service's files could not be made.
#[derive(Debug, Error)]
pub enum CdnError {
    /// A file or directory could not be written.
    #[error(
        "cannot write `{path}`: {source}\nhint: the lab keeps CDN configs and certificates beside its registry entry; check that directory's permissions and free space"
    )]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `netproof cdn certs` could not run, or failed.
    #[error(
        "cannot make the lab's certificates: `{command}` {what}{output}\nhint: run the command by hand to see why; the sites' names come from the plan's CDN services"
    )]
    Certs {
        /// The command line.
        command: String,
        /// What happened (`exited with status 2`).
        what: String,
        /// Its stderr, prefixed with a newline, if any.
        output: String,
    },
    /// This program's own path is unknown, so `{netproof}` cannot run.
    #[error("cannot find the netproof binary to run `netproof cdn`: {0}")]
    NoBinary(#[source] std::io::Error),
}

/// A lab's CDN files: where configs go and, when made, the certificates.
#[derive(Debug)]
pub struct CdnFiles {
    dir: PathBuf,
    certs: Option<PathBuf>,
    netproof: PathBuf,
    /// The services whose config is already an artifact: a service
    /// started again by a fault or a restore gets the same file.
    recorded: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

/// The sites to certify, each with every name any service gives it.
fn lab_sites(services: &[Service]) -> BTreeMap<String, Vec<String>> {
    let mut sites: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for cdn in services.iter().filter_map(|s| s.cdn.as_ref()) {
        for site in cdn.sites.iter().filter(|s| s.lab_cert) {
            let names = sites.entry(site.name.clone()).or_default();
            for n in &site.names {
                if !names.contains(n) {
                    names.push(n.clone());
                }
            }
        }
    }
    sites
}

impl CdnFiles {
    /// Prepares the CDN files of `services` under `run_dir`: `None` when
    /// the plan has no CDN service; makes the lab's certificates when one
    /// needs them, recording them as artifacts.
    pub(crate) async fn prepare(
        run_dir: &Path,
        services: &[Service],
        sink: &dyn Sink,
    ) -> Result<Option<CdnFiles>, CdnError> {
        if services.iter().all(|s| s.cdn.is_none()) {
            return Ok(None);
        }
        let dir = run_dir.join("cdn");
        std::fs::create_dir_all(&dir).map_err(|source| CdnError::Write {
            path: dir.clone(),
            source,
        })?;
        let netproof = std::env::current_exe().map_err(CdnError::NoBinary)?;
        let mut files = CdnFiles {
            dir,
            certs: None,
            netproof,
            recorded: Default::default(),
        };
        let sites = lab_sites(services);
        if !sites.is_empty() {
            files.certs = Some(files.make_certs(&sites, sink).await?);
        }
        Ok(Some(files))
    }

    async fn make_certs(
        &self,
        sites: &BTreeMap<String, Vec<String>>,
        sink: &dyn Sink,
    ) -> Result<PathBuf, CdnError> {
        let out = self.dir.join("certs");
        let mut args: Vec<String> = vec![
            "cdn".into(),
            "certs".into(),
            "--out".into(),
            out.display().to_string(),
        ];
        for (name, names) in sites {
            args.push("--site".into());
            args.push(
                std::iter::once(name.as_str())
                    .chain(names.iter().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join(","),
            );
        }
        let command = format!("{} {}", self.netproof.display(), args.join(" "));
        let failed = |what: String, output: String| CdnError::Certs {
            command: command.clone(),
            what,
            output,
        };
        let child = tokio::process::Command::new(&self.netproof)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output();
        let result = tokio::time::timeout(CERTS_WITHIN, child)
            .await
            .map_err(|_| {
                failed(
                    format!("did not finish within {CERTS_WITHIN:?}"),
                    String::new(),
                )
            })?
            .map_err(|e| failed(format!("could not start: {e}"), String::new()))?;
        if !result.status.success() {
            let err = String::from_utf8_lossy(&result.stderr);
            return Err(failed(
                format!("failed ({})", result.status),
                if err.trim().is_empty() {
                    String::new()
                } else {
                    format!("\n  {}", err.trim().replace('\n', "\n  "))
                },
            ));
        }
        sink.event(Event::new(
            "cdn.certs",
            Severity::Info,
            format!(
                "made the lab CA and certificates for {} in {}",
                sites
                    .keys()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                out.display()
            ),
        ));
        // Certificates (never keys) are the run's record of what was served.
        let pems =
            std::iter::once("ca.pem".to_string()).chain(sites.keys().map(|s| cert_files(s).0));
        for pem in pems {
            if let Ok(content) = std::fs::read(out.join(&pem)) {
                sink.artifact(Artifact {
                    name: format!("cdn/certs/{pem}"),
                    media_type: "application/x-pem-file".into(),
                    content,
                });
            }
        }
        Ok(out)
    }

    /// The lab CA's certificate, when the lab made one.
    pub fn ca(&self) -> Option<PathBuf> {
        self.certs.as_ref().map(|d| d.join("ca.pem"))
    }

    /// Writes `svc`'s config for a start on a lab whose node addresses are
    /// `nodes`, and returns the command that runs it.
    pub(crate) fn command(
        &self,
        svc: &Service,
        cdn: &CdnService,
        nodes: &BTreeMap<String, NodeHandle>,
        sink: &dyn Sink,
    ) -> Result<Vec<String>, CdnError> {
        let base = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        let text = cdn.render(addr_of(nodes), self.certs.as_deref(), &base);
        let path = self.dir.join(format!("{}.toml", svc.name));
        std::fs::write(&path, &text).map_err(|source| CdnError::Write {
            path: path.clone(),
            source,
        })?;
        let first = self
            .recorded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(svc.name.clone());
        if first {
            sink.artifact(Artifact {
                name: format!("service/{}/config.toml", svc.name),
                media_type: "application/toml".into(),
                content: text.into_bytes(),
            });
        }
        Ok(vec![
            self.netproof.display().to_string(),
            "cdn".into(),
            cdn.role.as_str().into(),
            "--config".into(),
            path.display().to_string(),
        ])
    }
}

/// Expands `{addr:NODE}` to the node's address in the lab.
pub(crate) fn addr_of(nodes: &BTreeMap<String, NodeHandle>) -> impl FnMut(&str) -> String + '_ {
    |n: &str| nodes.get(n).map(|h| h.addr.to_string()).unwrap_or_default()
}

/// Where a CDN service's readiness check connects: its first listener, at
/// the node's address when it listens on every address.
pub(crate) fn listener(
    cdn: &CdnService,
    node: &NodeHandle,
    nodes: &BTreeMap<String, NodeHandle>,
) -> Option<SocketAddr> {
    let mut addr: SocketAddr = cdn.listener.addr.expand(addr_of(nodes)).parse().ok()?;
    if addr.ip().is_unspecified() {
        let ip = match (addr.is_ipv6(), node.addr6) {
            (true, Some(v6)) => v6,
            _ => node.addr,
        };
        addr.set_ip(ip);
    }
    Some(addr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use netproof_plan::{Arg, CdnListener, CdnRole, CdnSite};

    fn cdn_service(name: &str, sites: Vec<CdnSite>) -> Service {
        Service {
            name: name.into(),
            node: "n".into(),
            command: vec![],
            cdn: Some(CdnService {
                role: CdnRole::Edge,
                config: vec![],
                sites,
                listener: CdnListener {
                    addr: Arg::literal("0.0.0.0:8443"),
                    https: true,
                },
                lab_ca: false,
            }),
            env: vec![],
            ready: None,
            ready_timeout: Duration::from_secs(1),
            span: netproof_plan::Span::default(),
        }
    }

    fn site(name: &str, names: &[&str], lab_cert: bool) -> CdnSite {
        CdnSite {
            name: name.into(),
            names: names.iter().map(|s| s.to_string()).collect(),
            lab_cert,
        }
    }

    #[test]
    fn a_site_served_by_several_services_gets_one_certificate_with_every_name() {
        let services = vec![
            cdn_service("origin", vec![site("v.test", &["*.v.test"], true)]),
            cdn_service(
                "edge",
                vec![
                    site("v.test", &["edge.v.test", "*.v.test"], true),
                    site("own.test", &[], false),
                ],
            ),
        ];
        let sites = lab_sites(&services);
        assert_eq!(sites.len(), 1, "{sites:?}");
        assert_eq!(sites["v.test"], ["*.v.test", "edge.v.test"]);
    }

    #[test]
    fn readiness_connects_to_the_first_listener_at_the_nodes_address() {
        let node = NodeHandle {
            name: "n".into(),
            addr: "198.18.0.7".parse().unwrap(),
            addr6: None,
            env: Default::default(),
            ns: None,
            resolv_conf: None,
            resolvers: Default::default(),
        };
        let nodes: BTreeMap<String, NodeHandle> = [("n".to_string(), node.clone())].into();
        let svc = cdn_service("e", vec![]);
        let cdn = svc.cdn.as_ref().unwrap();
        assert_eq!(
            listener(cdn, &node, &nodes),
            Some("198.18.0.7:8443".parse().unwrap())
        );
    }
}
