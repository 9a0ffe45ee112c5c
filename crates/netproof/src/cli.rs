//! The command line, as clap structures. No logic lives here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Exit codes:
  0    every expectation passed (check: every plan is valid; compare: no regression)
  1    some expectation failed or could not be measured (compare: a regression)
  2    what you wrote is wrong: a flag, an invalid plan, a name that is not there
  3    the machine failed: the lab, a namespace, a socket, the database, a file, a peer
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
    /// Run the reference CDN (origin, edge, steering) from a config file;
    /// make lab certificates.
    #[command(subcommand)]
    Cdn(CdnCommand),
    /// Work on results databases: copy runs between SQLite and PostgreSQL.
    #[command(subcommand)]
    Store(crate::commands::store::StoreCommand),
    /// Run the CDN test plans on the reference Open Connect lab: a tour.
    ///
    /// Brings up the reference Open Connect CDN lab for each of the CDN
    /// test plans in turn, runs it with live progress, stores every sample,
    /// writes one HTML report linking every plan's results, and takes the
    /// lab down. A few minutes; needs root or user namespaces, and BIRD.
    Demo(DemoArgs),
}

/// `netproof demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Where to write the plans it runs, each run's report, and `index.html`
    /// linking them (created if missing).
    #[arg(long, value_name = "DIR", default_value = "netproof-demo")]
    pub out: PathBuf,
    /// Run each plan shortened by its own `quick` overrides (durations and
    /// counts, never thresholds).
    #[arg(long)]
    pub quick: bool,
    /// Print one JSON object per plan, then one for the demo, instead of
    /// the summary; no progress display.
    #[arg(long)]
    pub json: bool,
}

/// `netproof cdn ...`.
#[derive(Debug, Subcommand)]
pub enum CdnCommand {
    /// Serve the synthetic catalogue over HTTPS and/or HTTP, with optional
    /// latency, errors and stalls, until Ctrl-C or SIGTERM.
    Origin(CdnServeArgs),
    /// Serve as an edge (an Open Connect appliance): several sites on one
    /// address, certificates by SNI, byte ranges; until Ctrl-C or SIGTERM.
    Edge(CdnServeArgs),
    /// Serve as the steering service: rank edges for each client from
    /// the routes, health and contents edges report (`POST /report`) and
    /// health polls, and hand the ranking out as URLs (`GET /steer`) and
    /// as an authoritative DNS server aware of EDNS Client Subnet; until
    /// Ctrl-C or SIGTERM.
    Steering(CdnSteeringArgs),
    /// Make a lab CA and a certificate per site (PEM files with stable
    /// names: ca.pem, ca.key, NAME.pem, NAME.key; `*.x` is written
    /// `_wildcard.x`). A directory that has a CA keeps it.
    Certs(CdnCertsArgs),
}

/// `netproof cdn origin` and `netproof cdn edge`.
#[derive(Debug, Args)]
pub struct CdnServeArgs {
    /// The TOML config: `[listen]`, `[[site]]`, `[tls]`, `admin`, and
    /// `[catalogue]` + `[knobs]` (origin) or `[fill]` (edge). Relative
    /// certificate paths are read beside the file.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Worker threads (default: the CPUs this process may run on, so a
    /// server pinned to one core gets one). With 1, a single-threaded
    /// runtime runs everything, with no cross-thread work stealing.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
}

/// `netproof cdn steering`.
#[derive(Debug, Args)]
pub struct CdnSteeringArgs {
    /// The TOML config: `[listen]` (`api`, `dns`), `admin`, `[dns]`,
    /// `[health]`, `report_timeout`, `decision_log` and one `[[edge]]` per
    /// edge (docs/cdn.md, "Steering").
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
}

/// `netproof cdn certs`.
#[derive(Debug, Args)]
pub struct CdnCertsArgs {
    /// Where to write the files (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// A site: its names, comma-separated, the first naming the files,
    /// e.g. `video.cdn.test,*.video.cdn.test`. Repeat for more sites.
    #[arg(long = "site", value_name = "NAME[,NAME...]", required = true)]
    pub sites: Vec<String>,
}

/// `netproof probe ...`.
#[derive(Debug, Subcommand)]
pub enum ProbeCommand {
    /// Answer probes: a UDP echo responder for `udp-echo` and `udp_echo`
    /// steps, and an iperf3-compatible server for `throughput` (with no
    /// options, both on every address: UDP 7007 and TCP 5201).
    Serve(ProbeServeArgs),
    /// Send a series of UDP echo packets to a responder and report RTT,
    /// loss, duplicates, reordering and jitter.
    UdpEcho(ProbeUdpEchoArgs),
    /// Send a series of ICMP echo requests and report RTT and loss.
    Ping(ProbePingArgs),
    /// Time HTTP(S) requests phase by phase (connect, TLS, first byte,
    /// transfer) with the address, Host header and SNI set independently,
    /// or offer an open-loop load (`--rate`).
    Http(ProbeHttpArgs),
    /// Measure TCP or UDP throughput against an iperf3 server (`iperf3 -s`
    /// or `netproof probe serve --iperf`), speaking iperf3's protocol.
    Throughput(ProbeThroughputArgs),
    /// Ask a DNS server a question over UDP or TCP, optionally as a client
    /// in a subnet (EDNS Client Subnet), and show the answer, its TTLs,
    /// rcode, flags and latency.
    Dns(ProbeDnsArgs),
}

/// `netproof probe dns`.
#[derive(Debug, Args)]
pub struct ProbeDnsArgs {
    /// The server: `ADDR` (port 53), `ADDR:PORT` or `[IPv6]:PORT`.
    #[arg(value_name = "SERVER")]
    pub server: String,
    /// The name to ask about, e.g. `www.cdn.test`.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The record type: A, AAAA, CNAME, TXT, NS, SOA, MX, ...
    #[arg(short = 't', long = "type", default_value = "A", value_name = "TYPE")]
    pub rtype: String,
    /// Ask as a client in this subnet (EDNS Client Subnet), e.g. `198.18.4.0/24`.
    #[arg(long, value_name = "PREFIX")]
    pub subnet: Option<String>,
    /// Ask over TCP instead of UDP.
    #[arg(long)]
    pub tcp: bool,
    /// Queries to send, one after another.
    #[arg(short = 'c', long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub count: u32,
    /// Time between the starts of two queries.
    #[arg(long, default_value = "1s", value_name = "DURATION")]
    pub interval: String,
    /// How long each UDP try waits for its answer (TCP: the whole exchange).
    #[arg(long, default_value = "2s", value_name = "DURATION")]
    pub timeout: String,
    /// UDP sends per query.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10))]
    pub tries: u32,
    /// Print the queries and every sample as JSON.
    #[arg(long)]
    pub json: bool,
    /// Allow a server outside the lab ranges and loopback. Only for a real lab you control.
    #[arg(long)]
    pub allow_external: bool,
}

/// `netproof probe throughput`.
#[derive(Debug, Args)]
pub struct ProbeThroughputArgs {
    /// The iperf3 server's address.
    #[arg(value_name = "ADDR")]
    pub target: std::net::IpAddr,
    /// The server's port.
    #[arg(long, default_value_t = 5201)]
    pub port: u16,
    /// UDP instead of TCP.
    #[arg(long)]
    pub udp: bool,
    /// Parallel streams.
    #[arg(short = 'P', long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=128))]
    pub streams: u16,
    /// How long data flows, e.g. `10s`.
    #[arg(
        short = 't',
        long = "time",
        default_value = "10s",
        value_name = "DURATION"
    )]
    pub duration: String,
    /// The server sends, netproof receives.
    #[arg(short = 'R', long)]
    pub reverse: bool,
    /// Target rate per stream, e.g. `100Mbit` (UDP default 1Mbit; TCP unlimited).
    #[arg(short = 'b', long = "bitrate", value_name = "RATE")]
    pub rate: Option<String>,
    /// Block (TCP) or datagram (UDP) size in bytes (default 128 KiB for TCP, 1460 for UDP).
    #[arg(short = 'l', long = "length", value_name = "BYTES")]
    pub length: Option<usize>,
    /// Stop after this many bytes over all streams, e.g. `100MB`.
    #[arg(short = 'n', long = "bytes", value_name = "SIZE")]
    pub bytes: Option<String>,
    /// Time between goodput samples.
    #[arg(short = 'i', long, default_value = "1s", value_name = "DURATION")]
    pub interval: String,
    /// Print the summary and every sample as JSON.
    #[arg(long)]
    pub json: bool,
    /// Allow a target outside the lab ranges and loopback. Only for a real lab you control.
    #[arg(long)]
    pub allow_external: bool,
}

/// `netproof probe http`.
#[derive(Debug, Args)]
pub struct ProbeHttpArgs {
    /// The URL, e.g. `https://a.test:8443/path` (with --connect-to, the host may be any name).
    #[arg(value_name = "URL")]
    pub url: String,
    /// Connect to this address instead of the URL's host (as `curl --connect-to`).
    #[arg(long, value_name = "ADDR:PORT")]
    pub connect_to: Option<std::net::SocketAddr>,
    /// The Host header (HTTP/2 `:authority`) instead of the URL's host.
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// The TLS server name instead of the URL's host.
    #[arg(long, value_name = "NAME", conflicts_with = "no_sni")]
    pub sni: Option<String>,
    /// Send no TLS server name (the certificate is then checked against the Host's name).
    #[arg(long)]
    pub no_sni: bool,
    /// Verify the server's certificate against the CA certificates in this PEM file.
    #[arg(long, value_name = "FILE", conflicts_with = "insecure")]
    pub cacert: Option<std::path::PathBuf>,
    /// Accept any certificate (it is still shown and recorded).
    #[arg(short = 'k', long)]
    pub insecure: bool,
    /// HTTP/2 (ALPN `h2` for https, prior knowledge for http).
    #[arg(long)]
    pub http2: bool,
    /// Ask for a byte range, `FIRST-LAST` (inclusive) or `FIRST-`.
    #[arg(long, value_name = "A-B")]
    pub range: Option<String>,
    /// Check every body byte against the reference CDN's catalogue with
    /// this seed (the URL's path must be a catalogue file, `/t/TITLE/FILE`).
    #[arg(long, value_name = "SEED")]
    pub verify: Option<u64>,
    /// Requests, one after another on fresh connections (default 1); with --rate, at most this many.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub requests: Option<u32>,
    /// Limit on each request.
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    pub timeout: String,
    /// Load mode: offer this many requests per second, open-loop.
    #[arg(long, value_name = "PER_SECOND", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rate: Option<u32>,
    /// Load mode: connections, each with one request in flight at most.
    #[arg(long, default_value_t = 1, requires = "rate", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub connections: u32,
    /// Load mode: threads driving the connections. One (the default) runs
    /// every connection on one core with no wake-ups between threads, the
    /// cheapest per request; more spread them over cores.
    #[arg(long, default_value_t = 1, requires = "rate", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub threads: u32,
    /// Load mode: schedule requests for this long.
    #[arg(
        long = "for",
        default_value = "10s",
        value_name = "DURATION",
        requires = "rate"
    )]
    pub duration: String,
    /// Print the summary and every sample as JSON.
    #[arg(long)]
    pub json: bool,
    /// Allow a target outside the lab ranges and loopback. Only for a real lab you control.
    #[arg(long)]
    pub allow_external: bool,
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
///
/// With neither `--udp` nor `--iperf`, serves both on every address, as
/// `iperf3 -s` does: UDP echo on port 7007 and iperf3 on port 5201. With
/// either, serves only what is named.
#[derive(Debug, Args)]
pub struct ProbeServeArgs {
    /// Address and port to answer UDP echo on, e.g. `198.18.0.4:7007` or
    /// `[::]:7007` (default without --iperf: port 7007 of every address).
    #[arg(long, value_name = "ADDR:PORT")]
    pub udp: Option<std::net::SocketAddr>,
    /// Address to serve iperf3 clients on (`iperf3 -c`, `netproof probe
    /// throughput`), e.g. `198.18.0.4` or `198.18.0.4:5201` (port 5201 by
    /// default; without --udp either, port 5201 of every address).
    #[arg(long, value_name = "ADDR[:PORT]")]
    pub iperf: Option<String>,
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
    /// The routing daemon for every node that runs OSPF or BGP, overriding
    /// the plan's `routing`: `bird` (the default) or `frr`.
    #[arg(long, value_name = "DAEMON", value_parser = ["bird", "frr"])]
    pub routing_daemon: Option<String>,
    /// Change the plan before it is checked: PATH=VALUE, PATH from the top
    /// of the file with `[INDEX]` or `[NAME]` for arrays of tables, VALUE
    /// a TOML value, e.g. `--set 'link[a--b].delay="20ms"'`, `--set
    /// 'service[edge].config.fill.cache.policy=lru'`. Repeat for more;
    /// the run stores the plan as changed.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// Apply the plan's own seeded fault (`[plan] seeded_fault`), the
    /// change that proves the plan able to fail.
    #[arg(long)]
    pub seeded_fault: bool,
    /// Apply the plan's `quick` overrides first: its own shorter durations
    /// and counts (never its thresholds), for CI and a first look.
    #[arg(long)]
    pub quick: bool,
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
    /// Results database: a SQLite file path, `sqlite://PATH`, or a PostgreSQL
    /// URL `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`.
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
    /// netns backend: also name each node's namespace in /run/netns while the
    /// run lasts, so `ip netns exec <lab>-<node> ...` works (as with `lab up`).
    #[arg(long)]
    pub ip_netns: bool,
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
