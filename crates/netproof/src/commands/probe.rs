//! `netproof probe`: probes at a shell, and netproof's own responders.

use std::time::Duration;

use netproof_probe::udp_echo;
use netproof_sample::{Labels, MemorySink, Value};

use crate::cli::{ProbeCommand, ProbePingArgs, ProbeServeArgs, ProbeUdpEchoArgs};
use crate::error::{CliError, Code};

pub fn run(command: ProbeCommand) -> Result<Code, CliError> {
    match command {
        ProbeCommand::Serve(a) => serve(a),
        ProbeCommand::UdpEcho(a) => udp_echo_cmd(a),
        ProbeCommand::Ping(a) => ping_cmd(a),
    }
}

fn duration(flag: &str, text: &str) -> Result<Duration, CliError> {
    netproof_plan::units::parse_duration(text)
        .map_err(|e| CliError::Usage(format!("--{flag} `{text}`: {e}")))
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)
}

fn serve(args: ProbeServeArgs) -> Result<Code, CliError> {
    let limit = args
        .duration
        .as_deref()
        .map(|d| duration("for", d))
        .transpose()?;
    runtime()?.block_on(async {
        let socket = tokio::net::UdpSocket::bind(args.udp).await.map_err(|e| {
            CliError::Usage(format!(
                "cannot answer UDP echo on {}: {e}\nhint: is the address this host's, and the port free?",
                args.udp
            ))
        })?;
        eprintln!("answering UDP echo on {}", args.udp);
        let cancel = netproof_run::Cancel::new();
        netproof_run::signals::install(cancel.clone()).map_err(CliError::Runtime)?;
        let stop = async {
            match limit {
                Some(d) => {
                    tokio::select! {
                        _ = tokio::time::sleep(d) => {}
                        _ = cancel.cancelled() => {}
                    }
                }
                None => cancel.cancelled().await,
            }
        };
        let stats = udp_echo::serve(socket, stop)
            .await
            .map_err(CliError::Runtime)?;
        eprintln!(
            "answered {} requests, ignored {} malformed datagrams",
            stats.replied, stats.malformed
        );
        Ok(Code::Success)
    })
}

fn check_target(ip: std::net::IpAddr, allow_external: bool) -> Result<(), CliError> {
    if !allow_external && !netproof_plan::address::is_lab_or_loopback(ip) {
        return Err(CliError::Usage(format!(
            "`{ip}` is outside the lab ranges (198.18.0.0/15, 2001:2::/48) and loopback\nhint: probe a lab address, or pass --allow-external for a real lab you control"
        )));
    }
    Ok(())
}

/// One JSON object per sample.
fn samples_json(samples: &[netproof_sample::Sample]) -> Vec<serde_json::Value> {
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
        .map_err(|e| CliError::Usage(format!("cannot ping {}: {e}", args.target)))?;
    let sink = MemorySink::new();
    let summary = runtime()?.block_on(async {
        netproof_probe::ping::run(socket, &cfg, &sink, &Labels::new())
            .await
            .map_err(|e| CliError::Usage(e.to_string()))
    })?;
    let contents = sink.contents();
    if args.json {
        println!(
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
        println!(
            "{}: {} sent, {} received, {} lost ({})",
            args.target,
            summary.sent,
            summary.received,
            summary.lost,
            netproof_sample::Unit::Ratio.format(summary.lost as f64 / summary.sent.max(1) as f64)
        );
        println!("{}", rtt_line(&contents.samples, "ping.rtt"));
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
            .map_err(|e| CliError::Usage(e.to_string()))
    })?;
    let contents = sink.contents();
    let lost = summary.lost;
    if args.json {
        println!(
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
        println!(
            "{}: {} sent, {} received, {} lost ({}), {} duplicates, {} reordered",
            args.target,
            summary.sent,
            summary.received,
            summary.lost,
            netproof_sample::Unit::Ratio.format(summary.lost as f64 / summary.sent.max(1) as f64),
            summary.duplicates,
            summary.reordered
        );
        println!(
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
