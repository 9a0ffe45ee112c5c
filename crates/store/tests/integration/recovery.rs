//! A run whose owner died is marked `aborted` on the next open; a live run,
//! or one owned by another host, is left alone.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use netproof_sample::{Event, Sample, Severity, Timestamp, metric};
use netproof_store::owner::hostname;
use netproof_store::*;

use crate::backend::Backend;
use crate::new_run;

crate::on_both_backends!(runs_of_dead_owners_are_aborted_and_live_ones_kept);

/// The pid of a process that has exited and been reaped.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().expect("`true` runs");
    let pid = child.id();
    child.wait().expect("`true` exits");
    pid
}

/// A live child process and its owner record; killed on drop.
pub struct LiveChild(Child);

impl LiveChild {
    /// A `sleep 30` child.
    pub fn spawn() -> Self {
        LiveChild(
            Command::new("sleep")
                .arg("30")
                .spawn()
                .expect("`sleep` runs"),
        )
    }

    /// Its owner record.
    pub fn owner(&self) -> Owner {
        let pid = self.0.id();
        Owner {
            hostname: hostname(),
            pid,
            start_time: netproof_proto::process::read(pid)
                .expect("child's stat")
                .start_time,
        }
    }
}

impl Drop for LiveChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn status(store: &dyn ResultStore, run: RunId) -> (RunStatus, Option<Timestamp>) {
    let r = store.load_run(run).unwrap().run;
    (r.status, r.ended)
}

fn runs_of_dead_owners_are_aborted_and_live_ones_kept(b: &dyn Backend) {
    let here = hostname();
    let me = Owner::current();
    let child = LiveChild::spawn();

    let (dead_with_data, dead_empty, mine, other_host, neighbour) = {
        let store = b.open();
        let dead = Owner {
            hostname: here.clone(),
            pid: dead_pid(),
            // Whatever process now has that pid (if any) did not start at
            // tick 1, so a reused pid reads as gone too.
            start_time: 1,
        };
        let dead_with_data = store.begin_run(&new_run(dead.clone(), 1_000)).unwrap();
        let sink = store.sink(Scope {
            run: dead_with_data,
            case_run: None,
            step: None,
        });
        sink.sample(Sample::num(&metric::EXEC_DURATION, 1.0).at(Timestamp(5_000)));
        sink.event(Event::new("late", Severity::Info, "last sign of life").at_time(7_000));
        sink.sample(Sample::num(&metric::EXEC_DURATION, 2.0).at(Timestamp(6_000)));
        let dead_empty = store.begin_run(&new_run(dead, 2_000)).unwrap();
        let mine = store.begin_run(&new_run(me.clone(), 3_000)).unwrap();
        let other_host = store
            .begin_run(&new_run(
                Owner {
                    hostname: format!("{here}-not-this-one"),
                    pid: 1,
                    start_time: 1,
                },
                4_000,
            ))
            .unwrap();
        let neighbour = store.begin_run(&new_run(child.owner(), 5_000)).unwrap();
        store.flush().unwrap();
        // Dropped without finish_run: as if every owner had been killed.
        (dead_with_data, dead_empty, mine, other_host, neighbour)
    };

    let store = b.open();
    assert_eq!(
        status(&*store, dead_with_data),
        (RunStatus::Aborted, Some(Timestamp(7_000))),
        "ended at its last event, the latest record"
    );
    assert_eq!(
        status(&*store, dead_empty),
        (RunStatus::Aborted, Some(Timestamp(2_000))),
        "nothing recorded: ended at its start"
    );
    assert_eq!(status(&*store, mine), (RunStatus::Running, None));
    assert_eq!(status(&*store, other_host), (RunStatus::Running, None));
    assert_eq!(status(&*store, neighbour), (RunStatus::Running, None));

    // The neighbour dies; the next open notices.
    drop(child);
    let deadline = Instant::now() + Duration::from_secs(5);
    drop(store);
    loop {
        let store = b.open();
        if status(&*store, neighbour).0 == RunStatus::Aborted {
            assert_eq!(status(&*store, mine).0, RunStatus::Running);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "killed neighbour never read as gone"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `Event::new` stamps now; tests want a fixed time.
trait AtTime {
    fn at_time(self, t: i64) -> Self;
}

impl AtTime for Event {
    fn at_time(mut self, t: i64) -> Self {
        self.time = Timestamp(t);
        self
    }
}
