//! The SQLite backend (placeholder until implemented).

use std::path::Path;

/// The SQLite results database.
pub struct SqliteStore {}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: impl AsRef<Path>) -> crate::Result<Self> {
        let _ = path;
        unimplemented!("sqlite store")
    }
}
