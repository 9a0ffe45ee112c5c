//! The `local` backend: every node is this host with its own loopback
//! address; nothing is created but a lease on a block of loopback addresses.

use std::net::{IpAddr, Ipv4Addr};

use netproof_plan::Plan;

use crate::LabError;

/// How many local labs can run on one host at once: each takes a /16 of
/// 127.0.0.0/8, from 127.100.0.0/16 up.
const LOCAL_BLOCKS: u8 = 155;

/// A /16 of loopback reserved for one local lab while the file lock is held.
///
/// Two runs on the local backend at once must not hand the same loopback
/// address to their nodes: a readiness check or a probe would reach the
/// other run's server. An flock per block (released by the kernel when the
/// process dies, even by SIGKILL) makes the choice race-free without a
/// daemon.
pub(crate) struct Lease {
    pub(crate) block: u8,
    _file: std::fs::File,
}

pub(crate) fn lease_block() -> Result<Lease, LabError> {
    use std::os::unix::fs::PermissionsExt;
    // One directory for every user of this host, since loopback is shared
    // by all of them: world-writable and sticky, like /tmp itself.
    let dir = std::env::temp_dir().join("netproof-local-labs");
    if !dir.exists() {
        std::fs::create_dir_all(&dir).map_err(|e| LabError::Lease(dir.display().to_string(), e))?;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777));
    }
    for block in 0..LOCAL_BLOCKS {
        let path = dir.join(format!("block-{block}.lock"));
        // flock needs only an open descriptor: another user's lock file is
        // opened read-only.
        let file = match std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
        {
            Ok(f) => {
                let _ = f.set_permissions(std::fs::Permissions::from_mode(0o666));
                f
            }
            Err(_) => std::fs::File::open(&path)
                .map_err(|e| LabError::Lease(path.display().to_string(), e))?,
        };
        if file.try_lock().is_ok() {
            return Ok(Lease { block, _file: file });
        }
    }
    Err(LabError::Busy(LOCAL_BLOCKS))
}

/// Local backend addressing: a node keeps the loopback address its plan
/// gives it; the others get addresses from the lab's leased block,
/// 127.(100 + block).x.y, in plan order, skipping addresses the plan has
/// taken.
pub(crate) fn addresses(plan: &Plan, block: u8) -> Result<Vec<(String, IpAddr)>, LabError> {
    let taken: Vec<IpAddr> = plan.nodes.iter().filter_map(|n| n.address).collect();
    let base = u32::from(Ipv4Addr::new(127, 100 + block, 0, 0));
    let mut next: u32 = 1;
    let mut out = Vec::with_capacity(plan.nodes.len());
    for n in &plan.nodes {
        let addr = match n.address {
            Some(a) => a,
            None => loop {
                if next > 0xfffe {
                    return Err(LabError::TooManyNodes(plan.nodes.len()));
                }
                let a = IpAddr::V4(Ipv4Addr::from(base + next));
                next += 1;
                // Skip x.y.z.0 and x.y.z.255: legal on lo, but confusing.
                let last = (base + next - 1) & 0xff;
                if !taken.contains(&a) && last != 0 && last != 255 {
                    break a;
                }
            },
        };
        out.push((n.name.clone(), addr));
    }
    Ok(out)
}
