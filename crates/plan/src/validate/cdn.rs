//! `cdn = "origin"|"edge"|"steering"` services: their `config` table,
//! checked by the reference CDN's own rules (`netproof_proto::cdn`,
//! `netproof_proto::steering`), every problem at the plan's line and
//! column.
//!
//! The config is the `netproof cdn ROLE --config FILE` format, so the two
//! must not drift: nothing here knows its keys. The table is copied out of
//! the plan into a value tree (placeholders split, node names resolved),
//! written as TOML with a stand-in address for each `{addr:NODE}`, and
//! deserialized into [`OriginConfig`]/[`EdgeConfig`]/[`SteeringConfig`]; where the
//! deserializer stops, the text position it names is traced back through
//! the writer's record to the plan's span, the offending entry is dropped
//! and the rest is read again, so one pass reports every bad key and value.
//! Once it reads, the types' own `validate` runs and each problem's key
//! path (`site[1].cert`) is looked up in the tree for its span.
//!
//! What the plan adds to the file format, and checks here: `{addr:NODE}`
//! in any string; a site's `cert` and `key` may be left out (the lab makes
//! them); an edge filling over https without `fill.ca` trusts the lab CA;
//! listeners are on the service's own node and at fixed ports (readiness
//! connects there), and fill sources and steering's health URLs are
//! addresses (a lab has no DNS).

use netproof_proto::cdn::{ConfigError, EdgeConfig, Fill, Listen, OriginConfig, Site};
use netproof_proto::steering::SteeringConfig;
use netproof_proto::url::{Host, Url};
use toml::de::DeValue;

use crate::arg;
use crate::diagnostic::Finding;
use crate::model::{
    Arg, ArgPart, CdnListener, CdnRole, CdnService, CdnSite, CdnValue, PathStep, Span, write_toml,
};
use crate::spelling;
use crate::tree::{Checker, Table, Val};

use super::topology::external_allowed;
use super::{Context, Names};

/// How often a config is read again after dropping a bad entry, at most.
const MAX_PASSES: usize = 64;

/// A config value with where the plan wrote it.
#[derive(Debug, Clone)]
struct Node {
    value: Kind,
    span: Span,
    key_span: Span,
}

#[derive(Debug, Clone)]
enum Kind {
    Text(Arg),
    Integer(i64),
    Float(f64),
    Bool(bool),
    Array(Vec<Node>),
    Table(Vec<(String, Node)>),
}

impl Node {
    fn model(&self) -> CdnValue {
        match &self.value {
            Kind::Text(a) => CdnValue::Text(a.clone()),
            Kind::Integer(i) => CdnValue::Integer(*i),
            Kind::Float(f) => CdnValue::Float(*f),
            Kind::Bool(b) => CdnValue::Bool(*b),
            Kind::Array(items) => CdnValue::Array(items.iter().map(Node::model).collect()),
            Kind::Table(entries) => CdnValue::Table(model(entries)),
        }
    }
}

fn model(entries: &[(String, Node)]) -> Vec<(String, CdnValue)> {
    entries
        .iter()
        .map(|(k, v)| (k.clone(), v.model()))
        .collect()
}

/// The service's typed config, whichever its role.
enum Typed {
    Origin(Box<OriginConfig>),
    Edge(Box<EdgeConfig>),
    Steering(Box<SteeringConfig>),
}

impl Typed {
    fn parse(role: CdnRole, text: &str) -> Result<Typed, toml::de::Error> {
        Ok(match role {
            CdnRole::Origin => Typed::Origin(Box::new(toml::from_str(text)?)),
            CdnRole::Edge => Typed::Edge(Box::new(toml::from_str(text)?)),
            CdnRole::Steering => Typed::Steering(Box::new(toml::from_str(text)?)),
        })
    }

    /// An origin's or an edge's listeners, sites and fill (steering has
    /// none of them).
    fn parts(&mut self) -> Option<(&Listen, &mut Vec<Site>, Option<&Fill>)> {
        match self {
            Typed::Origin(c) => Some((&c.listen, &mut c.sites, None)),
            Typed::Edge(c) => Some((&c.listen, &mut c.sites, c.fill.as_ref())),
            Typed::Steering(_) => None,
        }
    }

    fn validate(&self) -> Result<(), Vec<ConfigError>> {
        match self {
            Typed::Origin(c) => c.validate(),
            Typed::Edge(c) => c.validate(),
            Typed::Steering(c) => c.validate(),
        }
    }
}

/// What a CDN service's problems are reported with.
struct Place<'a> {
    service: &'a str,
    node: Option<&'a str>,
    /// The `config` table's span.
    span: Span,
    /// Node names and their stand-in addresses.
    standins: Vec<(String, String)>,
}

impl Place<'_> {
    fn standin(&self, node: &str) -> String {
        self.standins
            .iter()
            .find(|(n, _)| n == node)
            .map_or_else(|| "0.0.0.0".to_string(), |(_, a)| a.clone())
    }

    /// `text` with each stand-in address written back as its placeholder.
    fn unstand(&self, text: &str) -> String {
        let mut out = text.to_string();
        // Longest first, and only whole addresses, so `0.0.0.1` never
        // rewrites part of `0.0.0.12`.
        let mut by_len: Vec<&(String, String)> = self.standins.iter().collect();
        by_len.sort_by_key(|(_, a)| std::cmp::Reverse(a.len()));
        for (node, addr) in by_len {
            out = replace_whole(&out, addr, &format!("{{addr:{node}}}"));
        }
        out
    }
}

/// Replaces `from` in `text` where it is not part of a longer number.
fn replace_whole(text: &str, from: &str, to: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(from) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + from.len()..].chars().next();
        let part_of_more = |c: Option<char>| c.is_some_and(|c| c.is_ascii_digit() || c == '.');
        out.push_str(&rest[..at]);
        if part_of_more(before) || after.is_some_and(|c| c.is_ascii_digit()) {
            out.push_str(from);
        } else {
            out.push_str(to);
        }
        rest = &rest[at + from.len()..];
    }
    out.push_str(rest);
    out
}

/// A stand-in address for the `i`th node: `0.x.y.z`, a block no plan
/// listens on or fills from, one address per node so listeners on two
/// nodes' addresses stay apart.
fn standin(i: usize) -> String {
    let n = i + 1;
    format!("0.{}.{}.{}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
}

/// Validates a CDN service, the `[[service]]` `table` with a `cdn` key;
/// `service` is its name and its node (when it resolved).
pub(super) fn service(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    names: &Names,
    service: (&str, Option<&str>),
    table: &Table<'_, '_>,
) -> Option<CdnService> {
    let (name, node) = service;
    let role = table.get("cdn")?;
    let config = table.get("config");
    let role = role.str(ck).and_then(|s| match s.value {
        "origin" => Some(CdnRole::Origin),
        "edge" => Some(CdnRole::Edge),
        "steering" => Some(CdnRole::Steering),
        other => {
            role.invalid(
                ck,
                format!("service `{name}`: `{other}` is not a CDN component"),
                "unknown component",
                Some(
                    spelling::did_you_mean(other, ["origin", "edge", "steering"])
                        .unwrap_or_else(|| "write `cdn = \"origin\"`, `cdn = \"edge\"` (an edge in a parent role is a fill tier) or `cdn = \"steering\"`".into()),
                ),
            );
            None
        }
    });
    let Some(config) = config else {
        ck.report(
            Finding::new(table.span(), format!("CDN service `{name}` has no `config`"), "no `config`")
                .hint("add its config as a table, `[service.config]` with the keys of `netproof cdn ... --config FILE` (docs/cdn.md)"),
        );
        return None;
    };
    let config_table = config.table(
        ck,
        "`config`",
        "a table: `[service.config]`, with the keys of docs/cdn.md",
    )?;
    let place = Place {
        service: name,
        node,
        span: config_table.span(),
        standins: names
            .names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), standin(i)))
            .collect(),
    };
    let mut clean = true;
    let mut entries = table_entries(ck, names, &config_table, &mut clean)?;
    let role = role?;
    anchor_paths(cx, &mut entries);
    // On the tree as written: reading drops what it refuses.
    let lab_ok = lab_rules(ck, cx, &place, &entries);
    let mut read = read_typed(ck, &place, role, &mut entries);
    let clean = clean && lab_ok && read.is_clean();
    let mut typed = read.typed.take()?;

    // Sites without a certificate on an https front get the lab's: stand
    // in for them while the types' rules run.
    let mut lab_sites = Vec::new();
    let (listener, lab_ca) = match typed.parts() {
        Some((listen, sites, fill)) => {
            let https = !listen.https.is_empty();
            for s in sites.iter_mut() {
                let lab_cert = https && s.cert.is_none() && s.key.is_none();
                if lab_cert {
                    s.cert = Some("lab.pem".into());
                    s.key = Some("lab.key".into());
                }
                lab_sites.push(CdnSite {
                    name: s.name.clone(),
                    names: s.names.clone(),
                    lab_cert,
                });
            }
            let lab_ca = fill.is_some_and(|f| {
                f.ca.is_none() && f.sources.iter().any(|s| s.url.starts_with("https:"))
            });
            (listener(listen, &entries), lab_ca)
        }
        None => (steering_listener(&entries), false),
    };
    let mut ok = true;
    if let Err(errors) = typed.validate() {
        for e in errors.into_iter().filter(|e| !read.under_dropped(&e.key)) {
            let span = locate_key(&entries, &e.key).unwrap_or(place.span);
            ck.report(
                Finding::new(
                    span,
                    format!(
                        "service `{}`: config `{}`: {}",
                        place.service,
                        e.key,
                        place.unstand(&e.what)
                    ),
                    "here",
                )
                .hint(place.unstand(&e.hint)),
            );
        }
        ok = false;
    }
    let listener = listener?;
    (ok && clean).then(|| CdnService {
        role,
        config: model(&entries),
        sites: lab_sites,
        listener,
        lab_ca,
    })
}

/// The first https listener, else the first http one, as written.
fn listener(listen: &Listen, entries: &[(String, Node)]) -> Option<CdnListener> {
    let https = !listen.https.is_empty();
    let key = if https {
        "listen.https[0]"
    } else {
        "listen.http[0]"
    };
    let node = find(entries, key)?;
    match &node.value {
        Kind::Text(a) => Some(CdnListener {
            addr: a.clone(),
            https,
        }),
        _ => None,
    }
}

/// Steering's first API listener, else its first DNS one (readiness
/// connects over TCP, which the DNS face also serves), as written.
fn steering_listener(entries: &[(String, Node)]) -> Option<CdnListener> {
    ["listen.api[0]", "listen.dns[0]"]
        .iter()
        .find_map(|key| match &find(entries, key)?.value {
            Kind::Text(a) => Some(CdnListener {
                addr: a.clone(),
                https: false,
            }),
            _ => None,
        })
}

/// What [`read_typed`] read.
struct Read {
    /// The config, if it read (after dropping what was refused).
    typed: Option<Typed>,
    /// The key paths dropped (`fill.cache.memory`): problems below them
    /// are the same problems again.
    dropped: Vec<String>,
}

impl Read {
    fn is_clean(&self) -> bool {
        self.dropped.is_empty()
    }

    /// Whether `key` is at or below a dropped key path, or is the array
    /// a dropped element was in (steering's "no `[[edge]]`" after its one
    /// edge was dropped is the same problem again).
    fn under_dropped(&self, key: &str) -> bool {
        self.dropped.iter().any(|d| {
            key.strip_prefix(d.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
                || d.strip_prefix(key)
                    .is_some_and(|rest| rest.starts_with('['))
        })
    }
}

/// Reads the config into its type, reporting every key and value the
/// deserializer refuses (each refused entry is dropped and the rest read
/// again).
fn read_typed(
    ck: &mut Checker<'_>,
    place: &Place<'_>,
    role: CdnRole,
    entries: &mut Vec<(String, Node)>,
) -> Read {
    // Keys dropped as unknown or invalid, by the path of their table: a
    // later "missing field" there is the same problem again.
    let mut dropped: Vec<(Vec<PathStep>, String)> = Vec::new();
    let mut dropped_keys: Vec<String> = Vec::new();
    let done = |typed, dropped_keys| Read {
        typed,
        dropped: dropped_keys,
    };
    for _ in 0..MAX_PASSES {
        let mut record = Vec::new();
        let text = write_toml(
            &model(entries),
            &mut |a: &Arg| a.expand(|n| place.standin(n)),
            Some(&mut record),
        );
        let e = match Typed::parse(role, &text) {
            Ok(t) => return done(Some(t), dropped_keys),
            Err(e) => e,
        };
        let at = e.span().unwrap_or(0..0);
        let found = record
            .iter()
            .filter(|w| w.range.start <= at.start && at.end <= w.range.end && !at.is_empty())
            .min_by_key(|w| w.range.len());
        let message = place.unstand(e.message().trim());
        let (path, is_key) = found.map_or((Vec::new(), false), |w| (w.path.clone(), w.key));
        if let Some(missing) = missing_field(&message) {
            let again = dropped.iter().any(|(table, key)| {
                *table == path && (key == missing || spelling::closest(key, [missing]).is_some())
            });
            // Already reported (its entry was dropped): drop the table
            // that misses it in turn, and read on.
            if again {
                let whole = key_path(entries, &path);
                match drop_at(entries, &path) {
                    Some(key) => {
                        dropped_keys.push(whole);
                        dropped.extend(key.map(|k| (path[..path.len() - 1].to_vec(), k)));
                        continue;
                    }
                    None => return done(None, dropped_keys),
                }
            }
            if !again {
                let span = at_path(entries, &path).map_or(place.span, |n| n.span);
                let key = key_path(entries, &path);
                let whole = if key.is_empty() {
                    "config".to_string()
                } else {
                    format!("config.{key}")
                };
                ck.report(
                    Finding::new(
                        span,
                        format!(
                            "service `{}`: `{whole}` is missing the key `{missing}`",
                            place.service
                        ),
                        format!("no `{missing}`"),
                    )
                    .hint(format!("add `{missing}` (docs/cdn.md describes every key)")),
                );
            }
            return done(None, dropped_keys);
        }
        let Some(node) = at_path(entries, &path) else {
            ck.report(
                Finding::new(
                    place.span,
                    format!("service `{}`: config: {message}", place.service),
                    "in this config",
                )
                .hint("check the config against docs/cdn.md"),
            );
            return done(None, dropped_keys);
        };
        let key = key_path(entries, &path);
        let (span, label, hint) = if is_key {
            (
                node.key_span,
                "unknown key",
                expected_keys(&message)
                    .and_then(|(word, keys)| {
                        spelling::did_you_mean(word, keys.iter().map(String::as_str))
                    })
                    .unwrap_or_else(|| "remove the key or fix its spelling; the message lists the keys allowed there".into()),
            )
        } else {
            (
                node.span,
                "invalid value",
                "check the value's type and format against docs/cdn.md".to_string(),
            )
        };
        // A string whose placeholder was wrong is read as written, and
        // may well not parse: that is the same problem again.
        if !ck.has_finding_within(node.span) {
            ck.report(
                Finding::new(
                    span,
                    format!("service `{}`: config `{key}`: {message}", place.service),
                    label,
                )
                .hint(hint),
            );
        }
        // Drop the entry (or array element) and read the rest again.
        dropped_keys.push(key_path(entries, &path));
        match drop_at(entries, &path) {
            Some(key) => dropped.extend(key.map(|k| (path[..path.len() - 1].to_vec(), k))),
            None => return done(None, dropped_keys),
        }
    }
    done(None, dropped_keys)
}

/// Removes the entry or array element at `path` (not empty): `None` when
/// there is none, else the removed entry's key (`None` for an element).
fn drop_at(entries: &mut Vec<(String, Node)>, path: &[PathStep]) -> Option<Option<String>> {
    let (last, parent) = path.split_last()?;
    match (last, parent.is_empty()) {
        (PathStep::Entry(i), true) => (*i < entries.len()).then(|| Some(entries.remove(*i).0)),
        (PathStep::Element(_), true) => None,
        (step, false) => match (step, at_path_mut(entries, parent).map(|n| &mut n.value)) {
            (PathStep::Entry(i), Some(Kind::Table(t))) if *i < t.len() => {
                Some(Some(t.remove(*i).0))
            }
            (PathStep::Element(i), Some(Kind::Array(a))) if *i < a.len() => {
                a.remove(*i);
                Some(None)
            }
            _ => None,
        },
    }
}

/// `missing field `x`` -> `x`.
fn missing_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")
        .and_then(|r| r.split('`').next())
}

/// `unknown field `x`, expected one of `a`, `b`` -> (`x`, [a, b]).
fn expected_keys(message: &str) -> Option<(&str, Vec<String>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (word, rest) = rest.split_once('`')?;
    let keys = rest
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    Some((word, keys))
}

/// The node at `path` (the root table has none).
fn at_path<'a>(entries: &'a [(String, Node)], path: &[PathStep]) -> Option<&'a Node> {
    let (first, rest) = path.split_first()?;
    let PathStep::Entry(i) = first else {
        return None;
    };
    let mut node = &entries.get(*i)?.1;
    for step in rest {
        node = match (step, &node.value) {
            (PathStep::Entry(i), Kind::Table(t)) => &t.get(*i)?.1,
            (PathStep::Element(i), Kind::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(node)
}

fn at_path_mut<'a>(entries: &'a mut [(String, Node)], path: &[PathStep]) -> Option<&'a mut Node> {
    let (first, rest) = path.split_first()?;
    let PathStep::Entry(i) = first else {
        return None;
    };
    let mut node = &mut entries.get_mut(*i)?.1;
    for step in rest {
        node = match (step, &mut node.value) {
            (PathStep::Entry(i), Kind::Table(t)) => &mut t.get_mut(*i)?.1,
            (PathStep::Element(i), Kind::Array(a)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(node)
}

/// The key path of `path` as the CDN's messages write it (`site[1].cert`).
fn key_path(entries: &[(String, Node)], path: &[PathStep]) -> String {
    let mut out = String::new();
    let mut table: Option<&[(String, Node)]> = Some(entries);
    let mut node: Option<&Node> = None;
    for step in path {
        match step {
            PathStep::Entry(i) => {
                let Some((k, n)) = table.and_then(|t| t.get(*i)) else {
                    break;
                };
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
                node = Some(n);
            }
            PathStep::Element(i) => {
                out.push_str(&format!("[{i}]"));
                node = match node.map(|n| &n.value) {
                    Some(Kind::Array(a)) => a.get(*i),
                    _ => None,
                };
            }
        }
        table = match node.map(|n| &n.value) {
            Some(Kind::Table(t)) => Some(t),
            _ => None,
        };
    }
    out
}

/// The node a key path names (`fill.sources[0].url`), if present.
fn find<'a>(entries: &'a [(String, Node)], key: &str) -> Option<&'a Node> {
    match locate(entries, key) {
        (Some(n), true) => Some(n),
        _ => None,
    }
}

/// The span for a problem at a key path: the value when present, else
/// the nearest enclosing table or array that is (a missing `site[0].cert`
/// is the site's table); `None` when not even the first key is present.
fn locate_key(entries: &[(String, Node)], key: &str) -> Option<Span> {
    locate(entries, key).0.map(|n| n.span)
}

fn locate<'a>(entries: &'a [(String, Node)], key: &str) -> (Option<&'a Node>, bool) {
    let mut table = entries;
    let mut found: Option<&Node> = None;
    for part in key.split('.') {
        let (name, indices) = match part.find('[') {
            Some(at) => (&part[..at], &part[at..]),
            None => (part, ""),
        };
        let Some((_, n)) = table.iter().find(|(k, _)| k == name) else {
            return (found, false);
        };
        let mut n = n;
        for index in indices.split('[').skip(1) {
            let i: Option<usize> = index.trim_end_matches(']').parse().ok();
            match (&n.value, i) {
                (Kind::Array(a), Some(i)) if i < a.len() => n = &a[i],
                _ => return (Some(n), false),
            }
        }
        found = Some(n);
        table = match &n.value {
            Kind::Table(t) => t,
            _ => &[],
        };
    }
    (found, true)
}

/// Copies a plan table into the tree, splitting placeholders.
fn table_entries(
    ck: &mut Checker<'_>,
    names: &Names,
    t: &Table<'_, '_>,
    clean: &mut bool,
) -> Option<Vec<(String, Node)>> {
    let mut out = Vec::new();
    let mut ok = true;
    for (key, _) in t.keys() {
        let Some(v) = t.get(key) else { continue };
        match node(ck, names, &v, clean) {
            Some(n) => out.push((key.to_string(), n)),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// A value of the tree; `None` for one that cannot be read at all (a
/// date-time); `clean` is cleared for a string whose placeholders are
/// wrong (reported), which is still read so the rest of the config is
/// checked too.
fn node(ck: &mut Checker<'_>, names: &Names, v: &Val<'_, '_>, clean: &mut bool) -> Option<Node> {
    let value = match v.raw() {
        DeValue::String(_) => Kind::Text(text(ck, names, v, clean)?),
        DeValue::Integer(_) => Kind::Integer(v.integer(ck, "a number")?),
        DeValue::Float(f) => {
            let f: f64 = f.as_str().replace('_', "").parse().ok()?;
            Kind::Float(f)
        }
        DeValue::Boolean(b) => Kind::Bool(*b),
        DeValue::Datetime(_) => {
            v.invalid(
                ck,
                format!("`{}`: a CDN config has no date-time values", v.name()),
                "date-time",
                Some("write the value as docs/cdn.md shows it".into()),
            );
            return None;
        }
        DeValue::Array(_) => {
            let items = v.array(ck, "an array")?;
            let mut out = Vec::with_capacity(items.len());
            let mut ok = true;
            for item in &items {
                match node(ck, names, item, clean) {
                    Some(n) => out.push(n),
                    None => ok = false,
                }
            }
            if !ok {
                return None;
            }
            Kind::Array(out)
        }
        DeValue::Table(_) => {
            let t = v.as_table()?;
            Kind::Table(table_entries(ck, names, &t, clean)?)
        }
    };
    Some(Node {
        value,
        span: v.span(),
        key_span: v.key_span(),
    })
}

/// A string with `{addr:NODE}` placeholders, each node resolved.
fn text(ck: &mut Checker<'_>, names: &Names, v: &Val<'_, '_>, clean: &mut bool) -> Option<Arg> {
    let s = v.str(ck)?;
    match arg::parse_arg(s.value) {
        Ok((parsed, refs)) => {
            for r in refs {
                *clean &= names.resolve(ck, &r.name, s.sub(r.range.clone())).is_some();
            }
            if parsed.0.iter().any(|p| matches!(p, ArgPart::Netproof)) {
                ck.report(
                    Finding::new(
                        s.span,
                        "`{netproof}` has no place in a CDN config",
                        "not here",
                    )
                    .hint("a CDN config's strings take `{addr:NODE}` only"),
                );
                *clean = false;
            }
            Some(parsed)
        }
        Err(e) => {
            ck.report(
                Finding::new(s.sub(e.range.clone()), e.message, e.label)
                    .hint("a CDN config's strings take `{addr:NODE}` placeholders; write `{{` and `}}` for literal braces"),
            );
            *clean = false;
            Some(Arg::literal(s.value))
        }
    }
}

/// Relative `cert`, `key` and `fill.ca` files are the plan's, as every
/// file a plan names.
fn anchor_paths(cx: &Context<'_>, entries: &mut [(String, Node)]) {
    let anchor = |n: &mut Node| {
        if let Kind::Text(a) = &mut n.value
            && let [ArgPart::Text(p)] = a.0.as_slice()
            && std::path::Path::new(p).is_relative()
        {
            *a = Arg::literal(cx.plan_dir.join(p).display().to_string());
        }
    };
    for (k, v) in entries.iter_mut() {
        match (k.as_str(), &mut v.value) {
            ("site", Kind::Array(sites)) => {
                for site in sites {
                    if let Kind::Table(t) = &mut site.value {
                        for (k, v) in t.iter_mut() {
                            if k == "cert" || k == "key" {
                                anchor(v);
                            }
                        }
                    }
                }
            }
            ("fill", Kind::Table(t)) => {
                for (k, v) in t.iter_mut() {
                    if k == "ca" {
                        anchor(v);
                    }
                }
            }
            _ => {}
        }
    }
}

/// What a lab needs beyond the file format: listeners on the service's own
/// node at fixed ports, fill sources by address.
fn lab_rules(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    place: &Place<'_>,
    entries: &[(String, Node)],
) -> bool {
    let mut ok = true;
    let mut addresses: Vec<(String, &Node)> = Vec::new();
    for kind in ["https", "http", "api", "dns"] {
        if let Some(Node {
            value: Kind::Array(items),
            ..
        }) = find(entries, &format!("listen.{kind}"))
        {
            addresses.extend(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (format!("listen.{kind}[{i}]"), n)),
            );
        }
    }
    let admin = find(entries, "admin");
    for (key, n) in addresses
        .iter()
        .map(|(k, n)| (k.as_str(), *n))
        .chain(admin.map(|n| ("admin", n)))
    {
        let Kind::Text(a) = &n.value else { continue };
        for part in &a.0 {
            if let (ArgPart::Addr(other), Some(own)) = (part, place.node)
                && other != own
            {
                ck.report(
                    Finding::new(n.span, format!("service `{}`: `{key}` is on node `{other}`'s address, but the service runs on `{own}`", place.service), "another node's address")
                        .hint(format!("listen on `{{addr:{own}}}:PORT` or `0.0.0.0:PORT`")),
                );
                ok = false;
            }
        }
        let expanded = a.expand(|n| place.standin(n));
        let Ok(sa) = expanded.parse::<std::net::SocketAddr>() else {
            continue;
        };
        if key != "admin" && sa.port() == 0 {
            ck.report(
                Finding::new(n.span, format!("service `{}`: `{key}` has port 0", place.service), "port 0")
                    .hint("a lab service listens on a fixed port, so steps and readiness know where it is: write e.g. `8443`"),
            );
            ok = false;
        }
        if !a.0.iter().any(|p| matches!(p, ArgPart::Addr(_))) && !sa.ip().is_unspecified() {
            ok &= external_allowed(ck, cx, sa.ip(), n.span);
        }
    }
    // Fill sources' URLs, and the health URLs steering polls: by address.
    let mut urls = Vec::new();
    for (list, key) in [("fill.sources", "url"), ("edge", "health")] {
        if let Some(Node {
            value: Kind::Array(items),
            ..
        }) = find(entries, list)
        {
            urls.extend(items.iter().enumerate().map(|(i, n)| (list, key, i, n)));
        }
    }
    {
        for (list, key, i, s) in urls {
            let Kind::Table(t) = &s.value else { continue };
            let Some((_, url)) = t.iter().find(|(k, _)| k == key) else {
                continue;
            };
            let Kind::Text(a) = &url.value else { continue };
            let placeholders = a.0.iter().any(|p| matches!(p, ArgPart::Addr(_)));
            let Ok(u) = Url::parse(&a.expand(|n| place.standin(n))) else {
                continue;
            };
            match u.host {
                Host::Name(name) => {
                    ck.report(
                        Finding::new(url.span, format!("service `{}`: `{list}[{i}].{key}` names the host `{name}`, but a lab has no DNS", place.service), "not an address")
                            .hint(if list == "edge" {
                                "name the edge's node: `health = \"http://{addr:NODE}:9100/health\"`"
                            } else {
                                "name the source's node: `url = \"https://{addr:NODE}:8443\"` (the edge sends the site's name as SNI and Host anyway)"
                            }),
                    );
                    ok = false;
                }
                Host::Addr(ip) if !placeholders => {
                    ok &= external_allowed(ck, cx, ip, url.span);
                }
                Host::Addr(_) => {}
            }
        }
    }
    ok
}

/// Whether `ip` is one of the stand-ins (for tests).
#[cfg(test)]
fn is_standin(ip: std::net::IpAddr) -> bool {
    matches!(ip, std::net::IpAddr::V4(v4) if v4.octets()[0] == 0 && !v4.is_unspecified())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standins_are_distinct_and_written_back_whole() {
        assert_eq!(standin(0), "0.0.0.1");
        assert_eq!(standin(256), "0.0.1.1");
        assert!(is_standin(standin(5).parse().unwrap()));
        let place = Place {
            service: "s",
            node: None,
            span: Span::default(),
            standins: (0..12).map(|i| (format!("n{i}"), standin(i))).collect(),
        };
        assert_eq!(
            place.unstand("`0.0.0.1:80` is already `0.0.0.12:80`, not 10.0.0.1"),
            "`{addr:n0}:80` is already `{addr:n11}:80`, not 10.0.0.1"
        );
    }

    fn leaf(at: usize) -> Node {
        Node {
            value: Kind::Integer(1),
            span: Span::new(at, at + 1),
            key_span: Span::new(at, at),
        }
    }

    fn table(at: usize, entries: Vec<(&str, Node)>) -> Node {
        Node {
            value: Kind::Table(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
            ),
            span: Span::new(at, at + 1),
            key_span: Span::new(at, at),
        }
    }

    #[test]
    fn key_paths_find_their_value_or_the_nearest_enclosing_one() {
        let site0 = table(10, vec![("name", leaf(11))]);
        let site1 = table(20, vec![("name", leaf(21)), ("cert", leaf(22))]);
        let sites = Node {
            value: Kind::Array(vec![site0, site1]),
            span: Span::new(9, 30),
            key_span: Span::new(5, 9),
        };
        let entries = vec![("site".to_string(), sites), ("admin".to_string(), leaf(40))];
        assert_eq!(
            locate_key(&entries, "site[1].cert"),
            Some(Span::new(22, 23))
        );
        assert_eq!(
            locate_key(&entries, "site[0].cert"),
            Some(Span::new(10, 11))
        );
        assert_eq!(locate_key(&entries, "site[7].name"), Some(Span::new(9, 30)));
        assert_eq!(locate_key(&entries, "admin"), Some(Span::new(40, 41)));
        assert_eq!(locate_key(&entries, "listen.https[0]"), None);
        let path = [PathStep::Entry(0), PathStep::Element(1), PathStep::Entry(1)];
        assert_eq!(key_path(&entries, &path), "site[1].cert");
        assert_eq!(
            at_path(&entries, &path).map(|n| n.span),
            Some(Span::new(22, 23))
        );
    }

    #[test]
    fn messages_name_what_is_missing_and_what_is_allowed() {
        assert_eq!(missing_field("missing field `memory`"), Some("memory"));
        let (word, keys) =
            expected_keys("unknown field `nmae`, expected one of `name`, `names`").unwrap();
        assert_eq!(
            (word, keys),
            ("nmae", vec!["name".to_string(), "names".to_string()])
        );
    }
}
