//! Reading `netproof cdn steering`'s config file: TOML into
//! [`SteeringConfig`], validated with every problem at once.
//!
//! Errors name the file and either the line and column (TOML and per-key
//! errors, from the parser) or the key path (errors between keys, from
//! [`SteeringConfig::validate`]), each with a hint.

use std::path::Path;

use netproof_proto::cdn::load;
pub use netproof_proto::cdn::load::LoadError;
use netproof_proto::steering::SteeringConfig;

/// Reads and validates a steering config.
pub fn load(path: &Path) -> Result<SteeringConfig, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        format: "docs/cdn.md, \"Steering\"",
        source,
    })?;
    load_from(path, &text)
}

/// Validates a steering config given as text (`path` for messages).
pub fn load_from(path: &Path, text: &str) -> Result<SteeringConfig, LoadError> {
    let c: SteeringConfig = load::parse(path, text)?;
    load::validated(path, c.validate())?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_in_docs_cdn_md_is_a_valid_config() {
        let doc = include_str!("../../../docs/cdn.md");
        let section = &doc[doc.find("## Steering").expect("a steering section")..];
        let block = section
            .split("```toml\n")
            .nth(1)
            .and_then(|b| b.split("```").next())
            .expect("a TOML example");
        let c = load_from(Path::new("docs/cdn.md"), block).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.edges.len(), 2);
    }

    #[test]
    fn a_typo_points_at_its_line_and_a_bad_combination_at_its_key() {
        let e = load_from(
            Path::new("s.toml"),
            "[listen]\napi = [\"127.0.0.1:0\"]\nreport_timout = \"5s\"\n",
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("s.toml:3:1: unknown field `report_timout`"),
            "{text}"
        );
        let e = load_from(Path::new("s.toml"), "[listen]\napi = [\"127.0.0.1:0\"]\n").unwrap_err();
        let text = e.to_string();
        assert!(text.contains("key `edge`: no `[[edge]]`"), "{text}");
        assert!(text.contains("hint:"), "{text}");
        let e = load(Path::new("/nonexistent/steering.toml")).unwrap_err();
        assert!(e.to_string().contains("hint: give --config"), "{e}");
    }
}
