//! `netproof cdn`: the reference CDN's processes (origin, edge, steering)
//! from a config file, and lab certificates.
//!
//! Exit codes as everywhere: 2 for a config, a flag or a certificate the
//! user wrote wrong, 3 for the machine (a port in use, a file that cannot
//! be written); 0 after Ctrl-C or SIGTERM (how a lab stops a service).

use netproof_cdn::certs::{self, CertsError};
use netproof_cdn::config::{self, LoadError};
use netproof_cdn::front::FrontError;
use netproof_cdn::server::{self, Running, ServeError};

use crate::cli::{CdnCertsArgs, CdnCommand, CdnServeArgs, CdnSteeringArgs};
use crate::error::{CliError, Code};

/// How long a drain may take before what is still in flight is cut off.
const DRAIN_BOUND: std::time::Duration = std::time::Duration::from_secs(10);

pub fn run(command: CdnCommand) -> Result<Code, CliError> {
    match command {
        CdnCommand::Origin(a) => serve(a, Role::Origin),
        CdnCommand::Edge(a) => serve(a, Role::Edge),
        CdnCommand::Steering(a) => steering(a),
        CdnCommand::Certs(a) => certs_cmd(a),
    }
}

/// `netproof cdn steering`: serves until Ctrl-C or SIGTERM (exit 0), with
/// its counters on the service sample channel in a lab and, with
/// `decision_log = true`, one JSON line per decision on stdout.
fn steering(args: CdnSteeringArgs) -> Result<Code, CliError> {
    use netproof_steering::server::{self as steering_server, ServeError as SteeringError};
    let config = netproof_steering::config::load(&args.config)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    super::probe::runtime()?.block_on(async {
        let log: Option<steering_server::DecisionLog> = config.decision_log.then(|| {
            std::sync::Arc::new(|line: &str| {
                use std::io::Write;
                // A closed stdout must not take steering down: drop the line.
                let _ = writeln!(std::io::stdout().lock(), "{line}");
            }) as steering_server::DecisionLog
        });
        let mut running = steering_server::start(&config, log).await.map_err(|e| match &e {
            SteeringError::Listen { source, .. }
                if source.kind() == std::io::ErrorKind::AddrNotAvailable =>
            {
                CliError::Usage(e.to_string())
            }
            SteeringError::Listen { .. } => CliError::Infra(e.to_string()),
        })?;
        for a in &running.api {
            eprintln!("steering: API (/steer, /report, /edges) on {a}");
        }
        for a in &running.dns {
            eprintln!("steering: DNS (udp, tcp) on {a}");
        }
        if let Some(a) = running.admin {
            eprintln!("steering: admin (/health, /metrics) on {a}");
        }
        if let Some(channel) = sample_channel()? {
            let service = running.service.clone();
            tokio::spawn(write_samples(move || service.sample_lines(), channel));
        }
        let cancel = netproof_run::Cancel::new();
        netproof_run::signals::install(cancel.clone()).map_err(CliError::Runtime)?;
        tokio::select! {
            _ = cancel.cancelled() => Ok(Code::Success),
            _ = running.wait() => Err(CliError::Infra("the steering service stopped unexpectedly".into())),
        }
    })
}

#[derive(Debug, Clone, Copy)]
enum Role {
    Origin,
    Edge,
}

/// A validated config of either role.
enum Loaded {
    Origin(netproof_proto::cdn::OriginConfig),
    Edge(netproof_proto::cdn::EdgeConfig),
}

/// Every config problem is the user's to fix (exit 2), a missing file
/// included: it is the path they gave.
fn load_error(e: LoadError) -> CliError {
    CliError::Usage(e.to_string())
}

fn serve_error(e: ServeError) -> CliError {
    match &e {
        ServeError::Listen { source, .. }
            if source.kind() != std::io::ErrorKind::AddrNotAvailable =>
        {
            CliError::Infra(e.to_string())
        }
        ServeError::Front(FrontError::Tls(_)) => CliError::Infra(e.to_string()),
        // The node's routing table could not be read: the machine's.
        ServeError::Routes(_) => CliError::Infra(e.to_string()),
        _ => CliError::Usage(e.to_string()),
    }
}

/// The runtime a CDN server runs on: `threads` workers, by default one
/// per CPU this process may use (a lab service pinned to one core gets
/// one). One worker is a current-thread runtime, which spends about 2 %
/// fewer instructions per HTTP/2 request than a multi-threaded runtime
/// with two (callgrind, 1 KiB hits).
fn server_runtime(threads: Option<u16>) -> Result<tokio::runtime::Runtime, CliError> {
    let threads = threads.map(usize::from).unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let mut b = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    };
    b.enable_all().build().map_err(CliError::Runtime)
}

fn serve(args: CdnServeArgs, role: Role) -> Result<Code, CliError> {
    // Read and validate before starting anything: a bad config is exit 2
    // with every problem listed.
    let loaded = match role {
        Role::Origin => Loaded::Origin(config::origin(&args.config).map_err(load_error)?),
        Role::Edge => Loaded::Edge(config::edge(&args.config).map_err(load_error)?),
    };
    server_runtime(args.threads)?.block_on(async {
        let running: Running = match &loaded {
            Loaded::Origin(o) => server::origin(o).await,
            Loaded::Edge(e) => server::edge(e).await,
        }
        .map_err(serve_error)?;
        for broken in &running.broken {
            // Reported, not fatal: the other sites serve.
            eprintln!("warning: {broken}");
        }
        let name = match role {
            Role::Origin => "origin",
            Role::Edge => "edge",
        };
        for a in &running.https {
            eprintln!("{name}: serving https on {a}");
        }
        for a in &running.http {
            eprintln!("{name}: serving http on {a}");
        }
        if let Some(a) = running.admin {
            eprintln!("{name}: admin (/health) on {a}");
        }
        if let Some(channel) = sample_channel()? {
            let metrics = running.front.metrics().clone();
            tokio::spawn(write_samples(
                move || {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::SystemTime::UNIX_EPOCH)
                        .map_or(0.0, |d| d.as_secs_f64());
                    metrics.sample_lines(now)
                },
                channel,
            ));
        }
        let cancel = netproof_run::Cancel::new();
        netproof_run::signals::install(cancel.clone()).map_err(CliError::Runtime)?;
        let mut running = running;
        // Stopping on a signal is how a lab ends a service: drain (in
        // flight transfers finish, bounded), then success, as `probe
        // serve` does. A drain by the admin endpoint (`POST /drain`)
        // keeps the process up, answering `draining`, until then.
        let stop = async {
            cancel.cancelled().await;
            eprintln!("{name}: draining (at most {}s)", DRAIN_BOUND.as_secs());
        };
        match running.serve_until(stop, DRAIN_BOUND).await {
            Ok(finished) => {
                if !finished {
                    eprintln!(
                        "{name}: transfers still in flight after {}s were cut off",
                        DRAIN_BOUND.as_secs()
                    );
                }
                Ok(Code::Success)
            }
            Err(_) => Err(CliError::Infra(format!(
                "the {name}'s server stopped unexpectedly"
            ))),
        }
    })
}

/// The service sample channel a lab gives its services
/// (`NETPROOF_SAMPLES_FD`), duplicated so it stays ours; `None` outside a
/// lab.
fn sample_channel() -> Result<Option<std::fs::File>, CliError> {
    let env = netproof_lab::collect::SAMPLES_FD_ENV;
    let Some(value) = std::env::var_os(env) else {
        return Ok(None);
    };
    let fd: std::os::fd::RawFd = value
        .to_str()
        .and_then(|v| v.parse().ok())
        .filter(|&fd| fd >= 0)
        .ok_or_else(|| {
            CliError::Usage(format!(
                "{env} is `{}`, not a file descriptor number\nhint: unset it outside a lab",
                value.to_string_lossy()
            ))
        })?;
    // SAFETY: the fd is only borrowed for the duplication below, which
    // fails with EBADF (reported) if the number is not an open file.
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let owned = borrowed.try_clone_to_owned().map_err(|e| {
        CliError::Infra(format!(
            "{env} names fd {fd}, which cannot be used: {e}\nhint: unset it outside a lab"
        ))
    })?;
    Ok(Some(std::fs::File::from(owned)))
}

/// Writes a service's counters as sample lines every second, until the
/// channel closes.
async fn write_samples(lines: impl Fn() -> Vec<String>, mut channel: std::fs::File) {
    use std::io::Write;
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let mut text = lines().join("\n");
        text.push('\n');
        // A pipe write of a few KiB; the lab's reader drains it.
        if channel.write_all(text.as_bytes()).is_err() {
            return;
        }
    }
}

fn certs_cmd(args: CdnCertsArgs) -> Result<Code, CliError> {
    let sites: Vec<Vec<String>> = args
        .sites
        .iter()
        .map(|s| {
            s.split(',')
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty())
                .collect()
        })
        .collect();
    if let Some(i) = sites.iter().position(Vec::is_empty) {
        return Err(CliError::Usage(format!(
            "--site `{}` names no host\nhint: write `--site NAME[,NAME...]`, e.g. `--site video.cdn.test,*.video.cdn.test`",
            args.sites[i]
        )));
    }
    let written = certs::make(&args.out, &sites).map_err(|e| match e {
        CertsError::Name { .. } | CertsError::Ca { .. } => CliError::Usage(e.to_string()),
        CertsError::Io { .. } | CertsError::Rcgen { .. } => CliError::Infra(e.to_string()),
    })?;
    println!(
        "{} {}",
        if written.reused_ca {
            "kept CA"
        } else {
            "wrote CA"
        },
        written.ca.display()
    );
    for (names, cert, key) in &written.sites {
        println!("{}: {} {}", names.join(","), cert.display(), key.display());
    }
    Ok(Code::Success)
}
