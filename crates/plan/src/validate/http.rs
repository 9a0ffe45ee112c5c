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
use crate::model::{Action, Http, HttpLoad, Target};
use crate::tree::{Checker, Str, Table};
use crate::units::format_duration;

use super::topology::external_allowed;
use super::{Context, Names, optional, positive_duration};

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
    "requests",
    "connections",
    "rate",
    "duration",
];

/// One request's limit unless the step's `timeout` is shorter.
pub(super) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The parts of a URL the step needs, with byte ranges into its text.
struct UrlParts<'s> {
    https: bool,
    host: &'s str,
    host_range: std::ops::Range<usize>,
    bracketed: bool,
    port: u16,
    explicit_port: bool,
    path: String,
}

const URL_HINT: &str = "write `http://HOST[:PORT]/PATH` or `https://...`, where HOST is a node, an address (IPv6 in brackets) or, with `to`, any name";

fn parse_url<'s>(ck: &mut Checker<'_>, s: &Str<'s>) -> Option<UrlParts<'s>> {
    let text = s.value;
    let (https, start) = if text.starts_with("https://") {
        (true, 8)
    } else if text.starts_with("http://") {
        (false, 7)
    } else {
        ck.report(
            Finding::new(
                s.span,
                format!("`{text}` is not an http:// or https:// URL"),
                "expected a URL",
            )
            .hint(URL_HINT),
        );
        return None;
    };
    let rest = &text[start..];
    let end = rest.find(['/', '?']).map_or(text.len(), |i| start + i);
    let authority = &text[start..end];
    let bad = |ck: &mut Checker<'_>, range: std::ops::Range<usize>, msg: String, label: &str| {
        ck.report(Finding::new(s.sub(range), msg, label).hint(URL_HINT));
    };
    let (host, host_range, bracketed, port_text) = if let Some(inner) = authority.strip_prefix('[')
    {
        let Some(close) = inner.find(']') else {
            bad(
                ck,
                start..end,
                format!("unclosed `[` in `{text}`"),
                "unclosed `[`",
            );
            return None;
        };
        let after = &inner[close + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some((p, start + close + 3)),
            None if after.is_empty() => None,
            None => {
                bad(
                    ck,
                    start..end,
                    format!("`{authority}` has text after `]` that is not `:PORT`"),
                    "expected `:PORT`",
                );
                return None;
            }
        };
        (&inner[..close], start + 1..start + 1 + close, true, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (
                h,
                start..start + h.len(),
                false,
                Some((p, start + h.len() + 1)),
            ),
            None => (authority, start..end, false, None),
        }
    };
    if host.is_empty() || host.contains('@') || (!bracketed && host.contains(':')) {
        bad(
            ck,
            start..end.max(start + 1).min(text.len()),
            format!("`{text}` has no usable host"),
            "bad host",
        );
        return None;
    }
    let port = match port_text {
        None => None,
        Some((p, at)) => match p.parse::<u16>() {
            Ok(n) if n != 0 && p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
            _ => {
                bad(ck, at..end, format!("`{p}` is not a port"), "invalid port");
                return None;
            }
        },
    };
    let path = &text[end..];
    if path.bytes().any(|b| b <= b' ' || b == b'#' || b == 0x7f) {
        bad(
            ck,
            end..text.len(),
            format!("the path `{path}` has a space, a control character or a fragment"),
            "invalid path",
        );
        return None;
    }
    let path = match path {
        "" => "/".to_string(),
        p if p.starts_with('?') => format!("/{p}"),
        p => p.to_string(),
    };
    Some(UrlParts {
        https,
        host,
        host_range,
        bracketed,
        port: port.unwrap_or(if https { 443 } else { 80 }),
        explicit_port: port.is_some(),
        path,
    })
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
) -> Option<Action> {
    let from = super::step::from_node(ck, names, t, "connects");
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
                super::step::target(ck, cx, names, &s).map(|(t, p)| (t, Some(p)))
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
            let span = s.sub(u.host_range.clone());
            match u.host.parse::<IpAddr>() {
                Ok(ip) if u.bracketed == ip.is_ipv6() => {
                    external_allowed(ck, cx, ip, span).then_some((Target::Addr(ip), None))
                }
                _ if u.bracketed => {
                    ck.report(
                        Finding::new(
                            span,
                            format!("`{}` is not an IPv6 address", u.host),
                            "not an address",
                        )
                        .hint(URL_HINT),
                    );
                    None
                }
                _ if names.names.iter().any(|n| n == u.host) => {
                    Some((Target::Node(u.host.to_string()), None))
                }
                _ => {
                    ck.report(
                        Finding::new(span, format!("step `{label}`: `{}` in the URL is neither a node nor an address", u.host), "unknown host")
                            .hint(format!("to send the name `{}` to a node, add `to = \"NODE\"` (the node to connect to); nodes: {}", u.host, crate::spelling::one_of(&names.names))),
                    );
                    None
                }
            }
        }
        _ => None,
    };

    let https = url.as_ref().map(|u| u.https);
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
    // setup step may make the lab CA.
    let ca = t
        .get("ca")
        .map(|v| v.text(ck).map(|s| cx.plan_dir.join(s.value)));
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

    let (url, url_str, (to, to_port)) = (url?, url_str?, to?);
    let (from, host, sni, ca, insecure, http2, range) = (
        from?,
        optional(host)?,
        optional(sni)?,
        optional(ca)?,
        optional(insecure)?,
        optional(http2)?,
        optional(range)?,
    );
    if !ok {
        return None;
    }
    let authority = if url.explicit_port && url.port != if url.https { 443 } else { 80 } {
        if url.bracketed {
            format!("[{}]:{}", url.host, url.port)
        } else {
            format!("{}:{}", url.host, url.port)
        }
    } else if url.bracketed {
        format!("[{}]", url.host)
    } else {
        url.host.to_string()
    };
    let url_host_is_name = url.host.parse::<IpAddr>().is_err();
    let sni = match sni {
        Some(s) => s,
        None if url_host_is_name => Some(url.host.to_ascii_lowercase()),
        None => None,
    };
    let requests = match &load {
        Some((_, by_time)) => requests.map_or(*by_time, |r| r.min(*by_time)),
        None => requests.unwrap_or(1),
    };
    Some(Action::Http(Http {
        from,
        url: url_str.value.to_string(),
        https: url.https,
        to,
        port: to_port.unwrap_or(url.port),
        path: url.path,
        host: host.unwrap_or(authority),
        sni: if url.https { sni } else { None },
        ca: if url.https { ca } else { None },
        insecure: insecure.unwrap_or(false),
        http2: http2.unwrap_or(false),
        range,
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
fn parse_range(ck: &mut Checker<'_>, s: &Str<'_>) -> Option<(u64, Option<u64>)> {
    let num = |t: &str| -> Option<u64> {
        (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse().ok())
            .flatten()
    };
    let parsed = s.value.split_once('-').and_then(|(a, b)| {
        let first = num(a)?;
        let last = match b {
            "" => None,
            b => Some(num(b)?),
        };
        Some((first, last))
    });
    match parsed {
        Some((first, Some(last))) if last < first => {
            ck.report(
                Finding::new(
                    s.span,
                    format!("the range `{}` ends before it starts", s.value),
                    "empty range",
                )
                .hint("write `FIRST-LAST` with LAST >= FIRST, e.g. `0-1023`"),
            );
            None
        }
        Some(r) => Some(r),
        None => {
            ck.report(
                Finding::new(
                    s.span,
                    format!("`{}` is not a byte range", s.value),
                    "invalid range",
                )
                .hint(
                    "write `FIRST-LAST` (inclusive offsets) or `FIRST-`, e.g. `range = \"0-1023\"`",
                ),
            );
            None
        }
    }
}
