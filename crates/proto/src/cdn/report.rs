//! An edge's `[report]` table: telling steering what it learned and holds.
//!
//! ```toml
//! [report]
//! edge = "oca-a1"                          # the name steering's config gives it
//! steering = ["http://198.18.0.9:80"]     # each gets `POST /report`
//! interval = "1s"                          # the default; also sent at once on a change
//! timeout = "500ms"                        # per report (default: the interval, at most 2s)
//! table = 100                              # the kernel table BIRD writes learned routes to
//! ```
//!
//! An edge without `table` reports no routes (an edge that learns
//! nothing, the fill tier say); the reports still carry its health, load
//! and contents. Reports go over plain HTTP: steering's API listener.

use std::time::Duration;

use serde::Deserialize;

use super::{ConfigError, Span};
use crate::url::Url;

/// The longest a report may wait for steering by default.
const MAX_DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// How an edge reports to steering.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reporting {
    /// The edge's name, as steering's `[[edge]]` names it.
    pub edge: String,
    /// Steering services' base URLs (`http://ADDR:PORT`); each gets every
    /// report.
    pub steering: Vec<String>,
    /// Time between reports when nothing changes (default 1s).
    #[serde(default)]
    pub interval: Option<Span>,
    /// Time one report may take (default: the interval, at most 2s).
    #[serde(default)]
    pub timeout: Option<Span>,
    /// The kernel routing table learned routes are read from.
    #[serde(default)]
    pub table: Option<u32>,
}

impl Reporting {
    /// The interval, its default applied.
    pub fn interval_or_default(&self) -> Duration {
        self.interval.map_or(Duration::from_secs(1), |s| s.0)
    }

    /// The timeout, its default applied.
    pub fn timeout_or_default(&self) -> Duration {
        self.timeout
            .map_or(self.interval_or_default().min(MAX_DEFAULT_TIMEOUT), |s| s.0)
    }

    /// The steering URLs, parsed (what [`Reporting::check`] accepted).
    pub fn urls(&self) -> Vec<Url> {
        self.steering
            .iter()
            .filter_map(|u| Url::parse(u).ok())
            .collect()
    }

    /// Every problem, at its key under `report`.
    pub(super) fn check(&self, errors: &mut Vec<ConfigError>) {
        if self.edge.trim().is_empty() {
            errors.push(ConfigError::new(
                "report.edge",
                "the edge's name is empty",
                "write the name steering's `[[edge]]` gives this edge, e.g. `\"oca-a1\"`",
            ));
        }
        if self.steering.is_empty() {
            errors.push(ConfigError::new(
                "report.steering",
                "no steering service to report to",
                "list steering's API base URLs, e.g. `[\"http://198.18.0.9:80\"]`",
            ));
        }
        for (i, text) in self.steering.iter().enumerate() {
            match Url::parse(text) {
                Err(e) => errors.push(ConfigError::new(
                    format!("report.steering[{i}]"),
                    format!("`{text}`: {e}"),
                    "write steering's API base URL, e.g. `http://198.18.0.9:80`",
                )),
                Ok(u) if u.is_https() => errors.push(ConfigError::new(
                    format!("report.steering[{i}]"),
                    format!("`{text}` is https; reports go over plain HTTP"),
                    format!("write `http://{}`", u.authority()),
                )),
                Ok(u) if u.path != "/" => errors.push(ConfigError::new(
                    format!("report.steering[{i}]"),
                    format!("`{text}` has a path; reports go to `/report` under the base URL"),
                    format!("write the base URL alone, `http://{}`", u.authority()),
                )),
                Ok(_) => {}
            }
        }
        for (key, span) in [
            ("report.interval", self.interval),
            ("report.timeout", self.timeout),
        ] {
            if span.is_some_and(|s| s.0.is_zero()) {
                errors.push(ConfigError::new(
                    key,
                    "a duration of no time",
                    "write a positive duration, e.g. `1s` or `500ms`",
                ));
            }
        }
        if let Some(t) = self.table
            && (t == 0 || (253..=255).contains(&t))
        {
            errors.push(ConfigError::new(
                "report.table",
                format!("table {t} is not a table of learned routes"),
                "name the node's `bgp_speaker` table (not 0, nor 253 to 255, the kernel's own)",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reporting(text: &str) -> Reporting {
        toml::from_str(text).expect("parses")
    }

    #[test]
    fn defaults_follow_the_interval() {
        let r = reporting("edge = \"oca-a1\"\nsteering = [\"http://198.18.0.9:80\"]\ntable = 100");
        let mut errors = Vec::new();
        r.check(&mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(r.interval_or_default(), Duration::from_secs(1));
        assert_eq!(r.timeout_or_default(), Duration::from_secs(1));
        let slow =
            reporting("edge = \"e\"\nsteering = [\"http://127.0.0.1:1\"]\ninterval = \"10s\"");
        assert_eq!(slow.timeout_or_default(), Duration::from_secs(2));
        assert_eq!(r.urls()[0].port, 80);
    }

    #[test]
    fn every_problem_is_reported_at_its_key() {
        let r = reporting(
            "edge = \" \"\nsteering = [\"https://198.18.0.9\", \"http://198.18.0.9/report\", \"nope\"]\ninterval = \"0s\"\ntable = 254",
        );
        let mut errors = Vec::new();
        r.check(&mut errors);
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "report.edge",
                "report.steering[0]",
                "report.steering[1]",
                "report.steering[2]",
                "report.interval",
                "report.table"
            ]
        );
        assert!(errors[1].what.contains("plain HTTP"), "{:?}", errors[1]);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e =
            toml::from_str::<Reporting>("edge = \"e\"\nsteering = []\nurl = \"x\"").unwrap_err();
        assert!(e.to_string().contains("unknown field `url`"), "{e}");
    }
}
