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
    /// Usage error or invalid plan.
    Usage,
    /// The lab or infrastructure failed.
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
    /// The command line asks for something impossible.
    #[error("{0}")]
    Usage(String),
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
            CliError::Store(_)
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
