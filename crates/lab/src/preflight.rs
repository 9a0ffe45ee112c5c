//! What a lab needs from this machine, checked before anything starts: the
//! privileges to make network namespaces, the TUN device for emulated
//! links, and the routing daemons the plan's routers run. Every missing
//! piece is named at once, with what to do about it, so a plan that cannot
//! be built says why before a namespace, a process or a run row exists.

use std::path::Path;

use netproof_plan::{Backend, Daemon, Plan};

use crate::router::{self, config};

/// One thing the machine lacks for a plan's lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// What is missing, naming the node or link that needs it.
    pub what: String,
    /// What to do about it.
    pub hint: String,
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\nhint: {}", self.what, self.hint)
    }
}

/// The machine's side of a check: what a path or sysctl holds. A seam, so
/// the rules are tested without changing the machine.
pub trait Machine {
    /// Whether this process runs as root.
    fn is_root(&self) -> bool;
    /// Whether `path` exists (as a file, a device or a directory).
    fn exists(&self, path: &Path) -> bool;
    /// A sysctl's value under /proc/sys, if the kernel has it.
    fn sysctl(&self, name: &str) -> Option<String>;
    /// Whether a system user exists.
    fn has_user(&self, name: &str) -> bool;
}

/// This machine.
pub struct Host;

impl Machine for Host {
    fn is_root(&self) -> bool {
        crate::rootless::is_root()
    }
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
    fn sysctl(&self, name: &str) -> Option<String> {
        let path = format!("/proc/sys/{}", name.replace('.', "/"));
        std::fs::read_to_string(path)
            .ok()
            .map(|s| s.trim().to_string())
    }
    fn has_user(&self, name: &str) -> bool {
        router::paths::user_ids(name).is_some()
    }
}

const PEERS: &str = "scripts/install-peers.sh installs them (Debian packages `bird2` and `frr`)";

/// Everything `plan`'s lab needs that `machine` lacks; empty when it can
/// be built.
pub fn check(plan: &Plan, backend: Backend, machine: &dyn Machine) -> Vec<Missing> {
    let mut missing = Vec::new();
    if backend != Backend::Netns {
        return missing;
    }
    if !machine.is_root() {
        let max = machine
            .sysctl("user.max_user_namespaces")
            .and_then(|v| v.parse::<u64>().ok());
        let clone = machine.sysctl("kernel.unprivileged_userns_clone");
        if max == Some(0) || clone.as_deref() == Some("0") {
            missing.push(Missing {
                what: "the netns backend needs root or unprivileged user namespaces, and this machine allows neither to this user".into(),
                hint: "run as root (sudo), or allow user namespaces (sysctl user.max_user_namespaces > 0, kernel.unprivileged_userns_clone = 1), or run the plan with `--backend local`".into(),
            });
        }
    }
    let Ok(bp) = crate::backend::netns::blueprint(plan, "np-000000") else {
        // The plan's own problems are `check`'s to report.
        return missing;
    };
    if let Some(i) = bp.links.iter().position(|l| l.emulated.is_some())
        && !machine.exists(Path::new("/dev/net/tun"))
    {
        let ends = &plan.links[i].ends;
        missing.push(Missing {
            what: format!(
                "link `{}--{}` is emulated (delay, loss, jitter or a trace), which needs /dev/net/tun, and this machine has none",
                ends[0], ends[1]
            ),
            hint: "load the tun module (`modprobe tun`), or in a container pass the device through (`--device /dev/net/tun`)".into(),
        });
    }
    let Ok(configs) = config::render_blueprint(plan, &bp) else {
        return missing;
    };
    let first = |daemon: Daemon| {
        configs
            .iter()
            .find(|c| c.intent.daemon == daemon)
            .map(|c| c.intent.node.clone())
    };
    if let Some(node) = first(Daemon::Bird)
        && !machine.exists(Path::new(router::BIRD))
    {
        missing.push(Missing {
            what: format!(
                "node `{node}` runs BIRD, and {} is not installed",
                router::BIRD
            ),
            hint: PEERS.into(),
        });
    }
    if let Some(node) = first(Daemon::Frr) {
        let zebra = Path::new(router::FRR_DIR).join("zebra");
        if !machine.exists(&zebra) || !machine.exists(Path::new(router::VTYSH)) {
            missing.push(Missing {
                what: format!(
                    "node `{node}` runs FRR, and {} or {} is not installed",
                    zebra.display(),
                    router::VTYSH
                ),
                hint: PEERS.into(),
            });
        } else if !machine.has_user("frr") {
            missing.push(Missing {
                what: format!("node `{node}` runs FRR, whose daemons need the `frr` user, which this machine does not have"),
                hint: PEERS.into(),
            });
        }
    }
    missing
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    use super::*;

    struct Fake {
        root: bool,
        paths: BTreeSet<PathBuf>,
        userns: &'static str,
        frr_user: bool,
    }

    impl Fake {
        fn full() -> Fake {
            Fake {
                root: true,
                paths: [
                    "/dev/net/tun",
                    router::BIRD,
                    router::VTYSH,
                    "/usr/lib/frr/zebra",
                ]
                .into_iter()
                .map(PathBuf::from)
                .collect(),
                userns: "1000",
                frr_user: true,
            }
        }
        fn without(mut self, path: &str) -> Fake {
            self.paths.remove(Path::new(path));
            self
        }
    }

    impl Machine for Fake {
        fn is_root(&self) -> bool {
            self.root
        }
        fn exists(&self, path: &Path) -> bool {
            self.paths.contains(path)
        }
        fn sysctl(&self, name: &str) -> Option<String> {
            (name == "user.max_user_namespaces").then(|| self.userns.to_string())
        }
        fn has_user(&self, name: &str) -> bool {
            name == "frr" && self.frr_user
        }
    }

    fn plan(text: &str) -> Plan {
        netproof_plan::parse(Path::new("p.toml"), text, &Default::default()).unwrap()
    }

    const ROUTED: &str = r#"
[plan]
name = "p"
summary = "s"
backend = "netns"
[[node]]
name = "r1"
role = "router"
routing = "frr"
[[node]]
name = "r2"
role = "router"
[[node]]
name = "h"
[[link]]
ends = ["r1", "r2"]
ospf = { area = 0 }
[[link]]
ends = ["r2", "h"]
delay = "5ms"
"#;

    #[test]
    fn a_complete_machine_lacks_nothing() {
        assert_eq!(check(&plan(ROUTED), Backend::Netns, &Fake::full()), []);
    }

    #[test]
    fn each_missing_piece_is_named_with_the_node_or_link_that_needs_it() {
        let m = Fake::full()
            .without("/dev/net/tun")
            .without(router::BIRD)
            .without("/usr/lib/frr/zebra");
        let missing = check(&plan(ROUTED), Backend::Netns, &m);
        let text: Vec<String> = missing.iter().map(ToString::to_string).collect();
        assert_eq!(missing.len(), 3, "{text:#?}");
        assert!(text[0].contains("link `r2--h` is emulated") && text[0].contains("modprobe tun"));
        assert!(text[1].contains("node `r2` runs BIRD"));
        assert!(text[2].contains("node `r1` runs FRR") && text[2].contains("install-peers"));
    }

    #[test]
    fn frr_without_its_user_and_an_unprivileged_user_without_namespaces() {
        let mut m = Fake::full();
        m.frr_user = false;
        m.root = false;
        m.userns = "0";
        let text: Vec<String> = check(&plan(ROUTED), Backend::Netns, &m)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(text.len(), 2, "{text:#?}");
        assert!(text[0].contains("needs root or unprivileged user namespaces"));
        assert!(text[1].contains("the `frr` user"));
        // The local backend needs none of it.
        assert!(check(&plan(ROUTED), Backend::Local, &m).is_empty());
    }
}
