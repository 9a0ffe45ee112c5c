//! `netproof probe`: probes at a shell, and netproof's own responders.

use std::time::Duration;

use netproof_probe::{throughput, udp_echo};
use netproof_sample::{Labels, MemorySink, Value};

use crate::cli::{ProbeCommand, ProbePingArgs, ProbeThroughputArgs, ProbeUdpEchoArgs};
use crate::error::{CliError, Code};

pub fn run(command: ProbeCommand) -> Result<Code, CliError> {
    match command {
        ProbeCommand::Serve(a) => super::probe_serve::run(a),
        ProbeCommand::UdpEcho(a) => udp_echo_cmd(a),
        ProbeCommand::Ping(a) => ping_cmd(a),
        ProbeCommand::Http(a) => super::probe_http::run(a),
        ProbeCommand::Throughput(a) => throughput_cmd(a),
        ProbeCommand::Dns(a) => super::probe_dns::run(a),
    }
}

pub(super) fn duration(flag: &str, text: &str) -> Result<Duration, CliError> {
    netproof_plan::units::parse_duration(text)
        .map_err(|e| CliError::Usage(format!("--{flag} `{text}`: {e}")))
}

pub(super) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)
}

fn throughput_cmd(args: ProbeThroughputArgs) -> Result<Code, CliError> {
    check_target(args.target, args.allow_external)?;
    let target = std::net::SocketAddr::new(args.target, args.port);
    let rate = args
        .rate
        .as_deref()
        .map(|r| {
            netproof_plan::units::parse_rate(r)
                .map_err(|e| CliError::Usage(format!("--bitrate `{r}`: {e}")))
        })
        .transpose()?;
    let bytes = args
        .bytes
        .as_deref()
        .map(|b| {
            netproof_plan::units::parse_size(b)
                .map_err(|e| CliError::Usage(format!("--bytes `{b}`: {e}")))
        })
        .transpose()?;
    let protocol = if args.udp {
        throughput::Protocol::Udp
    } else {
        throughput::Protocol::Tcp
    };
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id());
    let cfg = throughput::Config {
        streams: args.streams,
        reverse: args.reverse,
        rate,
        length: args.length,
        bytes,
        interval: duration("interval", &args.interval)?,
        seed,
        ..throughput::Config::new(target, protocol, duration("time", &args.duration)?)
    };
    cfg.validate().map_err(|e| CliError::Usage(e.to_string()))?;
    let sink = MemorySink::new();
    let result = runtime()?.block_on(throughput::run(
        &throughput::Direct,
        &cfg,
        &sink,
        &Labels::new(),
    ));
    let samples = sink.contents().samples;
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            if args.json {
                outln!(
                    "{}",
                    serde_json::json!({
                        "target": target.to_string(),
                        "error": e.to_string(),
                        "samples": samples_json(&samples),
                    })
                );
            }
            eprintln!("error: {e}");
            return Ok(Code::Failed);
        }
    };
    let bps = netproof_sample::Unit::BitsPerSecond;
    if args.json {
        let streams: Vec<serde_json::Value> = summary
            .streams
            .iter()
            .map(|s| {
                serde_json::json!({
                    "id": s.id,
                    "sent_bytes": s.sent_bytes,
                    "received_bytes": s.received_bytes,
                    "receiver_seconds": s.receiver_seconds,
                    "goodput_bps": s.goodput(),
                    "retransmits": s.retransmits,
                })
            })
            .collect();
        let udp = summary.udp().map(|u| {
            serde_json::json!({
                "sent_packets": u.sent,
                "lost_packets": u.lost,
                "loss": u.loss(),
                "out_of_order": u.out_of_order,
                "jitter_s": u.jitter,
            })
        });
        outln!(
            "{}",
            serde_json::json!({
                "target": target.to_string(),
                "protocol": summary.protocol.as_str(),
                "reverse": summary.reverse,
                "duration_s": summary.duration.as_secs_f64(),
                "sent_bytes": summary.sent_bytes(),
                "received_bytes": summary.received_bytes(),
                "goodput_bps": summary.goodput(),
                "retransmits": summary.retransmits(),
                "udp": udp,
                "streams": streams,
                "samples": samples_json(&samples),
            })
        );
    } else {
        for s in samples.iter().filter(|s| {
            s.metric == "throughput.goodput" && s.labels.get("stream").is_some_and(|v| v == "all")
        }) {
            if let Some(v) = s.value.as_f64() {
                outln!("  {}", bps.format(v));
            }
        }
        outln!(
            "{target} {}{}: {} received in {} ({}){}",
            summary.protocol.as_str(),
            if summary.reverse { " reverse" } else { "" },
            netproof_sample::Unit::Bytes.format(summary.received_bytes() as f64),
            netproof_sample::Unit::Seconds.format(summary.duration.as_secs_f64()),
            bps.format(summary.goodput()),
            summary
                .retransmits()
                .map_or(String::new(), |r| format!(", {r} retransmits"))
        );
        if let Some(u) = summary.udp() {
            outln!(
                "udp: {} sent, {} lost ({}), {} out of order, jitter {}",
                u.sent,
                u.lost,
                netproof_sample::Unit::Ratio.format(u.loss().unwrap_or(0.0)),
                u.out_of_order,
                netproof_sample::Unit::Seconds.format(u.jitter)
            );
        }
    }
    Ok(Code::Success)
}

pub(super) fn check_target(ip: std::net::IpAddr, allow_external: bool) -> Result<(), CliError> {
    if !allow_external && !netproof_proto::prefix::is_lab_or_loopback(ip) {
        return Err(CliError::Usage(format!(
            "`{ip}` is outside the lab ranges (198.18.0.0/15, 2001:2::/48) and loopback\nhint: probe a lab address, or pass --allow-external for a real lab you control"
        )));
    }
    Ok(())
}

/// One JSON object per sample.
pub(super) fn samples_json(samples: &[netproof_sample::Sample]) -> Vec<serde_json::Value> {
    samples
        .iter()
        .map(|s| {
            serde_json::json!({
                "time_ns": s.time.0,
                "metric": s.metric,
                "value": match &s.value { Value::Num(v) => serde_json::json!(v), Value::Text(t) => serde_json::json!(t), Value::Set(v) => serde_json::json!(v), Value::None => serde_json::Value::Null },
                "unit": s.unit.as_str(),
                "ok": s.ok,
                "labels": s.labels,
            })
        })
        .collect()
}

/// `rtt min .. max` from the numeric values of `metric`.
fn rtt_line(samples: &[netproof_sample::Sample], metric: &str) -> String {
    let rtts: Vec<f64> = samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter_map(|s| s.value.as_f64())
        .collect();
    let s = netproof_sample::Unit::Seconds;
    let pct = |p: f64| {
        netproof_sample::stats::percentile(&rtts, p).map_or("-".to_string(), |v| s.format(v))
    };
    format!(
        "rtt min {} p50 {} p99 {} max {}",
        pct(0.0),
        pct(50.0),
        pct(99.0),
        pct(100.0)
    )
}

fn ping_cmd(args: ProbePingArgs) -> Result<Code, CliError> {
    check_target(args.target, args.allow_external)?;
    let cfg = netproof_probe::ping::Config {
        target: args.target,
        count: args.packets,
        interval: duration("interval", &args.interval)?,
        size: usize::from(args.size),
        timeout: duration("wait", &args.wait)?,
    };
    let socket = netproof_probe::ping::open_socket(args.target.is_ipv6())
        .map_err(|e| CliError::Infra(format!("cannot ping {}: {e}", args.target)))?;
    let sink = MemorySink::new();
    let summary = runtime()?.block_on(async {
        netproof_probe::ping::run(socket, &cfg, &sink, &Labels::new())
            .await
            .map_err(|e| {
                use netproof_probe::ping::PingError as E;
                match e {
                    E::InvalidSize { .. } | E::NoRequests | E::ZeroInterval => {
                        CliError::Usage(e.to_string())
                    }
                    // The socket's family is chosen from the target here, so
                    // a mismatch, like a socket failure, is not the user's.
                    _ => CliError::Infra(e.to_string()),
                }
            })
    })?;
    let contents = sink.contents();
    if args.json {
        outln!(
            "{}",
            serde_json::json!({
                "target": args.target.to_string(),
                "sent": summary.sent,
                "received": summary.received,
                "lost": summary.lost,
                "samples": samples_json(&contents.samples),
            })
        );
    } else {
        outln!(
            "{}: {} sent, {} received, {} lost ({})",
            args.target,
            summary.sent,
            summary.received,
            summary.lost,
            netproof_sample::Unit::Ratio.format(summary.lost as f64 / summary.sent.max(1) as f64)
        );
        outln!("{}", rtt_line(&contents.samples, "ping.rtt"));
    }
    Ok(if summary.lost == 0 {
        Code::Success
    } else {
        Code::Failed
    })
}

fn udp_echo_cmd(args: ProbeUdpEchoArgs) -> Result<Code, CliError> {
    let ip = args.target.ip();
    check_target(ip, args.allow_external)?;
    let cfg = udp_echo::Config {
        target: args.target,
        packets: args.packets,
        interval: duration("interval", &args.interval)?,
        size: usize::from(args.size),
        timeout: duration("wait", &args.wait)?,
        convergence: false,
    };
    let sink = MemorySink::new();
    let summary = runtime()?.block_on(async {
        let bind: std::net::SocketAddr = if ip.is_ipv4() {
            "0.0.0.0:0".parse().expect("literal")
        } else {
            "[::]:0".parse().expect("literal")
        };
        let socket = tokio::net::UdpSocket::bind(bind)
            .await
            .map_err(CliError::Runtime)?;
        udp_echo::run(socket, &cfg, &sink, &Labels::new())
            .await
            .map_err(|e| match e {
                udp_echo::ProbeError::InvalidSize { .. }
                | udp_echo::ProbeError::NoPackets
                | udp_echo::ProbeError::ZeroInterval => CliError::Usage(e.to_string()),
                _ => CliError::Infra(e.to_string()),
            })
    })?;
    let contents = sink.contents();
    let lost = summary.lost;
    if args.json {
        outln!(
            "{}",
            serde_json::json!({
                "target": args.target.to_string(),
                "sent": summary.sent,
                "received": summary.received,
                "lost": summary.lost,
                "duplicates": summary.duplicates,
                "reordered": summary.reordered,
                "jitter_s": summary.jitter.as_secs_f64(),
                "samples": samples_json(&contents.samples),
            })
        );
    } else {
        outln!(
            "{}: {} sent, {} received, {} lost ({}), {} duplicates, {} reordered",
            args.target,
            summary.sent,
            summary.received,
            summary.lost,
            netproof_sample::Unit::Ratio.format(summary.lost as f64 / summary.sent.max(1) as f64),
            summary.duplicates,
            summary.reordered
        );
        outln!(
            "{}, jitter {}",
            rtt_line(&contents.samples, "udp_echo.rtt"),
            netproof_sample::Unit::Seconds.format(summary.jitter.as_secs_f64())
        );
    }
    Ok(if lost == 0 {
        Code::Success
    } else {
        Code::Failed
    })
}
