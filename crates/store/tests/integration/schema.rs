//! Which databases `open` accepts, and that it never damages one it refuses.

use netproof_store::sqlite::SqliteStore;
use netproof_store::sqlite::schema::SCHEMA_VERSION;
use netproof_store::*;

use crate::temp_db;

#[test]
fn a_newer_schema_is_refused_and_the_file_left_untouched() {
    let (_dir, path) = temp_db();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE from_the_future (x INTEGER); PRAGMA user_version = 999;")
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();

    for attempt in [
        SqliteStore::open(&path).err(),
        open(&format!("sqlite://{}", path.display())).err(),
    ] {
        match attempt {
            Some(StoreError::SchemaTooNew {
                path: p,
                found,
                known,
                ..
            }) => {
                assert_eq!(p, path);
                assert_eq!((found, known), (999, SCHEMA_VERSION));
            }
            other => panic!("expected SchemaTooNew, got {other:?}"),
        }
    }

    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file's bytes changed"
    );
    for side in ["db-wal", "db-shm", "db-journal"] {
        let f = path.with_extension(side);
        assert!(!f.exists(), "refusing must not create `{}`", f.display());
    }
}

#[test]
fn the_too_new_message_says_what_to_do() {
    let (_dir, path) = temp_db();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 999;")
        .unwrap();
    let msg = SqliteStore::open(&path).err().unwrap().to_string();
    assert!(
        msg.contains("schema version 999") && msg.contains("hint:"),
        "{msg}"
    );
}

#[test]
fn open_creates_a_missing_file_and_reads_a_plain_path_or_sqlite_url() {
    let (_dir, path) = temp_db();
    assert!(!path.exists());
    let store = open(path.to_str().unwrap()).unwrap();
    assert_eq!(store.location(), path.display().to_string());
    assert!(path.exists());
    drop(store);
    let store = open(&format!("sqlite://{}", path.display())).unwrap();
    assert!(store.runs(10).unwrap().is_empty());
}

#[test]
fn an_unopenable_path_is_an_error_naming_it() {
    let (dir, _) = temp_db();
    let path = dir.path().join("no-such-dir").join("netproof.db");
    let msg = open(path.to_str().unwrap()).err().unwrap().to_string();
    assert!(msg.contains("no-such-dir"), "{msg}");
}

#[test]
fn postgres_urls_open_the_postgres_backend_and_hide_the_password() {
    // Nothing listens in an empty directory: the open fails, naming the
    // database by its URL without the password.
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().display().to_string().replace('/', "%2F");
    for url in [
        format!("postgres://lab:s3cr3t@{socket}/netproof"),
        format!("postgresql://lab@{socket}/netproof?password=s3cr3t"),
    ] {
        match open(&url).err() {
            Some(e @ StoreError::Postgres { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(&socket), "{msg}");
                assert!(msg.contains("lab@"), "{msg}");
                assert!(!msg.contains("s3cr3t"), "{msg}");
                assert!(msg.contains("hint:"), "{msg}");
            }
            other => panic!("expected a PostgreSQL error, got {other:?}"),
        }
    }
}
