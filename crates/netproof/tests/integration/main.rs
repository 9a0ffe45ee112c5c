//! End-to-end tests of the `netproof` binary: plans in, exit codes, database
//! rows and report files out. One test binary (see STYLE.md), one module per
//! concern.

mod browser;
mod cdn;
mod cdn_lab;
mod check;
mod convergence;
mod crash;
mod demo;
mod dns;
mod emulated;
mod examples;
mod exit_codes;
mod help;
mod http;
mod lab;
mod netns;
mod overrides;
mod probe;
mod procedures;
mod program;
mod reports;
mod rootless;
mod routing;
mod run;
mod selfcheck;
mod services;
mod stream;
mod throughput;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The built binary.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_netproof"));
    c.env("NO_COLOR", "1").env_remove("NETPROOF_DB");
    c
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A scratch directory with a database path and a place for plans.
pub struct Scratch {
    /// The directory; removed when the test ends.
    pub dir: tempfile::TempDir,
}

/// A test that fails midway must not leak its lab: whatever its registry
/// still lists (labs whose owner is gone) is collected when it ends.
impl Drop for Scratch {
    fn drop(&mut self) {
        if self.path("registry").exists() {
            let _ = self.command(&["lab", "gc"]).output();
        }
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

impl Scratch {
    /// A fresh, empty scratch directory.
    pub fn new() -> Self {
        Scratch {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// The scratch database's path.
    pub fn db(&self) -> String {
        self.dir.path().join("netproof.db").display().to_string()
    }

    /// A path inside the scratch directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a plan file and returns its path.
    pub fn plan(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).expect("write plan");
        p
    }

    /// Runs `netproof` with `--db` pointing at this scratch database.
    pub fn netproof(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run netproof")
    }

    /// `netproof` with this scratch's database and lab registry, not run yet.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = bin();
        c.current_dir(self.dir.path())
            .args(args)
            .env("NETPROOF_DB", self.db())
            .env("NETPROOF_REGISTRY", self.path("registry"));
        c
    }

    /// Opens the scratch database.
    pub fn store(&self) -> Box<dyn netproof_store::ResultStore> {
        netproof_store::open(&self.db()).expect("open store")
    }
}

/// Whether process `pid` has exited: gone from /proc, or a zombie (the one
/// rule netproof itself uses, `netproof_proto::process`).
pub fn exited(pid: u32) -> bool {
    netproof_proto::process::read(pid).map_or(true, |s| s.has_exited())
}

/// Stdout and stderr, for assertion messages.
pub fn show(o: &Output) -> String {
    format!(
        "status: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
