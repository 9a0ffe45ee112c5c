//! Rendering the plan's routing intent into daemon configurations: one
//! BIRD 2 `bird.conf` or one FRR `frr.conf` per daemon-owned node.
//!
//! Pure: no files, no processes. [`render`] derives each node's
//! [`RouterIntent`] from the plan and the lab's addressing ([`intent`]),
//! then writes it in the daemon's syntax ([`bird`], [`frr`]). Every
//! rendered line remembers the plan span that produced it
//! ([`ConfigFile::span_at`]), and [`error_line`] finds the line a daemon's
//! parse error names, so "a daemon that refuses its generated
//! configuration" becomes a lab error quoting the daemon and pointing at
//! the plan line (the node, the link or the `[[bgp]]` session).
//!
//! The lab's build calls [`render_blueprint`] with the blueprint it has
//! already computed; `check`, tests and tools call [`render`].

pub mod bird;
pub mod frr;
pub mod intent;

#[cfg(test)]
mod tests;

use netproof_plan::{Daemon, Plan, Span};

pub use intent::{BgpNeighbour, Family, Origination, OspfInterface, Policy, RouterIntent, symbol};

use crate::LabError;
use crate::backend::netns::{Blueprint, blueprint};

/// One daemon-owned node's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConfig {
    /// What the node's routing should do (sessions to poll, interfaces).
    pub intent: RouterIntent,
    /// The files to write for its daemon (one today: `bird.conf` or
    /// `frr.conf`).
    pub files: Vec<ConfigFile>,
}

impl NodeConfig {
    /// The node's plan name.
    pub fn node(&self) -> &str {
        &self.intent.node
    }

    /// The daemon that reads the files.
    pub fn daemon(&self) -> Daemon {
        self.intent.daemon
    }
}

/// A rendered configuration file, with the plan span of each line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    /// The file's name (`bird.conf`, `frr.conf`).
    pub name: &'static str,
    /// Its text; every line ends with `\n`.
    pub text: String,
    /// Per line (index 0 is line 1), the plan span that produced it.
    spans: Vec<Span>,
}

impl ConfigFile {
    /// The plan span that produced line `line` (counted from 1, as daemons
    /// count), if the file has that line.
    pub fn span_at(&self, line: usize) -> Option<Span> {
        line.checked_sub(1).and_then(|i| self.spans.get(i)).copied()
    }

    /// Line `line` (from 1) of the text, to quote beside a daemon's error.
    pub fn line(&self, line: usize) -> Option<&str> {
        line.checked_sub(1).and_then(|i| self.text.lines().nth(i))
    }
}

/// A configuration file being written, one line at a time, each line with
/// the span of the plan item it comes from.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    text: String,
    spans: Vec<Span>,
}

impl Writer {
    /// Appends `line` (without its newline), produced by the plan item at
    /// `span`.
    pub(crate) fn line(&mut self, span: Span, line: impl AsRef<str>) {
        self.text.push_str(line.as_ref());
        self.text.push('\n');
        self.spans.push(span);
    }

    /// The finished file.
    pub(crate) fn finish(self, name: &'static str) -> ConfigFile {
        ConfigFile {
            name,
            text: self.text,
            spans: self.spans,
        }
    }
}

/// Why routing configurations could not be rendered. `check` refuses
/// every plan that would cause one, so each is a bug if it happens after
/// a plan passed `check`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The plan's topology cannot be built.
    #[error(transparent)]
    Lab(Box<LabError>),
    /// A BGP session over a link joins nodes that share none.
    #[error(
        "BGP session `{}`--`{}`: the two share no link or LAN to run it over\nhint: `netproof check` refuses such a plan; run it on this plan and report the bug if it passes",
        ends[0], ends[1]
    )]
    NotNeighbours {
        /// The session's ends.
        ends: [String; 2],
        /// The session in the plan.
        span: Span,
    },
    /// An end of a BGP session has no AS number.
    #[error(
        "BGP session with `{node}`, which has no AS number\nhint: `netproof check` refuses such a plan; run it on this plan and report the bug if it passes"
    )]
    NoAsn {
        /// The node.
        node: String,
        /// The session in the plan.
        span: Span,
    },
}

impl ConfigError {
    /// Where in the plan the problem is written, when it is one place.
    pub fn span(&self) -> Option<Span> {
        match self {
            ConfigError::Lab(e) => e.span(),
            ConfigError::NotNeighbours { span, .. } | ConfigError::NoAsn { span, .. } => {
                Some(*span)
            }
        }
    }
}

/// A daemon refused a configuration netproof rendered: the daemon's own
/// message, the line it names, and the plan item that produced that line
/// (the bad-input rule: quote the daemon and point at the plan).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "node `{node}`: {daemon} refused its generated `{file}`{at}: {message}\nhint: netproof renders this file from the plan's routing intent and checks it against BIRD 2.0.12 and FRR 8.4; with another version of the daemon, install Debian's (scripts/install-peers.sh), else report the plan and this message as a bug",
    daemon = daemon.as_str(),
    at = match (line, quoted) {
        (Some(l), Some(q)) => format!(" at line {l} (`{q}`)"),
        (Some(l), None) => format!(" at line {l}"),
        _ => String::new(),
    }
)]
pub struct Refused {
    /// The node.
    pub node: String,
    /// The daemon.
    pub daemon: Daemon,
    /// The file it refused.
    pub file: &'static str,
    /// The line its message names, when it names one.
    pub line: Option<usize>,
    /// That line of the file, trimmed.
    pub quoted: Option<String>,
    /// The daemon's own message, trimmed.
    pub message: String,
    /// The plan item that produced the line (else the node).
    pub span: Span,
}

impl NodeConfig {
    /// The error for `file` of this node refused by its daemon with
    /// `message` (what `bird -p` printed, or `vtysh -C`, or the daemon's
    /// log at start).
    pub fn refused(&self, file: &ConfigFile, message: &str) -> Refused {
        let line = error_line(self.daemon(), message);
        Refused {
            node: self.intent.node.clone(),
            daemon: self.daemon(),
            file: file.name,
            line,
            quoted: line
                .and_then(|l| file.line(l))
                .map(|q| q.trim().to_string()),
            message: message.trim().to_string(),
            span: line
                .and_then(|l| file.span_at(l))
                .unwrap_or(self.intent.span),
        }
    }
}

/// Renders the configuration of every daemon-owned node of `plan`, in
/// plan order (computing the lab's addressing on the way).
pub fn render(plan: &Plan) -> Result<Vec<NodeConfig>, ConfigError> {
    // The lab id only names namespaces, which no configuration mentions.
    let bp = blueprint(plan, "np-000000").map_err(|e| ConfigError::Lab(Box::new(e)))?;
    render_blueprint(plan, &bp)
}

/// Renders the configuration of every daemon-owned node of `plan` from the
/// lab's blueprint, in plan order.
pub(crate) fn render_blueprint(
    plan: &Plan,
    bp: &Blueprint,
) -> Result<Vec<NodeConfig>, ConfigError> {
    Ok(intent::derive(plan, bp)?
        .into_iter()
        .map(|intent| {
            let file = match intent.daemon {
                Daemon::Bird => bird::render(&intent),
                Daemon::Frr => frr::render(&intent),
            };
            NodeConfig {
                intent,
                files: vec![file],
            }
        })
        .collect())
}

/// The line (from 1) a daemon's configuration error names, from the
/// daemon's own message: BIRD's `bird: FILE:LINE:COL message` and FRR's
/// `vtysh -C` `line LINE: % message` (and its daemons' `... on config
/// line LINE: ...`).
pub fn error_line(daemon: Daemon, message: &str) -> Option<usize> {
    let number = |s: &str| {
        let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    message.lines().find_map(|l| match daemon {
        Daemon::Bird => {
            // FILE:LINE:COL, where FILE itself may hold no colon we rely on:
            // take the last `:LINE:COL` pair before the message.
            let before_msg = l.split(' ').find(|w| w.matches(':').count() >= 2)?;
            let mut parts = before_msg.rsplitn(3, ':');
            let _col = parts.next()?;
            number(parts.next()?)
        }
        Daemon::Frr => l
            .find("line ")
            .and_then(|at| number(&l[at + "line ".len()..])),
    })
}
