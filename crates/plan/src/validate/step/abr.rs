//! `kind = "abr"`: a streaming client that plays a title like a video
//! player from a ranked list of servers: what it plays (the reference
//! CDN's catalogue layout, a manifest on the server, or renditions listed
//! in the plan: exactly one), how it adapts, its buffer, and CMCD.

use std::time::Duration;

use crate::diagnostic::Finding;
use crate::model::{Abr, AbrAlgorithm, AbrCmcd, AbrContent, AbrServer, NodeAction};
use crate::spelling;
use crate::tree::{Checker, Table};
use crate::validate::{Context, Names, optional, positive_duration};

use super::http::REQUEST_TIMEOUT;
use super::target::from_node;
use super::web::{host, node_url, trust};

/// The keys an `abr` step adds to the common ones.
pub(super) const KEYS: &[&str] = &[
    "from",
    "urls",
    "host",
    "ca",
    "insecure",
    "http2",
    "title",
    "bitrates",
    "segments",
    "segment",
    "manifest",
    "renditions",
    "algorithm",
    "buffer",
    "startup",
    "cmcd",
    "verify",
];

const CONTENT_HINT: &str = "give exactly one of `title` (with `bitrates` and `segments`: the reference CDN's catalogue), `manifest` (a JSON manifest's path on the servers) or `renditions` (listed here)";

/// Room beyond the media's length for a session that stalls.
const SLACK: Duration = Duration::from_secs(30);
/// A session whose length is known only from its manifest.
const MANIFEST_TIMEOUT: Duration = Duration::from_secs(300);

pub(super) fn abr(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    names: &Names,
    t: &Table<'_, '_>,
    label: &str,
) -> Option<NodeAction> {
    let from = from_node(ck, names, t, "plays");
    let urls_val = t.require(
        ck,
        "urls",
        "add `urls = [\"https://edge-a:8443/\", \"https://edge-b:8443/\"]`: the servers, best first",
    );
    let servers = urls_val.as_ref().and_then(|v| {
        let list = v.strings(ck)?;
        if list.is_empty() {
            v.invalid(
                ck,
                "`urls` is empty".into(),
                "no server",
                Some("list at least one server".into()),
            );
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for s in &list {
            match node_url(ck, cx, names, s) {
                Some((url, to)) => out.push(AbrServer { url, to }),
                None => ok = false,
            }
        }
        if ok && out.iter().any(|s| s.url.scheme != out[0].url.scheme) {
            v.invalid(
                ck,
                "`urls` mix http and https".into(),
                "mixed schemes",
                Some("use one scheme for every server".into()),
            );
            return None;
        }
        ok.then_some(out)
    });
    let host = t.get("host").map(|v| host(ck, &v));
    let http2 = t.get("http2").map(|v| v.boolean(ck));
    let content = content(ck, t);
    let algorithm = t.get("algorithm").map(|v| {
        let s = v.str(ck)?;
        match s.value {
            "throughput" => Some(AbrAlgorithm::Throughput),
            "bba" => Some(AbrAlgorithm::Bba),
            other => {
                v.invalid(
                    ck,
                    format!("unknown algorithm `{other}`"),
                    "unknown algorithm",
                    Some(format!(
                        "write {}",
                        spelling::one_of(&["throughput", "bba"])
                    )),
                );
                None
            }
        }
    });
    let cmcd = t.get("cmcd").map(|v| {
        let s = v.str(ck)?;
        match s.value {
            "query" => Some(AbrCmcd::Query),
            "headers" => Some(AbrCmcd::Headers),
            "off" => Some(AbrCmcd::Off),
            other => {
                v.invalid(
                    ck,
                    format!("unknown CMCD mode `{other}`"),
                    "unknown mode",
                    Some(format!(
                        "write {}",
                        spelling::one_of(&["query", "headers", "off"])
                    )),
                );
                None
            }
        }
    });
    let buffer = t.get("buffer").map(|v| positive_duration(ck, &v));
    let startup = t.get("startup").map(|v| positive_duration(ck, &v));
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
                "add `seed = 42`: the `seed` of the origin's catalogue",
            )?
            .int_in(ck, 0..=i64::MAX, "seed")?;
        Some((u64::try_from(seed).ok()?, v))
    });

    let servers = servers?;
    let https = servers[0].url.is_https();
    let (ca, insecure) = trust(ck, cx, t, https, label, urls_val?.span())?;
    let content = content?;
    let verify = match optional(verify)? {
        Some((seed, v)) => {
            if !matches!(content, AbrContent::Catalogue { .. }) {
                ck.report(
                    Finding::new(v.key_span(), "`verify` checks the reference CDN's catalogue, which only `title` plays".to_string(), "not a catalogue")
                        .hint("remove `verify`, or play a catalogue title with `title`, `bitrates` and `segments`"),
                );
                return None;
            }
            Some(seed)
        }
        None => None,
    };
    let buffer = optional(buffer)?.unwrap_or(Duration::from_secs(30));
    let segment = match &content {
        AbrContent::Catalogue { segment, .. } | AbrContent::List { segment, .. } => Some(*segment),
        AbrContent::Manifest { .. } => None,
    };
    if let (Some(seg), Some(v)) = (segment, t.get("buffer"))
        && buffer < seg * 2
    {
        v.invalid(
            ck,
            format!("a buffer of {} cannot hold two segments", crate::units::format_duration(buffer)),
            "too small",
            Some("a player needs room for the segment it plays and the one it fetches; raise `buffer`".into()),
        );
        return None;
    }
    let timeout = t
        .get("timeout")
        .and_then(|v| v.duration(&mut Checker::new(ck.text)));
    Some(NodeAction::Abr(Abr {
        from: from?,
        servers,
        host: optional(host)?,
        ca,
        insecure,
        http2: optional(http2)?.unwrap_or(false),
        content,
        algorithm: optional(algorithm)?.unwrap_or(AbrAlgorithm::Throughput),
        buffer,
        startup: optional(startup)?,
        cmcd: optional(cmcd)?.unwrap_or(AbrCmcd::Query),
        verify,
        request_timeout: timeout.map_or(REQUEST_TIMEOUT, |d| d.min(REQUEST_TIMEOUT)),
    }))
}

/// What the step plays: exactly one of the three forms.
fn content(ck: &mut Checker<'_>, t: &Table<'_, '_>) -> Option<AbrContent> {
    let present: Vec<&str> = ["title", "manifest", "renditions"]
        .into_iter()
        .filter(|k| t.has(k))
        .collect();
    if present.len() != 1 {
        let at = present
            .get(1)
            .and_then(|k| t.get(k))
            .map_or(t.span(), |v| v.key_span());
        ck.report(
            Finding::new(
                at,
                if present.is_empty() {
                    "an `abr` step says nothing about what to play".to_string()
                } else {
                    format!(
                        "an `abr` step plays one thing, but has {}",
                        present
                            .iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(" and ")
                    )
                },
                "what to play",
            )
            .hint(CONTENT_HINT),
        );
        return None;
    }
    for (key, needs) in [("bitrates", "title"), ("segments", "title")] {
        if let (Some(v), false) = (t.get(key), t.has(needs)) {
            ck.report(
                Finding::new(
                    v.key_span(),
                    format!("`{key}` describes a catalogue `title`"),
                    "needs `title`",
                )
                .hint(CONTENT_HINT),
            );
            return None;
        }
    }
    let segment = t.get("segment").map(|v| positive_duration(ck, &v));
    let segment = optional(segment)?.unwrap_or(Duration::from_secs(2));
    match present[0] {
        "title" => {
            let title = t
                .get("title")?
                .int_in(ck, 0..=i64::from(u32::MAX), "title")?;
            let bitrates = t
                .require(
                    ck,
                    "bitrates",
                    "add `bitrates = [500, 1500, 4000]`: the catalogue's `bitrates_kbps`",
                )
                .and_then(|v| kbps_list(ck, &v));
            let segments = t
                .require(
                    ck,
                    "segments",
                    "add `segments = 30`: the catalogue's segments per bitrate",
                )
                .and_then(|v| v.int_in(ck, 1..=100_000, "segments"));
            Some(AbrContent::Catalogue {
                title: u32::try_from(title).ok()?,
                bitrates: bitrates?,
                segments: u32::try_from(segments?).ok()?,
                segment,
            })
        }
        "manifest" => {
            if let Some(v) = t.get("segment") {
                ck.report(
                    Finding::new(
                        v.key_span(),
                        "the manifest gives the segment duration".to_string(),
                        "from the manifest",
                    )
                    .hint("remove `segment`; the manifest's `segment_ms` says it"),
                );
                return None;
            }
            let v = t.get("manifest")?;
            let s = v.text(ck)?;
            if !s.value.starts_with('/') {
                v.invalid(
                    ck,
                    format!("`{}` is not a path on the servers", s.value),
                    "not a path",
                    Some("write the manifest's path, e.g. `manifest = \"/v/title.json\"`".into()),
                );
                return None;
            }
            Some(AbrContent::Manifest {
                path: s.value.to_string(),
            })
        }
        _ => {
            let v = t.get("renditions")?;
            let items = v.array(
                ck,
                "an array of tables: `[{ kbps = 500, segments = [\"/v/500/0.m4s\"] }]`",
            )?;
            let mut out: Vec<(u32, Vec<String>)> = Vec::new();
            let mut ok = true;
            for item in &items {
                let Some(r) = item.table(
                    ck,
                    format!("`{}`", item.name()),
                    "a table: `{ kbps = 500, segments = [...] }`",
                ) else {
                    ok = false;
                    continue;
                };
                r.reject_unknown(ck, &["kbps", "segments"], &|_| None);
                let kbps = r
                    .require(ck, "kbps", "add `kbps = 500`: the rendition's bitrate")
                    .and_then(|k| k.int_in(ck, 1..=i64::from(u32::MAX), "kbit/s"));
                let segs = r
                    .require(
                        ck,
                        "segments",
                        "add `segments = [\"/v/500/0.m4s\", ...]`: the segments' paths in order",
                    )
                    .and_then(|s| s.strings(ck));
                match (kbps, segs) {
                    (Some(k), Some(s)) if !s.is_empty() => out.push((
                        u32::try_from(k).ok()?,
                        s.iter().map(|p| p.value.to_string()).collect(),
                    )),
                    _ => ok = false,
                }
            }
            if ok && out.windows(2).any(|w| w[0].1.len() != w[1].1.len()) {
                v.invalid(
                    ck,
                    "the renditions have different numbers of segments".into(),
                    "uneven renditions",
                    Some("every rendition lists the same segments at its bitrate".into()),
                );
                return None;
            }
            (ok && !out.is_empty()).then_some(AbrContent::List {
                segment,
                renditions: out,
            })
        }
    }
}

/// An array of positive kbit/s values, each at most once.
fn kbps_list(ck: &mut Checker<'_>, v: &crate::tree::Val<'_, '_>) -> Option<Vec<u32>> {
    let items = v.array(ck, "an array of bitrates in kbit/s, e.g. `[500, 1500]`")?;
    let mut out = Vec::new();
    for i in &items {
        out.push(u32::try_from(i.int_in(ck, 1..=i64::from(u32::MAX), "kbit/s")?).ok()?);
    }
    out.sort_unstable();
    if out.is_empty() || out.windows(2).any(|w| w[0] == w[1]) {
        v.invalid(
            ck,
            "`bitrates` must list distinct bitrates, at least one".into(),
            "bad bitrates",
            None,
        );
        return None;
    }
    Some(out)
}

/// Twice the media's length plus slack, or five minutes for a manifest.
pub(super) fn default_timeout(a: &Abr) -> Duration {
    match &a.content {
        AbrContent::Catalogue {
            segments, segment, ..
        } => segment.saturating_mul(*segments) * 2 + SLACK,
        AbrContent::List {
            segment,
            renditions,
        } => segment.saturating_mul(renditions[0].1.len() as u32) * 2 + SLACK,
        AbrContent::Manifest { .. } => MANIFEST_TIMEOUT,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use crate::model::{AbrCmcd, AbrContent, Action, NodeAction};
    use crate::{Options, parse};

    /// The step's action, or the rendered errors.
    fn step(step: &str) -> Result<NodeAction, String> {
        let text = format!(
            "[plan]\nname = \"s\"\nsummary = \"stream steps\"\n\n[[node]]\nname = \"c\"\n[[node]]\nname = \"edge\"\n[[node]]\nname = \"edge2\"\n\n[[link]]\nends = [\"c\", \"edge\"]\n[[link]]\nends = [\"c\", \"edge2\"]\n\n[[case]]\nid = \"S-01\"\ntitle = \"s\"\nsteps = [ {step} ]\n"
        );
        let p = parse(Path::new("p.toml"), &text, &Options::default())
            .map_err(|e| e.render(false, 200))?;
        match &p.cases[0].steps[0].action {
            Action::Node(a) => Ok(a.clone()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn abr_reads_its_servers_content_and_settings() {
        let Ok(NodeAction::Abr(a)) = step(
            r#"{ kind = "abr", from = "c", urls = ["https://edge:8443/", "https://edge2:8443/cdn"], host = "video.cdn.test", insecure = true, title = 3, bitrates = [1500, 500], segments = 10, cmcd = "headers", verify = { seed = 7 } }"#,
        ) else {
            panic!("not an abr step")
        };
        assert_eq!(a.servers.len(), 2);
        assert_eq!(a.servers[1].url.path, "/cdn");
        assert_eq!(a.cmcd, AbrCmcd::Headers);
        assert_eq!(a.verify, Some(7));
        assert_eq!(
            a.content,
            AbrContent::Catalogue {
                title: 3,
                bitrates: vec![500, 1500],
                segments: 10,
                segment: Duration::from_secs(2)
            }
        );
        // Twice 20 s of media plus 30 s.
        assert_eq!(super::default_timeout(&a), Duration::from_secs(70));
    }

    #[test]
    fn abr_refuses_what_it_cannot_play_at_the_key() {
        let cases = [
            (
                r#"{ kind = "abr", from = "c", urls = ["http://edge/"] }"#,
                "says nothing about what to play",
            ),
            (
                r#"{ kind = "abr", from = "c", urls = ["http://edge/"], title = 1, bitrates = [5], segments = 2, manifest = "/m.json" }"#,
                "plays one thing",
            ),
            (
                r#"{ kind = "abr", from = "c", urls = ["http://edge/"], manifest = "m.json" }"#,
                "not a path",
            ),
            (
                r#"{ kind = "abr", from = "c", urls = ["http://edge/"], manifest = "/m.json", verify = { seed = 1 } }"#,
                "only `title` plays",
            ),
            (
                r#"{ kind = "abr", from = "c", urls = ["https://edge/"], manifest = "/m.json" }"#,
                "does not say how to judge the certificate",
            ),
            (
                r#"{ kind = "abr", from = "c", urls = ["http://edge/", "https://edge2/"], manifest = "/m.json" }"#,
                "mix http and https",
            ),
            (
                r#"{ kind = "abr", from = "c", urls = ["https://edge/"], manifest = "/m.json", ca = "{lab_ca}" }"#,
                "the lab makes no CA",
            ),
            (
                r#"{ kind = "abr", from = "c", urls = ["http://nowhere/"], manifest = "/m.json" }"#,
                "nowhere",
            ),
            (
                r#"{ kind = "abr", from = "c", urls = ["http://edge/"], manifest = "/m.json", algorithm = "mpc" }"#,
                "unknown algorithm `mpc`",
            ),
            (
                r#"{ kind = "abr", from = "c", urls = ["http://edge/"], title = 1, bitrates = [5, 5], segments = 2 }"#,
                "distinct bitrates",
            ),
            (
                r#"{ kind = "abr", from = "c", urls = ["http://edge/"], title = 1, bitrates = [5], segments = 2, buffer = "3s" }"#,
                "cannot hold two segments",
            ),
            (
                r#"{ kind = "abr", from = "c", urls = ["http://edge/"], renditions = [{ kbps = 5, segments = ["/a"] }, { kbps = 9, segments = ["/a", "/b"] }] }"#,
                "different numbers of segments",
            ),
        ];
        for (s, want) in cases {
            let e = step(s).expect_err(s);
            assert!(e.contains(want), "{s}:\n{e}");
        }
    }

    #[test]
    fn rrul_and_rpm_defaults_and_mistakes() {
        let Ok(NodeAction::Rrul(r)) = step(r#"{ kind = "rrul", from = "c", to = "edge" }"#) else {
            panic!("not rrul")
        };
        assert_eq!(
            (r.upload_port, r.download_port, r.echo_port, r.flows),
            (5201, 5202, 7007, 4)
        );
        let e = step(r#"{ kind = "rrul", from = "c", to = "edge", download_port = 5201 }"#)
            .unwrap_err();
        assert!(e.contains("one test at a time"), "{e}");
        let Ok(NodeAction::Rpm(r)) = step(
            r#"{ kind = "rpm", from = "c", load_url = "http://edge:8080/big", probe_url = "http://edge:8080/small" }"#,
        ) else {
            panic!("not rpm")
        };
        assert_eq!((r.port, r.connections), (8080, 4));
        let e = step(
            r#"{ kind = "rpm", from = "c", load_url = "http://edge:8080/big", probe_url = "http://edge2:8080/small" }"#,
        )
        .unwrap_err();
        assert!(e.contains("probes another server than it loads"), "{e}");
    }
}
