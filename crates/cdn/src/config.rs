//! Reading a CDN config file: TOML into the types of
//! [`netproof_proto::cdn`], validated, with certificate paths made
//! relative to the file's directory (so a lab directory can be moved).
//!
//! Errors name the file and either the line and column (TOML and
//! per-key errors, from the parser) or the key path (errors between keys,
//! from validation), each with a hint, all at once.

use std::path::{Path, PathBuf};

pub use netproof_proto::cdn::load::LoadError;
use netproof_proto::cdn::load::{self, parse};
use netproof_proto::cdn::{EdgeConfig, OriginConfig, Site};

/// Makes each site's relative `cert` and `key` relative to `dir`.
fn anchor(sites: &mut [Site], dir: &Path) {
    for s in sites {
        for p in [&mut s.cert, &mut s.key].into_iter().flatten() {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        }
    }
}

fn read(path: &Path) -> Result<String, LoadError> {
    std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        format: "docs/cdn.md",
        source,
    })
}

fn dir_of(path: &Path) -> PathBuf {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Reads and validates an origin config.
pub fn origin(path: &Path) -> Result<OriginConfig, LoadError> {
    origin_from(path, &read(path)?)
}

/// Validates an origin config given as text (`path` for messages and
/// relative paths).
pub fn origin_from(path: &Path, text: &str) -> Result<OriginConfig, LoadError> {
    let mut c: OriginConfig = parse(path, text)?;
    load::validated(path, c.validate())?;
    anchor(&mut c.sites, &dir_of(path));
    Ok(c)
}

/// Reads and validates an edge config.
pub fn edge(path: &Path) -> Result<EdgeConfig, LoadError> {
    edge_from(path, &read(path)?)
}

/// Validates an edge config given as text.
pub fn edge_from(path: &Path, text: &str) -> Result<EdgeConfig, LoadError> {
    let mut c: EdgeConfig = parse(path, text)?;
    load::validated(path, c.validate())?;
    let dir = dir_of(path);
    anchor(&mut c.sites, &dir);
    if let Some(ca) = c.fill.as_mut().and_then(|f| f.ca.as_mut())
        && ca.is_relative()
    {
        *ca = dir.join(&*ca);
    }
    if let Some(disk) = c.fill.as_mut().and_then(|f| f.disk.as_mut())
        && disk.dir.is_relative()
    {
        disk.dir = dir.join(&disk.dir);
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = r#"
admin = "127.0.0.1:0"
[listen]
https = ["127.0.0.1:0"]
[tls]
default_site = "a.test"
[[site]]
name = "a.test"
names = ["*.a.test"]
cert = "certs/a.test.pem"
key = "certs/a.test.key"
[catalogue]
seed = 42
titles = 10
bitrates_kbps = [500, 1500]
segments = 4
[knobs]
latency = "20ms"
error_rate = 0.1
stall = { after = "64KiB", for = "3s" }
"#;

    #[test]
    fn an_origin_config_reads_with_paths_beside_the_file() {
        let c = origin_from(Path::new("/lab/origin.toml"), ORIGIN).unwrap();
        assert_eq!(
            c.sites[0].cert.as_deref(),
            Some(Path::new("/lab/certs/a.test.pem"))
        );
        assert_eq!(c.knobs.stall.unwrap().after.0, 65_536);
        assert_eq!(c.catalogue.segment_ms, 2000);
    }

    #[test]
    fn an_unknown_key_is_an_error_at_its_line() {
        let text = ORIGIN.replace("error_rate = 0.1", "error_rate = 0.1\nerorr = 1");
        let e = origin_from(Path::new("o.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("o.toml:20:1: unknown field `erorr`"), "{e}");
        assert!(e.contains("hint:"), "{e}");
    }

    #[test]
    fn a_bad_value_is_an_error_at_its_key() {
        let text = ORIGIN.replace("\"20ms\"", "\"20 fortnights\"");
        let e = origin_from(Path::new("o.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("o.toml:18:11:"), "{e}");
        assert!(e.contains("`20 fortnights` is not a duration"), "{e}");
    }

    #[test]
    fn cross_key_problems_name_their_key_paths() {
        let text = ORIGIN.replace("default_site = \"a.test\"", "default_site = \"z.test\"");
        let e = origin_from(Path::new("o.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("key `tls.default_site`: no site is named `z.test`"),
            "{e}"
        );
    }

    #[test]
    fn fill_timeouts_and_a_disk_tier_are_read_with_the_disk_beside_the_file() {
        let text = r#"
[listen]
http = ["127.0.0.1:0"]
[[site]]
name = "a.test"
[fill]
sources = [{ name = "origin", url = "http://198.18.0.9:8080", kind = "origin" }]
cache = { memory = "64MiB" }
timeouts = { connect = "1s", stall = "2s", lock = "10s" }
disk = { dir = "cache", size = "1GiB", policy = "lru" }
"#;
        let c = edge_from(Path::new("lab/edge.toml"), text).unwrap();
        let fill = c.fill.unwrap();
        assert_eq!(fill.timeouts.stall_or_default().as_secs(), 2);
        assert_eq!(fill.timeouts.lock_or_default().as_secs(), 10);
        let disk = fill.disk.unwrap();
        assert_eq!(disk.dir, Path::new("lab/cache"));
        assert_eq!(disk.size.0, 1 << 30);
        let at = |text: &str| {
            edge_from(Path::new("e.toml"), text)
                .unwrap_err()
                .to_string()
        };
        let e = at(&text.replace("lock = \"10s\"", "lock = \"3s\""));
        assert!(e.contains("fill.timeouts.lock"), "{e}");
        let e = at(&text.replace("size = \"1GiB\"", "size = 0"));
        assert!(e.contains("fill.disk.size"), "{e}");
        let e = at(&text.replace("stall = \"2s\"", "stal = \"2s\""));
        assert!(e.contains("unknown field `stal`"), "{e}");
    }

    #[test]
    fn an_edge_config_reads_the_fill_section_as_the_fill_helper_expects() {
        let text = r#"
[listen]
http = ["127.0.0.1:0"]
[[site]]
name = "a.test"
[fill]
sources = [
  { name = "peer", url = "http://198.18.0.2:8080", kind = "peer" },
  { name = "origin", url = "https://origin.cdn.test:8443", kind = "origin" },
]
cache = { memory = "256MiB", policy = "sieve" }
ca = "certs/ca.pem"
"#;
        let c = edge_from(Path::new("lab/edge.toml"), text).unwrap();
        let fill = c.fill.unwrap();
        assert_eq!(
            fill.sources[1].kind,
            netproof_proto::cdn::SourceKind::Origin
        );
        assert_eq!(fill.cache.memory.0, 256 << 20);
        assert_eq!(fill.ca.as_deref(), Some(Path::new("lab/certs/ca.pem")));
        let bad = text.replace("\"sieve\"", "\"fifo\"");
        let e = edge_from(Path::new("e.toml"), &bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown variant `fifo`"), "{e}");
    }

    /// docs/cdn.md's example is one file with both roles' sections: without
    /// `[fill]` and `[report]` it is a valid origin, without `[knobs]` and
    /// `[catalogue]` a valid edge.
    #[test]
    fn the_documented_example_is_a_valid_origin_and_edge() {
        let doc = include_str!("../../../docs/cdn.md");
        let block = doc
            .split("```toml\n")
            .nth(1)
            .and_then(|b| b.split("```").next())
            .expect("a TOML block in docs/cdn.md");
        let table: toml::Table = toml::from_str(block).expect("the example is TOML");
        let without = |keys: &[&str]| {
            let mut t = table.clone();
            for k in keys {
                assert!(t.remove(*k).is_some(), "the example has `{k}`");
            }
            toml::to_string(&t).unwrap()
        };
        origin_from(Path::new("docs/cdn.md"), &without(&["fill", "report"])).unwrap();
        edge_from(Path::new("docs/cdn.md"), &without(&["knobs", "catalogue"])).unwrap();
    }
}
