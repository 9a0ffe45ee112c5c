//! The CLI's one error type: it owns exit codes and how errors are shown.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// How a command ended, as the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Code {
    /// Every expectation passed.
    Success,
    /// Some expectation failed (or a regression was found).
    Failed,
    /// What the user wrote is wrong: bad flags, an invalid plan, a name
    /// that is not there.
    Usage,
    /// The machine failed: the lab, a namespace, a socket, the database, a
    /// file, a missing peer.
    Infra,
    /// Interrupted by Ctrl-C or SIGTERM.
    Interrupted,
    /// `lab exec`: the command's own exit status, passed through.
    Child(u8),
}

impl From<Code> for ExitCode {
    fn from(c: Code) -> ExitCode {
        ExitCode::from(match c {
            Code::Success => 0,
            Code::Failed => 1,
            Code::Usage => 2,
            Code::Infra => 3,
            Code::Interrupted => 130,
            Code::Child(n) => n,
        })
    }
}

/// Errors a command reports to the user.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// One or more plans are invalid (all their problems are inside).
    #[error("invalid plan")]
    Plans(Vec<netproof_plan::PlanError>),
    /// What the user wrote is wrong: a flag, a value, a name that is not
    /// there (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The machine failed at what was asked: a namespace, a socket, a
    /// process, a file (exit 3). Not the user's doing, though the hint may
    /// say how to help it.
    #[error("{0}")]
    Infra(String),
    /// The results database failed.
    #[error(transparent)]
    Store(#[from] netproof_store::StoreError),
    /// A report could not be built or written.
    #[error(transparent)]
    Report(#[from] netproof_report::ReportError),
    /// A file could not be written.
    #[error("cannot write `{path}`: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The lab could not be built or reached.
    #[error(transparent)]
    Lab(#[from] netproof_lab::LabError),
    /// A responder could not listen where asked (`probe serve`).
    #[error("cannot {what} on {at}\nhint: {}", listen_hint(source))]
    Listen {
        /// What it was to do there: `answer UDP echo`, `serve iperf3`.
        what: &'static str,
        /// Where: an address, or `port N of every address`.
        at: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The async runtime could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
}

/// What to try when a responder cannot listen, by the kernel's reason.
fn listen_hint(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            "is another `netproof probe serve` or `iperf3 -s` listening there? name other \
             ports with --udp ADDR:PORT and --iperf ADDR:PORT"
        }
        std::io::ErrorKind::AddrNotAvailable => {
            "that address is not this host's (or this namespace's); give neither --udp nor \
             --iperf to serve both on every address"
        }
        std::io::ErrorKind::PermissionDenied => {
            "ports below 1024 need root or CAP_NET_BIND_SERVICE; name another port with \
             --udp ADDR:PORT or --iperf ADDR:PORT"
        }
        _ => "check the address given to --udp or --iperf, and that the port is free",
    }
}

impl CliError {
    /// The exit code for this error.
    pub fn exit_code(&self) -> Code {
        match self {
            CliError::Plans(_) | CliError::Usage(_) => Code::Usage,
            // An address that is not this host's is what the user wrote; a
            // port in use or refused is the machine's state.
            CliError::Listen { source, .. }
                if source.kind() == std::io::ErrorKind::AddrNotAvailable =>
            {
                Code::Usage
            }
            CliError::Listen { .. } => Code::Infra,
            CliError::Store(netproof_store::StoreError::NoSuchRun { .. }) => Code::Usage,
            CliError::Infra(_)
            | CliError::Store(_)
            | CliError::Report(_)
            | CliError::Write { .. }
            | CliError::Runtime(_)
            | CliError::Lab(_) => Code::Infra,
        }
    }

    /// Prints the error to stderr, once, in the house style.
    pub fn print(&self) {
        let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        match self {
            CliError::Plans(errors) => {
                for e in errors {
                    eprint!("{}", e.render(color, 100));
                }
            }
            other => {
                let text = other.to_string();
                let (msg, hint) = match text.split_once("\nhint: ") {
                    Some((m, h)) => (m.to_string(), Some(h.to_string())),
                    None => (text, None),
                };
                let mut src = std::error::Error::source(other);
                let mut causes = String::new();
                // `transparent` variants already show their source's text.
                if !matches!(
                    other,
                    CliError::Store(_) | CliError::Report(_) | CliError::Lab(_)
                ) {
                    while let Some(s) = src {
                        causes.push_str(&format!("\n  caused by: {s}"));
                        src = s.source();
                    }
                }
                eprintln!("error: {msg}{causes}");
                if let Some(h) = hint {
                    eprintln!("hint: {h}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listen(kind: std::io::ErrorKind) -> CliError {
        CliError::Listen {
            what: "serve iperf3",
            at: "198.18.0.4:5201".into(),
            source: std::io::Error::from(kind),
        }
    }

    #[test]
    fn the_users_mistakes_exit_2_and_the_machines_failures_3() {
        assert_eq!(CliError::Usage("bad flag".into()).exit_code(), Code::Usage);
        assert_eq!(
            CliError::Infra("no namespace".into()).exit_code(),
            Code::Infra
        );
        // An address that is not this host's is what the user wrote ...
        assert_eq!(
            listen(std::io::ErrorKind::AddrNotAvailable).exit_code(),
            Code::Usage
        );
        // ... a port someone else holds, or that needs privilege, is not.
        assert_eq!(
            listen(std::io::ErrorKind::AddrInUse).exit_code(),
            Code::Infra
        );
        assert_eq!(
            listen(std::io::ErrorKind::PermissionDenied).exit_code(),
            Code::Infra
        );
        assert_eq!(ExitCode::from(Code::Usage), ExitCode::from(2));
        assert_eq!(ExitCode::from(Code::Infra), ExitCode::from(3));
    }

    #[test]
    fn a_listen_failure_hints_at_both_flags() {
        let text = listen(std::io::ErrorKind::AddrInUse).to_string();
        assert!(text.starts_with("cannot serve iperf3 on 198.18.0.4:5201\nhint: "));
        assert!(text.contains("--udp") && text.contains("--iperf"), "{text}");
    }
}
