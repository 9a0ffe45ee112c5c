//! The backends every store test runs on: SQLite in a temporary file, and
//! PostgreSQL in a private cluster (scripts/pg-test-cluster.sh: initdb into
//! a temporary directory, a Unix socket there, no TCP) that the test starts
//! and stops itself. A machine without PostgreSQL fails the PostgreSQL
//! variant, saying how to install it: never a skip.

use std::path::{Path, PathBuf};
use std::process::Command;

use netproof_store::ResultStore;

/// A fresh, empty database of one backend.
pub trait Backend {
    /// Opens a store on it (each call is another connection/handle, as
    /// another netproof process would open it).
    fn open(&self) -> Box<dyn ResultStore>;
    /// What the store's `location()` and its errors name it by.
    fn location(&self) -> String;
}

/// A SQLite file in a temporary directory.
pub struct Sqlite {
    _dir: tempfile::TempDir,
    /// The file (it does not exist until the first open).
    pub path: PathBuf,
}

impl Sqlite {
    /// A new, not yet created, database file.
    pub fn new() -> Self {
        let (dir, path) = crate::temp_db();
        Sqlite { _dir: dir, path }
    }
}

impl Backend for Sqlite {
    fn open(&self) -> Box<dyn ResultStore> {
        netproof_store::open(self.path.to_str().unwrap()).expect("open SQLite store")
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg-test-cluster.sh")
}

/// A private PostgreSQL cluster, stopped (and its directory removed) on drop.
pub struct Cluster {
    dir: tempfile::TempDir,
    /// `postgresql://postgres@%2F<socket dir>/postgres`.
    pub url: String,
}

impl Cluster {
    /// initdb's and starts a cluster in a new temporary directory.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut c = Cluster {
            dir,
            url: String::new(),
        };
        c.url = c.run("start");
        c
    }

    /// Runs the script; its stdout, or a panic with its stderr.
    fn run(&self, action: &str) -> String {
        let out = Command::new("sh")
            .arg(script())
            .arg(action)
            .arg(self.dir.path())
            .output()
            .expect("sh runs scripts/pg-test-cluster.sh");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "scripts/pg-test-cluster.sh {action} failed: {stderr}\n\
             hint: PostgreSQL's server is needed for the store's tests: run scripts/install-peers.sh"
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Stops the server (fast shutdown: connections are cut).
    pub fn stop(&self) {
        self.run("stop");
    }

    /// Starts the stopped server again.
    pub fn restart(&self) {
        self.run("start");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Stopping a stopped cluster fails; either way it is down after.
        let _ = Command::new("sh")
            .arg(script())
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}

/// A database in a private cluster of its own.
pub struct Postgres {
    /// The cluster (public for tests that stop it).
    pub cluster: Cluster,
}

impl Postgres {
    /// A new cluster with an empty `postgres` database.
    pub fn new() -> Self {
        Postgres {
            cluster: Cluster::start(),
        }
    }
}

impl Backend for Postgres {
    fn open(&self) -> Box<dyn ResultStore> {
        netproof_store::open(&self.cluster.url).expect("open PostgreSQL store")
    }

    fn location(&self) -> String {
        self.cluster.url.clone()
    }
}

/// Runs each named test function (taking `&dyn Backend`) once per backend:
/// `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    super::$name(&$crate::backend::Sqlite::new())
                }

                #[test]
                fn postgres() {
                    super::$name(&$crate::backend::Postgres::new())
                }
            }
        )*
    };
}
