//! The command line, as clap structures. No logic lives here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Exit codes:
  0    every expectation passed (check: every plan is valid; compare: no regression)
  1    some expectation failed or could not be measured (compare: a regression)
  2    usage error or invalid plan
  3    the lab or infrastructure failed (a service did not start, the database failed)
  130  interrupted by Ctrl-C or SIGTERM (the lab was taken down)

Plan language reference: docs/plan-language.md";

/// netproof: a network test lab. Write a test plan, check it, run it on a
/// real lab, and read a report of every measurement.
#[derive(Debug, Parser)]
#[command(name = "netproof", version, about, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
    /// When to colour output.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// When to use colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// When writing to a terminal and NO_COLOR is unset.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate plans without running them; report every problem at once.
    Check(CheckArgs),
    /// Run plans on a lab, record every sample, judge expectations and report.
    Run(RunArgs),
    /// List past runs in the results database.
    Runs(RunsArgs),
    /// Rebuild a run's report from the results database.
    Report(ReportArgs),
    /// Compare two runs metric by metric and flag significant regressions.
    Compare(CompareArgs),
    /// Bring a plan's lab up to work in by hand, and clean up after crashes.
    #[command(subcommand)]
    Lab(LabCommand),
    /// Run a probe by hand, or serve as a probe's responder.
    #[command(subcommand)]
    Probe(ProbeCommand),
}

/// `netproof probe ...`.
#[derive(Debug, Subcommand)]
pub enum ProbeCommand {
    /// Answer probes: a UDP echo responder for `udp-echo` and `udp_echo` steps.
    Serve(ProbeServeArgs),
    /// Send a series of UDP echo packets to a responder and report RTT,
    /// loss, duplicates, reordering and jitter.
    UdpEcho(ProbeUdpEchoArgs),
    /// Send a series of ICMP echo requests and report RTT and loss.
    Ping(ProbePingArgs),
}

/// `netproof probe ping`.
#[derive(Debug, Args)]
pub struct ProbePingArgs {
    /// The address to ping (IPv4 or IPv6).
    #[arg(value_name = "ADDR")]
    pub target: std::net::IpAddr,
    /// Requests to send.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub packets: u32,
    /// Time between requests, e.g. `100ms`.
    #[arg(long, default_value = "100ms", value_name = "DURATION")]
    pub interval: String,
    /// ICMP payload size in bytes.
    #[arg(long, default_value_t = 56, value_parser = clap::value_parser!(u16).range(8..=65000))]
    pub size: u16,
    /// How long to wait for replies after the last request.
    #[arg(long, default_value = "1s", value_name = "DURATION")]
    pub wait: String,
    /// Print the summary and every sample as JSON.
    #[arg(long)]
    pub json: bool,
    /// Allow a target outside the lab ranges and loopback. Only for a real lab you control.
    #[arg(long)]
    pub allow_external: bool,
}

/// `netproof probe serve`.
#[derive(Debug, Args)]
pub struct ProbeServeArgs {
    /// Address and port to answer UDP echo on, e.g. `198.18.0.4:7007` or `[::]:7007`.
    #[arg(long, value_name = "ADDR:PORT")]
    pub udp: std::net::SocketAddr,
    /// Stop after this long (e.g. `10m`); without it, until Ctrl-C or SIGTERM.
    #[arg(long = "for", value_name = "DURATION")]
    pub duration: Option<String>,
}

/// `netproof probe udp-echo`.
#[derive(Debug, Args)]
pub struct ProbeUdpEchoArgs {
    /// The responder, `ADDR:PORT` (run `netproof probe serve --udp ADDR:PORT` there).
    #[arg(value_name = "ADDR:PORT")]
    pub target: std::net::SocketAddr,
    /// Packets to send.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub packets: u32,
    /// Time between packets, e.g. `10ms`.
    #[arg(long, default_value = "10ms", value_name = "DURATION")]
    pub interval: String,
    /// UDP payload size in bytes.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(24..=65507))]
    pub size: u16,
    /// How long to wait for replies after the last packet.
    #[arg(long, default_value = "1s", value_name = "DURATION")]
    pub wait: String,
    /// Print the summary and every sample as JSON.
    #[arg(long)]
    pub json: bool,
    /// Allow a target outside the lab ranges and loopback. Only for a real lab you control.
    #[arg(long)]
    pub allow_external: bool,
}

/// `netproof lab ...`.
#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Build a plan's topology, start its services, print how to reach each
    /// node, and keep the lab up until Ctrl-C or `netproof lab down`.
    Up(LabUpArgs),
    /// Run a command on a node of a lab that `lab up` keeps running.
    Exec(LabExecArgs),
    /// List the labs on this host: live, interactive, or left by a crash.
    Status(LabStatusArgs),
    /// Stop a lab that `lab up` keeps running.
    Down(LabDownArgs),
    /// Remove what labs whose owner died left behind (processes, namespaces).
    Gc,
}

/// `netproof lab up`.
#[derive(Debug, Args)]
pub struct LabUpArgs {
    /// The plan whose lab to build (its cases are not run).
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    #[command(flatten)]
    pub plan_options: PlanOptions,
}

/// `netproof lab exec`.
#[derive(Debug, Args)]
pub struct LabExecArgs {
    /// The node to run on.
    #[arg(value_name = "NODE")]
    pub node: String,
    /// The command and its arguments (after `--`).
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
    /// Which lab, when several are up (see `netproof lab status`).
    #[arg(long, value_name = "ID")]
    pub lab: Option<String>,
}

/// `netproof lab status`.
#[derive(Debug, Args)]
pub struct LabStatusArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `netproof lab down`.
#[derive(Debug, Args)]
pub struct LabDownArgs {
    /// Which lab, when several are up (see `netproof lab status`).
    #[arg(long, value_name = "ID")]
    pub lab: Option<String>,
}

/// Options shared by commands that validate plans.
#[derive(Debug, Args)]
pub struct PlanOptions {
    /// Lab backend, overriding the plan's: `netns` (a network namespace per
    /// node, real links; root or unprivileged user namespaces) or `local`
    /// (every node is this host on its own loopback address).
    #[arg(long, value_name = "BACKEND")]
    pub backend: Option<String>,
    /// Accept addresses outside the lab ranges (198.18.0.0/15, 2001:2::/48)
    /// and loopback. Only for a real lab you control.
    #[arg(long)]
    pub allow_external: bool,
}

/// `netproof check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Plan files to check.
    #[arg(required = true, value_name = "PLAN")]
    pub plans: Vec<PathBuf>,
    /// Print the result as JSON (problems with file, line and column).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub plan: PlanOptions,
}

/// Where the results database is.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// Results database: a SQLite file path or `sqlite://PATH`.
    #[arg(
        long,
        env = "NETPROOF_DB",
        default_value = "netproof.db",
        value_name = "URL"
    )]
    pub db: String,
}

/// `netproof run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Plan files to run, one run each, in order.
    #[arg(required = true, value_name = "PLAN")]
    pub plans: Vec<PathBuf>,
    #[command(flatten)]
    pub db: DbArgs,
    /// Write report files (HTML, Markdown, JUnit XML, JSON) into this directory.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Which report formats to write with --out (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "html,md,junit,json",
        value_name = "FORMATS"
    )]
    pub formats: Vec<String>,
    /// Print each run's summary as one JSON object per line instead of a table;
    /// no progress display.
    #[arg(long)]
    pub json: bool,
    /// Run every case N times, overriding the plans' `repeat`.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub repeat: Option<u32>,
    /// Run only this case (repeatable).
    #[arg(long = "case", value_name = "ID")]
    pub cases: Vec<String>,
    /// Seed for every random choice, overriding the plan's (else one is drawn
    /// and recorded).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub plan: PlanOptions,
}

/// `netproof runs`.
#[derive(Debug, Args)]
pub struct RunsArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Show at most N runs, newest first.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub limit: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `netproof report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run: an id, `latest`, or `latest~N`.
    #[arg(value_name = "RUN")]
    pub run: String,
    #[command(flatten)]
    pub db: DbArgs,
    /// Output format: text (the terminal summary), html, md, junit or json.
    #[arg(long, default_value = "text", value_name = "FORMAT")]
    pub format: String,
    /// Write to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `netproof compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline run: an id, `latest`, or `latest~N`.
    #[arg(value_name = "RUN_A")]
    pub a: String,
    /// The run compared with it.
    #[arg(value_name = "RUN_B")]
    pub b: String,
    #[command(flatten)]
    pub db: DbArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Print Markdown (for a wiki or a pull request).
    #[arg(long, conflicts_with = "json")]
    pub markdown: bool,
}
