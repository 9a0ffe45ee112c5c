//! The report file formats and their file names.
//!
//! A [`Format`] is named on the command line as `html`, `md`, `junit` or
//! `json`; [`Format::file_name`] gives the file it is written to.

use std::fmt;
use std::str::FromStr;

use netproof_store::RunId;

/// A report file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// One self-contained HTML file.
    Html,
    /// Markdown for a wiki.
    Markdown,
    /// JUnit XML for CI systems.
    Junit,
    /// JSON for scripts.
    Json,
}

impl Format {
    /// Every format, in the order they are usually listed.
    pub const ALL: [Format; 4] = [Format::Html, Format::Markdown, Format::Junit, Format::Json];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Markdown => "md",
            Format::Junit => "junit",
            Format::Json => "json",
        }
    }

    /// The file a run's report in this format is written to.
    pub fn file_name(self, run: RunId) -> String {
        let ext = match self {
            Format::Html => "html",
            Format::Markdown => "md",
            Format::Junit => "junit.xml",
            Format::Json => "json",
        };
        format!("run-{}.{ext}", run.0)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format name that is not one of `html`, `md`, `junit`, `json`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown report format `{name}`\nhint: use one of html, md, junit, json")]
pub struct UnknownFormat {
    /// What was given.
    pub name: String,
}

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "html" => Format::Html,
            "md" | "markdown" => Format::Markdown,
            "junit" | "xml" => Format::Junit,
            "json" => Format::Json,
            _ => {
                return Err(UnknownFormat {
                    name: s.to_string(),
                });
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_files_are_per_run() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>(), Ok(f));
        }
        assert_eq!("markdown".parse::<Format>(), Ok(Format::Markdown));
        assert_eq!(Format::Junit.file_name(RunId(12)), "run-12.junit.xml");
        let err = "pdf".parse::<Format>().unwrap_err();
        assert!(err.to_string().contains("`pdf`"));
        assert!(err.to_string().contains("hint:"));
    }
}
