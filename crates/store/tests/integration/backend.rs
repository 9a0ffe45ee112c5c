//! The backends every store test runs on: SQLite in a temporary file, and
//! PostgreSQL in a private cluster (scripts/pg-test-cluster.sh: initdb into
//! a temporary directory, a Unix socket there, no TCP) that the test starts
//! and stops itself. A machine without PostgreSQL fails the PostgreSQL
//! variant, saying how to install it: never a skip.

use std::path::PathBuf;

use netproof_store::ResultStore;
use netproof_store::postgres::cluster::TestCluster;

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

/// A private PostgreSQL cluster in a temporary directory, stopped on drop
/// (before the directory goes).
pub struct Cluster {
    inner: TestCluster,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// initdb's and starts a cluster in a new temporary directory.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let inner = TestCluster::start(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        Cluster { inner, _dir: dir }
    }

    /// The cluster's URL.
    pub fn url(&self) -> &str {
        self.inner.url()
    }

    /// Stops the server (fast shutdown: connections are cut).
    pub fn stop(&self) {
        self.inner.stop().unwrap_or_else(|e| panic!("{e}"));
    }

    /// Starts the stopped server again.
    pub fn restart(&self) {
        self.inner.restart().unwrap_or_else(|e| panic!("{e}"));
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
        netproof_store::open(self.cluster.url()).expect("open PostgreSQL store")
    }

    fn location(&self) -> String {
        self.cluster.url().to_string()
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
