//! `netproof probe dns`: DNS queries to a server over UDP or TCP, as a
//! client in a subnet when `--subnet` is given, printed dig-style or as
//! JSON.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use netproof_probe::dns::{self, DnsName, QueryReport, Question, RecordType, Transport};
use netproof_probe::http::direct;
use netproof_proto::prefix;
use netproof_sample::{Labels, MemorySink, Timestamp, Unit};

use super::probe::{check_target, samples_json};
use crate::cli::ProbeDnsArgs;
use crate::error::{CliError, Code};

fn usage(e: impl std::fmt::Display) -> CliError {
    CliError::Usage(e.to_string())
}

/// `ADDR`, `ADDR:PORT`, `[IPv6]:PORT`; port 53 unless given.
fn server(text: &str) -> Result<SocketAddr, CliError> {
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Ok(a);
    }
    text.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| {
            usage(format!(
                "`{text}` is not a server address\nhint: write `ADDR`, `ADDR:PORT` or `[IPv6]:PORT`, e.g. `127.0.0.1:5353`"
            ))
        })
}

/// Builds the series from the flags, refusing a server outside loopback
/// and the lab ranges unless `--allow-external`.
fn config(args: &ProbeDnsArgs) -> Result<dns::Config, CliError> {
    let server = server(&args.server)?;
    check_target(server.ip(), args.allow_external)?;
    let question = Question {
        name: DnsName::parse(&args.name).map_err(usage)?,
        rtype: RecordType::parse(&args.rtype).map_err(|e| {
            usage(format!(
                "{e}; write e.g. `A`, `AAAA`, `CNAME`, `TXT`, `NS`, `SOA` or `TYPE65`"
            ))
        })?,
        subnet: args
            .subnet
            .as_deref()
            .map(|s| {
                prefix::parse_network(s).map_err(|e| usage(format!("--subnet: {e}; {}", e.hint())))
            })
            .transpose()?,
        recursion_desired: true,
    };
    let duration = |flag: &str, text: &str| {
        netproof_plan::units::parse_duration(text)
            .map_err(|e| usage(format!("--{flag} `{text}`: {e}")))
    };
    let cfg = dns::Config {
        transport: if args.tcp {
            Transport::Tcp
        } else {
            Transport::Udp
        },
        queries: args.count,
        interval: duration("interval", &args.interval)?,
        timeout: duration("timeout", &args.timeout)?,
        tries: args.tries,
        // Ids need only differ between runs, not be secret.
        seed: Timestamp::now().0 as u64,
        ..dns::Config::new(server, question)
    };
    cfg.validate().map_err(usage)?;
    Ok(cfg)
}

pub(super) fn run(args: ProbeDnsArgs) -> Result<Code, CliError> {
    let cfg = config(&args)?;
    let sink = MemorySink::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let summary = rt.block_on(async {
        let udp = match cfg.transport {
            Transport::Udp => {
                let any = if cfg.server.is_ipv4() {
                    IpAddr::V4(Ipv4Addr::UNSPECIFIED)
                } else {
                    IpAddr::V6(Ipv6Addr::UNSPECIFIED)
                };
                Some(
                    tokio::net::UdpSocket::bind(SocketAddr::new(any, 0))
                        .await
                        .map_err(CliError::Runtime)?,
                )
            }
            Transport::Tcp => None,
        };
        dns::run(&cfg, udp, direct(), &sink, &Labels::new())
            .await
            .map_err(usage)
    })?;
    if args.json {
        let queries: Vec<serde_json::Value> = summary.queries.iter().map(query_json).collect();
        outln!(
            "{}",
            serde_json::json!({
                "server": cfg.server.to_string(),
                "name": cfg.question.name.to_string(),
                "type": cfg.question.rtype.to_string(),
                "subnet": cfg.question.subnet.map(|s| s.to_string()),
                "queries": queries,
                "failed": summary.failed(),
                "samples": samples_json(&sink.contents().samples),
            })
        );
    } else {
        for q in &summary.queries {
            print_query(&cfg, q);
        }
    }
    Ok(if summary.failed() == 0 {
        Code::Success
    } else {
        Code::Failed
    })
}

fn query_json(q: &QueryReport) -> serde_json::Value {
    let r = q.response.as_ref();
    serde_json::json!({
        "id": q.id,
        "ok": q.ok(),
        "transport": q.transport.as_str(),
        "udp_tries": q.udp_tries,
        "tcp_retry": q.tcp_retry,
        "latency_s": q.latency.map(|d| d.as_secs_f64()),
        "rcode": r.map(|r| r.rcode.clone()),
        "flags": r.map(|r| r.flags.text()),
        "scope": r.and_then(|r| r.ecs).map(|e| e.scope),
        "answers": r.map(|r| r.answers.iter().map(|a| serde_json::json!({
            "name": a.name, "type": a.rtype, "ttl": a.ttl, "data": a.data,
        })).collect::<Vec<_>>()),
        "error": q.failure,
    })
}

fn print_query(cfg: &dns::Config, q: &QueryReport) {
    let ecs = cfg
        .question
        .subnet
        .map_or(String::new(), |s| format!(", ECS {s}"));
    let head = format!(
        "{} {} @{} ({}{}{ecs})",
        cfg.question.name,
        cfg.question.rtype,
        cfg.server,
        q.transport.as_str(),
        if q.tcp_retry {
            " after a truncated UDP answer"
        } else {
            ""
        },
    );
    match (&q.response, &q.failure) {
        (Some(r), None) => {
            let scope = r
                .ecs
                .map_or(String::new(), |e| format!(", scope /{}", e.scope));
            let latency = q
                .latency
                .map_or("-".into(), |d| Unit::Seconds.format(d.as_secs_f64()));
            outln!(
                "{head}: {}, flags [{}]{scope}, {} record{} in {latency}",
                r.rcode,
                r.flags.text(),
                r.answers.len(),
                if r.answers.len() == 1 { "" } else { "s" }
            );
            for a in &r.answers {
                outln!("  {}\t{}\t{}\t{}", a.name, a.ttl, a.rtype, a.data);
            }
        }
        (_, Some(why)) => outln!("{head}: failed: {why}"),
        (None, None) => outln!("{head}: no answer"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_default_to_port_53() {
        assert_eq!(
            server("127.0.0.1").unwrap(),
            "127.0.0.1:53".parse().unwrap()
        );
        assert_eq!(server("::1").unwrap(), "[::1]:53".parse().unwrap());
        assert_eq!(server("[::1]:5353").unwrap(), "[::1]:5353".parse().unwrap());
        assert!(server("ns.test").is_err());
    }
}
