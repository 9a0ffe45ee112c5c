//! `kind = "http"` steps: the URL, the connect target, the Host header and
//! the TLS server name (each settable on its own), trust, HTTP/2, a byte
//! range, and the load mode.
//!
//! Every problem is reported at the key (or the part of the URL) that is
//! wrong; nothing is defaulted silently: an `https` step must say how the
//! certificate is judged (`ca` or `insecure`).

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use crate::diagnostic::Finding;
use crate::model::{ByteRange, CaFile, Http, HttpLoad, NodeAction, Target, Url, UrlHost};
use crate::tree::{Checker, Str, Table};
use crate::units::format_duration;

use crate::validate::topology::external_allowed;
use crate::validate::{Context, Names, optional, positive_duration};

use super::target::{from_node, target};

/// The keys an `http` step takes besides the common ones.
pub(super) const KEYS: &[&str] = &[
    "from",
    "url",
    "to",
    "host",
    "sni",
    "ca",
    "insecure",
    "http2",
    "range",
    "verify",
    "requests",
    "connections",
    "rate",
    "duration",
];

/// The `ca` placeholder for the lab CA.
pub(crate) const LAB_CA: &str = "{lab_ca}";

/// One request's limit unless the step's `timeout` is shorter.
pub(super) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

const URL_HINT: &str = "write `http://HOST[:PORT]/PATH` or `https://...`, where HOST is a node, an address (IPv6 in brackets) or, with `to`, any name";

/// The URL, parsed once into the shared type; a problem is reported at the
/// part of the URL that is wrong.
fn parse_url(ck: &mut Checker<'_>, s: &Str<'_>) -> Option<Url> {
    Url::parse(s.value)
        .map_err(|e| {
            ck.report(Finding::new(s.sub(e.at()), e.to_string(), e.label()).hint(URL_HINT));
        })
        .ok()
}

/// A DNS name as a TLS server name or Host can carry it.
fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

pub(super) fn http(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    names: &Names,
    t: &Table<'_, '_>,
    label: &str,
) -> Option<NodeAction> {
    let from = from_node(ck, names, t, "connects");
    let url_val = t.require(
        ck,
        "url",
        "add `url = \"https://server:443/\"`; the host is a node, an address or (with `to`) any name",
    );
    let url_str = url_val.as_ref().and_then(|v| v.text(ck));
    let url = url_str.as_ref().and_then(|s| parse_url(ck, s));

    // Where to connect: `to`, else the URL's host (a node or an address).
    let to = match (t.get("to"), &url, &url_str) {
        (Some(v), _, _) => v.str(ck).and_then(|s| {
            let plain_v6 = s.value.parse::<Ipv6Addr>().is_ok();
            if s.value.contains(':') && !plain_v6 {
                target(ck, cx, names, &s).map(|(t, p)| (t, Some(p)))
            } else {
                match s.value.parse::<IpAddr>() {
                    Ok(ip) => {
                        external_allowed(ck, cx, ip, s.span).then_some((Target::Addr(ip), None))
                    }
                    Err(_) => names.resolve_str(ck, &s).map(|n| (Target::Node(n), None)),
                }
            }
        }),
        (None, Some(u), Some(s)) => {
            let span = s.sub(u.host_at.clone());
            match &u.host {
                UrlHost::Addr(ip) => {
                    external_allowed(ck, cx, *ip, span).then_some((Target::Addr(*ip), None))
                }
                UrlHost::Name(n) if names.names.iter().any(|x| x == n) => {
                    Some((Target::Node(n.clone()), None))
                }
                // Looked up through the node's own resolvers when it runs.
                UrlHost::Name(n) if from.as_deref().is_some_and(|f| names.resolves(f)) => {
                    Some((Target::Name(n.clone()), None))
                }
                UrlHost::Name(n) => {
                    ck.report(
                        Finding::new(span, format!("step `{label}`: `{n}` in the URL is neither a node nor an address"), "unknown host")
                            .hint(format!("to send the name `{n}` to a node, add `to = \"NODE\"` (the node to connect to), or give the step's node a `resolver` to look it up; nodes: {}", crate::spelling::one_of(&names.names))),
                    );
                    None
                }
            }
        }
        _ => None,
    };

    let https = url.as_ref().map(Url::is_https);
    let only_https = |ck: &mut Checker<'_>, key: &str| {
        if let (Some(false), Some(v)) = (https, t.get(key)) {
            ck.report(
                Finding::new(
                    v.key_span(),
                    format!("`{key}` is for https, but the URL is http://"),
                    "not for http",
                )
                .hint(format!("use an https:// URL, or remove `{key}`")),
            );
            return false;
        }
        true
    };
    let mut ok = true;
    for key in ["sni", "ca", "insecure"] {
        ok &= only_https(ck, key);
    }

    let host = t.get("host").map(|v| {
        v.text(ck).and_then(|s| {
            let h = s.value;
            let name = h.rsplit_once(':').map_or(h, |(n, p)| {
                if p.bytes().all(|b| b.is_ascii_digit()) {
                    n
                } else {
                    h
                }
            });
            if is_dns_name(name.trim_start_matches('[').trim_end_matches(']'))
                || name.parse::<IpAddr>().is_ok()
                || (name.starts_with('[')
                    && name
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse::<Ipv6Addr>()
                        .is_ok())
            {
                Some(h.to_string())
            } else {
                v.invalid(
                    ck,
                    format!("`{h}` is not a host name for a Host header"),
                    "invalid host",
                    Some("write a name such as `b.test` or `b.test:8443`".into()),
                );
                None
            }
        })
    });

    // `sni = false` sends none; a string sends that name.
    let sni = t
        .get("sni")
        .map(|v| match v.boolean(&mut Checker::new(ck.text)) {
            Some(false) => Some(None),
            Some(true) => {
                v.invalid(
                    ck,
                    "`sni = true` names no server".into(),
                    "no name",
                    Some(
                        "write the name, `sni = \"a.test\"`, or `sni = false` to send none".into(),
                    ),
                );
                None
            }
            None => v.text(ck).and_then(|s| {
                if is_dns_name(s.value) && s.value.parse::<IpAddr>().is_err() {
                    Some(Some(s.value.to_ascii_lowercase()))
                } else {
                    v.invalid(
                        ck,
                        format!("`{}` is not a DNS name (SNI carries names only)", s.value),
                        "not a name",
                        Some("write a name such as `a.test`, or `sni = false` to send none".into()),
                    );
                    None
                }
            }),
        });

    // Relative to the plan's file, as every file a plan names (a trace,
    // a CA), so a plan runs the same from any directory. Not read now: a
    // setup step may make the lab CA. `{lab_ca}` is the CA the lab makes
    // for its CDN services (checked against the services once they are
    // known, in `validate::plan`).
    let ca = t.get("ca").map(|v| {
        v.text(ck).and_then(|s| {
            if s.value == LAB_CA {
                return Some(CaFile::Lab);
            }
            if s.value.contains('{') {
                v.invalid(
                    ck,
                    format!("`{}` is not a placeholder `ca` knows", s.value),
                    "unknown placeholder",
                    Some(format!("write `ca = \"{LAB_CA}\"` for the lab CA of the plan's CDN services, or a PEM file's path")),
                );
                return None;
            }
            Some(CaFile::Path(cx.plan_dir.join(s.value)))
        })
    });
    let insecure = t.get("insecure").map(|v| v.boolean(ck));
    if let (Some(true), Some(_), Some(i)) = (https, t.get("ca"), t.get("insecure")) {
        ck.report(
            Finding::new(i.key_span(), "`ca` and `insecure` contradict each other".to_string(), "conflicts with `ca`")
                .hint("keep `ca` to verify against the lab CA, or `insecure = true` to accept any certificate"),
        );
        ok = false;
    }
    if let (Some(true), None, None, Some(v)) = (https, t.get("ca"), t.get("insecure"), &url_val) {
        ck.report(
            Finding::new(v.span(), format!("step `{label}` is https but does not say how to judge the certificate"), "no trust")
                .hint("add `ca = \"lab-ca.pem\"` to verify against the lab CA, or `insecure = true` to accept any certificate (it is still recorded)"),
        );
        ok = false;
    }
    let http2 = t.get("http2").map(|v| v.boolean(ck));
    let range = t
        .get("range")
        .map(|v| v.text(ck).and_then(|s| parse_range(ck, &s)));
    let verify = t.get("verify").map(|v| {
        let table = v.table(
            ck,
            "`verify`".to_string(),
            "a table: `verify = { seed = 42 }`, the seed of the catalogue the origin serves",
        )?;
        table.reject_unknown(ck, &["seed"], &|_| None);
        let seed = table
            .require(
                ck,
                "seed",
                "add `seed = 42`: the `seed` of the origin's catalogue, which fixes every file's bytes",
            )?
            .int_in(ck, 0..=i64::MAX, "seed")?;
        Some((u64::try_from(seed).ok()?, v))
    });
    let requests = t.get("requests").map(|v| {
        v.int_in(ck, 1..=1_000_000, "requests")
            .and_then(|n| u32::try_from(n).ok())
    });

    // Load mode.
    let rate = t.get("rate").map(|v| {
        v.int_in(ck, 1..=1_000_000, "requests per second")
            .and_then(|n| u32::try_from(n).ok())
    });
    let connections = t.get("connections").map(|v| {
        v.int_in(ck, 1..=10_000, "connections")
            .and_then(|n| u32::try_from(n).ok())
    });
    let duration = t.get("duration").map(|v| positive_duration(ck, &v));
    if t.get("rate").is_none() {
        for key in ["connections", "duration"] {
            if let Some(v) = t.get(key) {
                ck.report(
                    Finding::new(
                        v.key_span(),
                        format!("`{key}` is for load mode, which `rate` turns on"),
                        "needs `rate`",
                    )
                    .hint("add `rate = 100` (requests per second) for load mode, or remove it"),
                );
                ok = false;
            }
        }
    }
    let load = match optional(rate)? {
        None => None,
        Some(rate) => {
            let duration = optional(duration)?.unwrap_or(Duration::from_secs(10));
            let by_time = (duration.as_secs_f64() * f64::from(rate)).ceil().max(1.0);
            Some((
                HttpLoad {
                    connections: optional(connections)?.unwrap_or(1),
                    rate,
                    duration,
                },
                by_time.min(f64::from(u32::MAX)) as u32,
            ))
        }
    };
    let requests = optional(requests)?;

    // A written `timeout` must leave load mode its duration. Read quietly:
    // a malformed `timeout` is reported by the common checks.
    let timeout = t
        .get("timeout")
        .and_then(|v| v.duration(&mut Checker::new(ck.text)).map(|d| (v, d)));
    if let (Some((l, _)), Some((v, d))) = (&load, &timeout)
        && *d <= l.duration
    {
        ck.report(
            Finding::new(v.key_span(), format!("step `{label}` cannot finish its load within its `timeout`"), "too short")
                .hint(format!(
                    "the load runs for {}; raise `timeout` above it or remove `timeout` (the default is the duration plus {})",
                    format_duration(l.duration),
                    format_duration(REQUEST_TIMEOUT)
                )),
        );
        ok = false;
    }
    let request_timeout = timeout.map_or(REQUEST_TIMEOUT, |(_, d)| d.min(REQUEST_TIMEOUT));

    let (url, (to, to_port)) = (url?, to?);
    let (from, host, sni, ca, insecure, http2, range) = (
        from?,
        optional(host)?,
        optional(sni)?,
        optional(ca)?,
        optional(insecure)?,
        optional(http2)?,
        optional(range)?,
    );
    let verify = match optional(verify)? {
        None => None,
        Some((seed, v)) => {
            if netproof_proto::content::ContentKey::for_path(seed, &url.path).is_none() {
                ck.report(
                    Finding::new(
                        v.key_span(),
                        format!(
                            "`verify` checks files of the reference CDN's catalogue, and `{}` is not one",
                            url.path
                        ),
                        "not a catalogue path",
                    )
                    .hint("catalogue paths are `/t/TITLE/FILE`, e.g. `/t/7/1500k/0003.m4s`; remove `verify` for other content"),
                );
                return None;
            }
            Some(seed)
        }
    };
    if !ok {
        return None;
    }
    let sni = match (sni, &url.host) {
        (Some(s), _) => s,
        (None, UrlHost::Name(n)) => Some(n.clone()),
        (None, UrlHost::Addr(_)) => None,
    };
    let requests = match &load {
        Some((_, by_time)) => requests.map_or(*by_time, |r| r.min(*by_time)),
        None => requests.unwrap_or(1),
    };
    let https = url.is_https();
    Some(NodeAction::Http(Http {
        from,
        to,
        port: to_port.unwrap_or(url.port),
        host: host.unwrap_or_else(|| url.authority()),
        sni: if https { sni } else { None },
        ca: if https { ca } else { None },
        url,
        insecure: insecure.unwrap_or(false),
        http2: http2.unwrap_or(false),
        range,
        verify,
        requests,
        request_timeout,
        load: load.map(|(l, _)| l),
    }))
}

/// The step's default `timeout`: every request's limit one after another,
/// or the load's duration plus one request's limit.
pub(super) fn default_timeout(h: &Http) -> Duration {
    let slack = Duration::from_secs(1);
    match &h.load {
        Some(l) => l.duration + REQUEST_TIMEOUT + slack,
        None => REQUEST_TIMEOUT.saturating_mul(h.requests) + slack,
    }
}

/// `A-B` or `A-`, inclusive offsets.
fn parse_range(ck: &mut Checker<'_>, s: &Str<'_>) -> Option<ByteRange> {
    ByteRange::parse(s.value)
        .map_err(|e| {
            let (msg, label) = if e.is_backwards() {
                (format!("the range `{}` ends before it starts", s.value), "empty range")
            } else {
                (format!("`{}` is not a byte range", s.value), "invalid range")
            };
            ck.report(Finding::new(s.span, msg, label).hint(
                "write `FIRST-LAST` (inclusive offsets, LAST >= FIRST) or `FIRST-`, e.g. `range = \"0-1023\"`",
            ));
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::model::{Action, NodeAction};
    use crate::{Options, parse};

    fn http(step: &str) -> Result<crate::model::Http, String> {
        let text = format!(
            "[plan]\nname = \"h\"\nsummary = \"http steps\"\n\n[[node]]\nname = \"c\"\n[[node]]\nname = \"edge\"\n\n[[link]]\nends = [\"c\", \"edge\"]\n\n[[case]]\nid = \"H-01\"\ntitle = \"h\"\nsteps = [ {step} ]\n"
        );
        let p = parse(Path::new("p.toml"), &text, &Options::default())
            .map_err(|e| e.render(false, 200))?;
        match &p.cases[0].steps[0].action {
            Action::Node(NodeAction::Http(h)) => Ok(h.clone()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn verify_names_the_catalogue_seed_of_a_catalogue_path() {
        let h = http(
            r#"{ kind = "http", from = "c", url = "http://edge/t/7/1500k/0003.m4s", verify = { seed = 42 } }"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.verify, Some(42));
        let h = http(r#"{ kind = "http", from = "c", url = "http://edge/t/7/a" }"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.verify, None);
    }

    #[test]
    fn verify_on_another_path_or_without_a_seed_is_an_error() {
        let cases = [
            (
                r#"{ kind = "http", from = "c", url = "http://edge/index.html", verify = { seed = 1 } }"#,
                "`/index.html` is not one",
            ),
            (
                r#"{ kind = "http", from = "c", url = "http://edge/t/7/a", verify = {} }"#,
                "`seed`",
            ),
            (
                r#"{ kind = "http", from = "c", url = "http://edge/t/7/a", verify = { seed = 1, bytes = 3 } }"#,
                "unknown key `bytes`",
            ),
            (
                r#"{ kind = "http", from = "c", url = "http://edge/t/7/a", verify = true }"#,
                "`verify`",
            ),
        ];
        for (step, want) in cases {
            let e = http(step).expect_err(step);
            assert!(e.contains(want), "{step}:\n{e}");
        }
    }
}
