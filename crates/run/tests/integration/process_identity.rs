//! The lab registry and the results store judge a process's liveness by
//! the same rule: a zombie (exited, not yet reaped) is gone to both. They
//! used to disagree (the registry said gone, the store alive); the run is
//! the one crate that holds both records, so the agreement is pinned here.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use netproof_lab::registry::ProcessId;
use netproof_store::Owner;
use netproof_store::owner::{Liveness, hostname};

/// A child process, killed and reaped by its pid when the test ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What each record says about `pid`, recorded with its current start time.
fn judged(pid: u32) -> (bool, Liveness) {
    let start_time = netproof_proto::process::read(pid)
        .expect("the child's stat")
        .start_time;
    let registry = ProcessId { pid, start_time }.is_alive();
    let store = Owner {
        hostname: hostname(),
        pid,
        start_time,
    }
    .liveness(&hostname());
    (registry, store)
}

#[test]
fn registry_and_store_agree_a_zombie_owner_is_gone_and_a_live_one_alive() {
    let live = Reaped(
        Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("`sleep` runs"),
    );
    assert_eq!(judged(live.0.id()), (true, Liveness::Alive));

    // `true` exits at once; not waiting on it leaves it a zombie.
    let zombie = Reaped(Command::new("true").spawn().expect("`true` runs"));
    let pid = zombie.0.id();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !netproof_proto::process::read(pid)
        .expect("an unreaped child keeps its stat")
        .has_exited()
    {
        assert!(Instant::now() < deadline, "`true` (pid {pid}) never exited");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(judged(pid), (false, Liveness::Gone));
}
