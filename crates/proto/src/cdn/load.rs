//! A service's TOML config text into its type, as the CDN's processes and
//! steering read theirs: parsed, then validated. No I/O: the caller reads
//! the file and reports a failure as [`LoadError::Read`].
//!
//! Errors name the file and either the line and column (TOML and per-key
//! errors, from the parser) or the key path (errors between keys, from the
//! type's own validation), each with a hint, all at once.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use thiserror::Error;

use super::ConfigError;

/// Why a config file cannot be used.
#[derive(Debug, Error)]
pub enum LoadError {
    /// The file cannot be read.
    #[error(
        "cannot read `{path}`: {source}\nhint: give --config the path of a TOML file (the format is in {format})"
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// Where its format is documented.
        format: &'static str,
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

/// The 1-based line and column (in characters) of byte `at` of `text`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Parses `text` (the file at `path`) into a `T`; a TOML or per-key error
/// at its line and column, with a hint.
pub fn parse<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, LoadError> {
    toml::from_str(text).map_err(|e| {
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
    })
}

/// `validated`'s problems as the error of the file at `path`.
pub fn validated(path: &Path, validated: Result<(), Vec<ConfigError>>) -> Result<(), LoadError> {
    validated.map_err(|errors| LoadError::Invalid {
        path: path.to_path_buf(),
        errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct T {
        name: String,
        count: u32,
    }

    #[test]
    fn errors_point_at_line_and_column_or_key_with_a_hint() {
        let p = Path::new("t.toml");
        let e = parse::<T>(p, "name = \"a\"\ncount = 1\nnmae = 2\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("t.toml:3:1: unknown field `nmae`"),
            "{e}"
        );
        let e = parse::<T>(p, "name = \"a\"\ncount = \"x\"\n").unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("t.toml:2:9: "), "{text}");
        assert!(text.contains("hint: check the value's type"), "{text}");
        let e = parse::<T>(p, "name = \"é\"\n").unwrap_err();
        assert!(e.to_string().contains("hint: add the key"), "{e}");
        let e = validated(
            p,
            Err(vec![ConfigError {
                key: "listen".into(),
                what: "nothing to listen on".into(),
                hint: "add an address".into(),
            }]),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.toml: 1 problem(s):\n  key `listen`: nothing to listen on\n    hint: add an address"
        );
        let e = LoadError::Read {
            path: "/nonexistent/x.toml".into(),
            format: "docs/cdn.md",
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        assert!(
            e.to_string().ends_with(
                "hint: give --config the path of a TOML file (the format is in docs/cdn.md)"
            ),
            "{e}"
        );
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        assert_eq!(line_col("ab\ncé d", 7), (2, 4));
        assert_eq!(line_col("", 10), (1, 1));
    }
}
