//! Reading `netproof cdn steering`'s config file: TOML into
//! [`SteeringConfig`], validated with every problem at once.
//!
//! Errors name the file and either the line and column (TOML and per-key
//! errors, from the parser) or the key path (errors between keys, from
//! [`SteeringConfig::validate`]), each with a hint.

use std::path::{Path, PathBuf};

use netproof_proto::cdn::ConfigError;
use netproof_proto::steering::SteeringConfig;
use thiserror::Error;

/// Why a config file cannot be used.
#[derive(Debug, Error)]
pub enum LoadError {
    /// The file cannot be read.
    #[error(
        "cannot read `{path}`: {source}\nhint: give --config the path of a TOML file (the format is in docs/cdn.md, \"Steering\")"
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The TOML does not parse, or a key or value is wrong.
    #[error("{path}:{line}:{col}: {message}\nhint: {hint}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// The parser's message.
        message: String,
        /// What to check.
        hint: &'static str,
    },
    /// Keys that are fine alone but wrong together.
    #[error("{path}: {} problem(s):\n{}", .errors.len(), render(.errors))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem.
        errors: Vec<ConfigError>,
    },
}

fn render(errors: &[ConfigError]) -> String {
    errors
        .iter()
        .map(|e| format!("  key `{}`: {}\n    hint: {}", e.key, e.what, e.hint))
        .collect::<Vec<_>>()
        .join("\n")
}

fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Reads and validates a steering config.
pub fn load(path: &Path) -> Result<SteeringConfig, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    load_from(path, &text)
}

/// Validates a steering config given as text (`path` for messages).
pub fn load_from(path: &Path, text: &str) -> Result<SteeringConfig, LoadError> {
    let c: SteeringConfig = toml::from_str(text).map_err(|e| {
        let (line, col) = line_col(text, e.span().map_or(0, |s| s.start));
        let message = e.message().trim().to_string();
        let hint = if message.contains("unknown field") {
            "remove the key or fix its spelling; the message lists the keys allowed there"
        } else if message.contains("missing field") {
            "add the key named above"
        } else {
            "check the value's type and format against docs/cdn.md"
        };
        LoadError::Parse {
            path: path.to_path_buf(),
            line,
            col,
            message,
            hint,
        }
    })?;
    c.validate().map_err(|errors| LoadError::Invalid {
        path: path.to_path_buf(),
        errors,
    })?;
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
