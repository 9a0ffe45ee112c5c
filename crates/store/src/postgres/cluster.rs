//! A private PostgreSQL cluster for tests and benchmarks, driven through
//! `scripts/pg-test-cluster.sh` (initdb into a directory, a Unix socket
//! there, no TCP, never a system service; every wait bounded).
//!
//! Not used by netproof itself: the store's tests, the CLI's `store copy`
//! test and the store benchmark start one each. A machine without
//! PostgreSQL's server gets an error saying to run scripts/install-peers.sh,
//! never a silent skip.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A running private cluster in a directory the caller owns; stopped when
/// dropped (remove the directory after).
#[derive(Debug)]
pub struct TestCluster {
    dir: PathBuf,
    url: String,
}

/// The script, found from this crate's source directory (tests and
/// benchmarks run from the workspace they were built in).
fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg-test-cluster.sh")
}

impl TestCluster {
    /// initdb's (if new) and starts a cluster in `dir`.
    pub fn start(dir: &Path) -> Result<Self, String> {
        let mut c = TestCluster {
            dir: dir.to_path_buf(),
            url: String::new(),
        };
        c.url = c.run("start")?;
        Ok(c)
    }

    /// `postgresql://postgres@%2F<socket dir>/postgres`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops the server (fast shutdown: open connections are cut).
    pub fn stop(&self) -> Result<(), String> {
        self.run("stop").map(drop)
    }

    /// Starts the stopped server again (same data, same URL).
    pub fn restart(&self) -> Result<(), String> {
        self.run("start").map(drop)
    }

    /// Runs the script; its stdout, or its stderr with a hint.
    fn run(&self, action: &str) -> Result<String, String> {
        let out = Command::new("sh")
            .arg(script())
            .arg(action)
            .arg(&self.dir)
            .output()
            .map_err(|e| format!("cannot run `sh {}`: {e}", script().display()))?;
        if !out.status.success() {
            return Err(format!(
                "scripts/pg-test-cluster.sh {action} {} failed: {}\nhint: PostgreSQL's server is \
                 needed here: run scripts/install-peers.sh",
                self.dir.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        // Stopping a stopped cluster fails; either way it is down after.
        let _ = self.run("stop");
    }
}
