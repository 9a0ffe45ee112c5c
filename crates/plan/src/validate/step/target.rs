//! What probe steps share: the `from` node and a `to` of the form
//! `NODE:PORT`, `IPv4:PORT` or `[IPv6]:PORT`, each reported at the part
//! that is wrong.

use std::net::{IpAddr, Ipv6Addr};

use crate::diagnostic::Finding;
use crate::model::Target;
use crate::tree::{Checker, Str, Table};
use crate::validate::topology::external_allowed;
use crate::validate::{Context, Names};

const TARGET_HINT: &str = "write `NODE:PORT`, `IPv4:PORT` or `[IPv6]:PORT`, e.g. `server:80`";

/// Parses `NODE:PORT`, `IP:PORT` or `[IPv6]:PORT`, reporting at the part
/// that is wrong.
pub(super) fn target(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    names: &Names,
    s: &Str<'_>,
) -> Option<(Target, u16)> {
    let text = s.value;
    let (host, host_range, port_text, port_start) = if let Some(rest) = text.strip_prefix('[') {
        let Some(close) = rest.find(']') else {
            ck.report(
                Finding::new(s.span, format!("unclosed `[` in `{text}`"), "unclosed `[`")
                    .hint(TARGET_HINT),
            );
            return None;
        };
        let after = &rest[close + 1..];
        let Some(port) = after.strip_prefix(':') else {
            ck.report(
                Finding::new(
                    s.sub(close + 2..text.len()),
                    format!("`{text}` has no port"),
                    "expected `:PORT`",
                )
                .hint(TARGET_HINT),
            );
            return None;
        };
        (&rest[..close], 1..close + 1, port, close + 3)
    } else {
        let Some((host, port)) = text.rsplit_once(':') else {
            ck.report(
                Finding::new(
                    s.span,
                    format!("`to` is `{text}`, which has no port"),
                    "expected `:PORT`",
                )
                .hint(format!("{TARGET_HINT}; `to = \"{text}:80\"`")),
            );
            return None;
        };
        if host.contains(':') {
            ck.report(
                Finding::new(
                    s.span,
                    format!("IPv6 address without brackets in `{text}`"),
                    "ambiguous port",
                )
                .hint(format!(
                    "write IPv6 addresses in brackets: `[{host}]:{port}`"
                )),
            );
            return None;
        }
        (host, 0..host.len(), port, host.len() + 1)
    };
    let port_span = s.sub(port_start..text.len());
    let port = match port_text.parse::<u16>() {
        Ok(p) if p != 0 && port_text.bytes().all(|b| b.is_ascii_digit()) => Some(p),
        _ => {
            ck.report(
                Finding::new(
                    port_span,
                    format!("`{port_text}` is not a port"),
                    "invalid port",
                )
                .hint("a port is a number from 1 to 65535"),
            );
            None
        }
    };
    let host_span = s.sub(host_range);
    let bracketed = text.starts_with('[');
    let target = if bracketed {
        match host.parse::<Ipv6Addr>() {
            Ok(ip) => external_allowed(ck, cx, IpAddr::V6(ip), host_span)
                .then_some(Target::Addr(IpAddr::V6(ip))),
            Err(_) => {
                ck.report(
                    Finding::new(
                        host_span,
                        format!("`{host}` is not an IPv6 address"),
                        "not an address",
                    )
                    .hint(TARGET_HINT),
                );
                None
            }
        }
    } else if let Ok(ip) = host.parse::<IpAddr>() {
        external_allowed(ck, cx, ip, host_span).then_some(Target::Addr(ip))
    } else if !host.is_empty() && host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        ck.report(
            Finding::new(
                host_span,
                format!("`{host}` is not an IPv4 address"),
                "not an address",
            )
            .hint(TARGET_HINT),
        );
        None
    } else {
        names.resolve(ck, host, host_span).map(Target::Node)
    };
    Some((target?, port?))
}

/// `NODE`, an address (IPv6 ones bare too) or either with a port, as
/// `target` reads it; without a port, `default_port`.
pub(super) fn target_with_default(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    names: &Names,
    s: &Str<'_>,
    default_port: u16,
) -> Option<(Target, u16)> {
    match s.value.parse::<IpAddr>() {
        Ok(ip) => external_allowed(ck, cx, ip, s.span).then_some((Target::Addr(ip), default_port)),
        Err(_) if s.value.contains(':') => target(ck, cx, names, s),
        Err(_) => names
            .resolve_str(ck, s)
            .map(|n| (Target::Node(n), default_port)),
    }
}

/// The step's `from` node, required; `does` says what it does in the hint
/// (`"connects"`, `"pings"`).
pub(super) fn from_node(
    ck: &mut Checker<'_>,
    names: &Names,
    t: &Table<'_, '_>,
    does: &str,
) -> Option<String> {
    t.require(
        ck,
        "from",
        &format!("add `from = \"...\"`, the node that {does}"),
    )
    .and_then(|v| v.str(ck))
    .and_then(|s| names.resolve_str(ck, &s))
}
