//! `netproof probe http`: one or more timed HTTP(S) requests, or a load,
//! with the connect address, Host header and SNI set independently.

use std::time::Duration;

use netproof_probe::http::{
    ByteRange, Client, Config, Endpoint, Host, LoadConfig, RequestReport, Scheme, Sni, Trust, Url,
    direct,
};
use netproof_sample::{Labels, MemorySink, Unit};

use super::probe::{check_target, samples_json};
use crate::cli::ProbeHttpArgs;
use crate::error::{CliError, Code};

fn usage(e: impl std::fmt::Display) -> CliError {
    CliError::Usage(e.to_string())
}

/// Builds the probe's configuration from the flags, refusing targets
/// outside loopback and the lab ranges unless `--allow-external`.
fn config(args: &ProbeHttpArgs) -> Result<Config, CliError> {
    let url = Url::parse(&args.url).map_err(usage)?;
    match (&args.connect_to, &url.host) {
        (Some(a), _) => check_target(a.ip(), args.allow_external)?,
        (None, Host::Addr(ip)) => check_target(*ip, args.allow_external)?,
        // A name is checked once resolved, by `address_allowed`.
        (None, Host::Name(_)) => {}
    }
    let https = url.scheme == Scheme::Https;
    let trust = match (&args.cacert, args.insecure) {
        (Some(p), _) => Trust::CaFile(p.clone()),
        (None, true) => Trust::Insecure,
        (None, false) if https => {
            return Err(CliError::Usage(
                "an https probe needs a way to judge the certificate\nhint: pass --cacert FILE (the lab CA) or --insecure (any certificate; it is still shown)".into(),
            ));
        }
        (None, false) => Trust::Insecure,
    };
    if !https && (args.sni.is_some() || args.no_sni || args.cacert.is_some()) {
        return Err(CliError::Usage(
            "--sni, --no-sni and --cacert are for https URLs".into(),
        ));
    }
    let timeout = netproof_plan::units::parse_duration(&args.timeout)
        .map_err(|e| usage(format!("--timeout `{}`: {e}", args.timeout)))?;
    Ok(Config {
        connect: args.connect_to.map(Endpoint::Addr),
        host: args.host.clone(),
        sni: match (&args.sni, args.no_sni) {
            (Some(n), _) => Sni::Name(n.clone()),
            (None, true) => Sni::Off,
            (None, false) => Sni::FromUrl,
        },
        trust,
        http2: args.http2,
        range: args
            .range
            .as_deref()
            .map(ByteRange::parse)
            .transpose()
            .map_err(usage)?,
        requests: args.requests.unwrap_or(1),
        timeout,
        address_allowed: if args.allow_external {
            |_| true
        } else {
            netproof_proto::prefix::is_lab_or_loopback
        },
        ..Config::new(url)
    })
}

pub(super) fn run(args: ProbeHttpArgs) -> Result<Code, CliError> {
    let cfg = config(&args)?;
    // The URL was parsed once, into the config.
    let path = cfg.url.path.clone();
    let mut client = Client::new(cfg, direct()).map_err(usage)?;
    if let Some(seed) = args.verify {
        let key = netproof_proto::content::ContentKey::for_path(seed, &path)
            .ok_or_else(|| {
                usage(
                    "--verify checks files of the reference CDN's catalogue, whose paths are `/t/TITLE/FILE` (e.g. `/t/7/1500k/0003.m4s`)",
                )
            })?;
        client =
            client.with_body_check(std::sync::Arc::new(
                move |offset: u64, chunk: &[u8]| match key.first_mismatch(offset, chunk) {
                    None => Ok(()),
                    Some(at) => Err(format!(
                        "byte {at} of the body is not the catalogue's (seed {seed})"
                    )),
                },
            ));
    }
    let sink = MemorySink::new();
    // One thread unless asked for more: a single-threaded runtime answers
    // each socket's readiness with no hand-over between threads, which is
    // most of a load generator's cost per request.
    let rt = if args.rate.is_some() && args.threads > 1 {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads as usize)
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
    .map_err(CliError::Runtime)?;
    if let Some(rate) = args.rate {
        let duration = netproof_plan::units::parse_duration(&args.duration)
            .map_err(|e| usage(format!("--for `{}`: {e}", args.duration)))?;
        let load = LoadConfig {
            connections: args.connections,
            rate: f64::from(rate),
            requests: args.requests.map_or(u64::MAX, u64::from),
            duration,
        };
        let s = rt
            .block_on(client.load(&load, &sink, &Labels::new()))
            .map_err(usage)?;
        if args.json {
            let q = s.latency.map(|q| {
                serde_json::json!({
                    "p50_s": q.p50.as_secs_f64(), "p90_s": q.p90.as_secs_f64(),
                    "p99_s": q.p99.as_secs_f64(), "p999_s": q.p999.as_secs_f64(),
                    "max_s": q.max.as_secs_f64(),
                })
            });
            outln!(
                "{}",
                serde_json::json!({
                    "url": args.url, "sent": s.sent, "ok": s.ok, "failed": s.failed,
                    "elapsed_s": s.elapsed.as_secs_f64(), "achieved_rate": s.achieved_rate,
                    "latency": q, "first_failure": s.first_failure,
                    "samples": samples_json(&sink.contents().samples),
                })
            );
        } else {
            let t = |d: Duration| Unit::Seconds.format(d.as_secs_f64());
            outln!(
                "{}: {} sent at {rate}/s over {} connections, {} ok, {} failed in {} ({:.1} ok/s)",
                args.url,
                s.sent,
                args.connections,
                s.ok,
                s.failed,
                t(s.elapsed),
                s.achieved_rate
            );
            if let Some(q) = s.latency {
                outln!(
                    "latency from the scheduled start: p50 {} p90 {} p99 {} p99.9 {} max {}",
                    t(q.p50),
                    t(q.p90),
                    t(q.p99),
                    t(q.p999),
                    t(q.max)
                );
            }
            if let Some(f) = &s.first_failure {
                outln!("first failure: {f}");
            }
        }
        return Ok(if s.failed == 0 {
            Code::Success
        } else {
            Code::Failed
        });
    }
    let summary = rt.block_on(client.run(&sink, &Labels::new()));
    let cfg = client.config();
    if args.json {
        outln!(
            "{}",
            serde_json::json!({
                "url": args.url,
                "host": cfg.host_header(),
                "sni": cfg.sni_name(),
                "requests": summary.requests.len(),
                "failed": summary.failed(),
                "samples": samples_json(&sink.contents().samples),
            })
        );
    } else {
        for r in &summary.requests {
            print_request(&args.url, cfg, r);
        }
    }
    let bad_status = summary
        .requests
        .iter()
        .any(|r| r.status.is_some_and(|s| s >= 400));
    Ok(if summary.failed() == 0 && !bad_status {
        Code::Success
    } else {
        Code::Failed
    })
}

fn print_request(url: &str, cfg: &Config, r: &RequestReport) {
    let t = |d: Option<Duration>| d.map(|d| Unit::Seconds.format(d.as_secs_f64()));
    let via = r.addr.map_or("?".to_string(), |a| a.to_string());
    let sni = if cfg.url.scheme == Scheme::Https {
        format!(", SNI {}", cfg.sni_name().unwrap_or_else(|| "none".into()))
    } else {
        String::new()
    };
    let head = match (r.status, r.proto) {
        (Some(s), Some(p)) => format!("{s} over {}, {} B", p.as_str(), r.bytes),
        _ => "no response".to_string(),
    };
    outln!(
        "GET {url} via {via} (Host {}{sni}): {head}",
        cfg.host_header()
    );
    let mut phases = Vec::new();
    for (name, d) in [
        ("dns", r.dns),
        ("connect", r.connect),
        ("tls", r.tls),
        ("ttfb", r.ttfb),
        ("transfer", r.transfer),
        ("total", r.total),
    ] {
        if let Some(v) = t(d) {
            phases.push(format!("{name} {v}"));
        }
    }
    if let Some(g) = r.goodput().filter(|_| r.ok()) {
        phases.push(format!("goodput {}", Unit::BitsPerSecond.format(g)));
    }
    if !phases.is_empty() {
        outln!("  {}", phases.join("  "));
    }
    if let Some(c) = &r.cert {
        outln!(
            "  certificate {}, issued by {}, names {}, valid until {}",
            c.subject,
            c.issuer,
            c.names.join(", "),
            c.not_after_text
        );
    }
    if let Some(f) = &r.failure {
        outln!("  failed in {}: {}", f.phase.as_str(), f.reason);
    }
}
