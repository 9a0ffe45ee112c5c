//! Each service's CPU time and resident memory, from `/proc`.
//!
//! A service is its process group: the supervisor starts it as a group
//! leader, and stopping it signals that group, so the group is what the
//! service costs. Every collection reads `/proc/PID/stat` of each process
//! once and sums, per service group:
//!
//! - CPU: user and system time of every live member, plus what the
//!   children each member has reaped used (`cutime`, `cstime`), so a
//!   short-lived helper a service forked and waited for still counts. A
//!   child that left the group (`setsid`, `setpgid`) is not counted while
//!   it lives.
//! - RSS: the resident pages of every live member (pages they share count
//!   in each, as `ps` shows them).
//!
//! CPU is reported as seconds since the case began (or since the service
//! started, for one started during the case), so `max(service.cpu)` is
//! what the case cost. The stat line is read by the one parser the lab
//! registry and the store use too (`netproof_proto::process`); the scan is
//! the only I/O.

use std::collections::BTreeMap;
use std::sync::Arc;

use netproof_sample::metric::{SERVICE_CPU, SERVICE_CPU_SYSTEM, SERVICE_CPU_USER, SERVICE_RSS};
use netproof_sample::{Sample, Sink};

use netproof_proto::process::{self, Stat};

use super::{Collector, CollectorError};
use crate::control::Control;

/// A group's totals: user and system seconds, resident bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Usage {
    pub(crate) user: f64,
    pub(crate) system: f64,
    pub(crate) rss: f64,
    /// Live (not zombie) members seen.
    pub(crate) live: u32,
}

/// Sums `stats` per process group, for the groups in `groups`.
pub(crate) fn usage_by_group(
    stats: impl IntoIterator<Item = Stat>,
    groups: &[u32],
    tick: f64,
    page: f64,
) -> BTreeMap<u32, Usage> {
    let mut out: BTreeMap<u32, Usage> = groups.iter().map(|&g| (g, Usage::default())).collect();
    for s in stats {
        if let Some(u) = out.get_mut(&s.pgrp) {
            u.user += (s.utime + s.cutime) as f64 * tick;
            u.system += (s.stime + s.cstime) as f64 * tick;
            if !s.has_exited() {
                u.rss += s.rss_pages as f64 * page;
                u.live += 1;
            }
        }
    }
    out
}

/// Reads every process's stat line; processes that vanish meanwhile are
/// skipped.
fn scan() -> Result<Vec<Stat>, CollectorError> {
    let dir = std::fs::read_dir("/proc").map_err(|source| CollectorError::Proc {
        path: "/proc".into(),
        source,
    })?;
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            && let Ok(s) = process::parse(&text)
        {
            out.push(s);
        }
    }
    Ok(out)
}

/// `service.cpu`, `service.cpu_user`, `service.cpu_system` and
/// `service.rss` of every running service.
pub(crate) struct ServiceResources {
    control: Arc<Control>,
    /// CPU seconds (user, system) of each service process at the case's
    /// start or when first seen, by pid.
    baseline: BTreeMap<u32, (f64, f64)>,
    tick: f64,
    page: f64,
}

impl ServiceResources {
    pub(crate) fn new(control: Arc<Control>) -> Self {
        // SAFETY: sysconf has no preconditions.
        let (hz, page) = unsafe {
            (
                libc::sysconf(libc::_SC_CLK_TCK),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        ServiceResources {
            control,
            baseline: BTreeMap::new(),
            tick: 1.0 / if hz > 0 { hz as f64 } else { 100.0 },
            page: if page > 0 { page as f64 } else { 4096.0 },
        }
    }
}

impl Collector for ServiceResources {
    fn name(&self) -> &'static str {
        "service resources"
    }

    fn begin(&mut self) {
        self.baseline.clear();
    }

    fn collect(&mut self, sink: &dyn Sink) -> Result<(), CollectorError> {
        let services = self.control.service_groups();
        if services.is_empty() {
            return Ok(());
        }
        let groups: Vec<u32> = services.iter().map(|s| s.2).collect();
        let usage = usage_by_group(scan()?, &groups, self.tick, self.page);
        self.baseline.retain(|pid, _| groups.contains(pid));
        for (service, node, pid) in services {
            let Some(u) = usage.get(&pid) else { continue };
            if u.live == 0 {
                // The group is gone (the service exited after it was
                // listed); the supervisor reports that.
                continue;
            }
            let (u0, s0) = *self.baseline.entry(pid).or_insert((u.user, u.system));
            let (user, system) = ((u.user - u0).max(0.0), (u.system - s0).max(0.0));
            let tag = |s: Sample| s.label("service", &service).label("node", &node);
            sink.sample(tag(Sample::num(&SERVICE_CPU, user + system)));
            sink.sample(tag(Sample::num(&SERVICE_CPU_USER, user)));
            sink.sample(tag(Sample::num(&SERVICE_CPU_SYSTEM, system)));
            sink.sample(tag(Sample::num(&SERVICE_RSS, u.rss)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A real line, with a command name holding a space and a parenthesis.
    const LINE: &str = "4242 (my (svc) x) S 1 4242 4242 0 -1 4194560 1290 0 0 0 \
        150 30 7 3 20 0 1 0 123456 10000000 2500 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";

    #[test]
    fn parses_the_fields_after_the_last_parenthesis() {
        let s = process::parse(LINE).unwrap();
        assert_eq!(
            s,
            Stat {
                state: 'S',
                pgrp: 4242,
                utime: 150,
                stime: 30,
                cutime: 7,
                cstime: 3,
                start_time: 123_456,
                rss_pages: 2500,
            }
        );
        assert!(
            process::parse("4242 (x) Z 1 4242 4242").is_err(),
            "too short"
        );
        assert!(process::parse("no parenthesis").is_err());
        let z = LINE.replace(") S ", ") Z ");
        assert!(process::parse(&z).unwrap().has_exited());
    }

    #[test]
    fn sums_a_group_and_ignores_others() {
        let leader = process::parse(LINE).unwrap();
        let child = Stat {
            utime: 50,
            stime: 20,
            cutime: 0,
            cstime: 0,
            rss_pages: 500,
            ..leader
        };
        let stranger = Stat { pgrp: 7, ..leader };
        let zombie = Stat {
            state: 'Z',
            rss_pages: 999,
            ..child
        };
        let u = usage_by_group([leader, child, stranger, zombie], &[4242, 9], 0.01, 4096.0);
        let g = u[&4242];
        assert!((g.user - (1.57 + 0.5 + 0.5)).abs() < 1e-9, "{g:?}");
        assert!((g.system - (0.33 + 0.2 + 0.2)).abs() < 1e-9, "{g:?}");
        assert_eq!(g.rss, 3000.0 * 4096.0);
        assert_eq!(g.live, 2);
        assert_eq!(u[&9], Usage::default());
        assert!(!u.contains_key(&7));
    }

    #[test]
    fn reads_this_process_from_proc() {
        let me = std::process::id();
        let text = std::fs::read_to_string(format!("/proc/{me}/stat")).unwrap();
        let s = process::parse(&text).unwrap();
        assert!(s.rss_pages > 0);
        assert!(scan().unwrap().iter().any(|x| x.pgrp == s.pgrp));
    }
}
