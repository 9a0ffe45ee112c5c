//! What the steps that fetch over HTTP as a user would (`rpm`, `abr`)
//! share: a URL whose host is a node or an address (where to connect),
//! a `host` that names the site (the Host header and the TLS server
//! name), and how an https certificate is judged (`ca` or `insecure`,
//! one of them required, never a silent default).

use std::net::IpAddr;

use crate::diagnostic::Finding;
use crate::model::{CaFile, Target, Url, UrlHost};
use crate::tree::{Checker, Str, Table, Val};
use crate::validate::topology::external_allowed;
use crate::validate::{Context, Names, optional};

use super::http::LAB_CA;

const URL_HINT: &str = "write `http://NODE[:PORT]/PATH` or `https://...`, where NODE is a node or an address (IPv6 in brackets); name the site with `host`";

/// A URL and where it connects: its host must be a node or an address.
pub(super) fn node_url(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    names: &Names,
    s: &Str<'_>,
) -> Option<(Url, Target)> {
    let url = Url::parse(s.value)
        .map_err(|e| {
            ck.report(Finding::new(s.sub(e.at()), e.to_string(), e.label()).hint(URL_HINT));
        })
        .ok()?;
    let span = s.sub(url.host_at.clone());
    let to = match &url.host {
        UrlHost::Addr(ip) => external_allowed(ck, cx, *ip, span).then_some(Target::Addr(*ip))?,
        UrlHost::Name(n) => Target::Node(names.resolve(ck, n, span)?),
    };
    Some((url, to))
}

/// `host`: a DNS name (with an optional port) for the Host header and
/// SNI.
pub(super) fn host(ck: &mut Checker<'_>, v: &Val<'_, '_>) -> Option<String> {
    let s = v.text(ck)?;
    let name = s.value.rsplit_once(':').map_or(s.value, |(n, _)| n);
    let ok = !name.is_empty()
        && name.parse::<IpAddr>().is_err()
        && name
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if !ok {
        v.invalid(
            ck,
            format!(
                "`{}` is not a site name for the Host header and SNI",
                s.value
            ),
            "invalid host",
            Some("write a DNS name such as `video.cdn.test`".into()),
        );
        return None;
    }
    Some(s.value.to_ascii_lowercase())
}

/// `ca` and `insecure`: exactly one for https, neither for http. `at` is
/// the span an https URL without either is reported at.
pub(super) fn trust(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    t: &Table<'_, '_>,
    https: bool,
    label: &str,
    at: crate::model::Span,
) -> Option<(Option<CaFile>, bool)> {
    if !https {
        for key in ["ca", "insecure"] {
            if let Some(v) = t.get(key) {
                ck.report(
                    Finding::new(
                        v.key_span(),
                        format!("`{key}` is for https, but the URLs are http://"),
                        "not for http",
                    )
                    .hint(format!("use https:// URLs, or remove `{key}`")),
                );
                return None;
            }
        }
        return Some((None, false));
    }
    let ca = t.get("ca").map(|v| {
        let s = v.text(ck)?;
        if s.value == LAB_CA {
            return Some(CaFile::Lab);
        }
        if s.value.contains('{') {
            v.invalid(
                ck,
                format!("`{}` is not a placeholder `ca` knows", s.value),
                "unknown placeholder",
                Some(format!(
                    "write `ca = \"{LAB_CA}\"` for the lab CA, or a PEM file's path"
                )),
            );
            return None;
        }
        Some(CaFile::Path(cx.plan_dir.join(s.value)))
    });
    let insecure = t.get("insecure").map(|v| v.boolean(ck));
    match (t.get("ca"), t.get("insecure")) {
        (Some(_), Some(i)) => {
            ck.report(
                Finding::new(
                    i.key_span(),
                    "`ca` and `insecure` contradict each other".to_string(),
                    "conflicts with `ca`",
                )
                .hint("keep `ca` to verify the certificate, or `insecure = true` to accept any"),
            );
            None
        }
        (None, None) => {
            ck.report(
                Finding::new(at, format!("step `{label}` is https but does not say how to judge the certificate"), "no trust")
                    .hint("add `ca = \"{lab_ca}\"` (the lab's CA) or a PEM file's path, or `insecure = true` to accept any certificate"),
            );
            None
        }
        _ => Some((optional(ca)?, optional(insecure)?.unwrap_or(false))),
    }
}
