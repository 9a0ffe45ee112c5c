//! CDN services: a `[[service]]` with `cdn = "origin"`, `"edge"` or
//! `"steering"` runs the reference CDN (`netproof cdn ROLE --config FILE`) on its node,
//! from the config table the plan writes under `config`.
//!
//! The config is kept as the plan wrote it, as a small value tree whose
//! strings may still hold `{addr:NODE}` placeholders: the addresses are
//! known only once the lab is planned. `check` has already deserialized it
//! into `netproof_proto::cdn`'s types (with stand-in addresses) and run
//! their validation, so what [`CdnService::render`] writes is a file
//! `netproof cdn` accepts; nothing here validates again.
//!
//! What the lab adds when it writes the file: the real addresses, the lab
//! certificate and key of each https site whose `cert` and `key` the plan
//! left out, the lab CA as `fill.ca` when an edge fills over https without
//! one, and absolute paths (the file is read from the lab's run directory,
//! and `netproof cdn` reads relative paths beside the file).

use std::fmt::Write as _;
use std::ops::Range;
use std::path::Path;

use super::Arg;

/// Which component a CDN service runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CdnRole {
    /// `netproof cdn origin`: serves the synthetic catalogue.
    Origin,
    /// `netproof cdn edge`: an edge cache (or a fill tier) that fills from
    /// ranked sources.
    Edge,
    /// `netproof cdn steering`: ranks edges for clients (HTTP API and
    /// authoritative DNS) from their reports and health polls.
    Steering,
}

impl CdnRole {
    /// The value as the plan (and the `netproof cdn` subcommand) writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            CdnRole::Origin => "origin",
            CdnRole::Edge => "edge",
            CdnRole::Steering => "steering",
        }
    }
}

/// A value of a CDN config as the plan writes it.
#[derive(Debug, Clone, PartialEq)]
pub enum CdnValue {
    /// A string, with `{addr:NODE}` placeholders unexpanded.
    Text(Arg),
    /// An integer.
    Integer(i64),
    /// A float.
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
    /// An array.
    Array(Vec<CdnValue>),
    /// A table, keys in the plan's order.
    Table(Vec<(String, CdnValue)>),
}

/// One site of a CDN service, as the lab's certificates need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdnSite {
    /// The site's name (names its certificate files).
    pub name: String,
    /// Its other names (wildcards included), also on its certificate.
    pub names: Vec<String>,
    /// The front serves https and the plan gave no `cert` and `key`: the
    /// lab makes them.
    pub lab_cert: bool,
}

/// Where a CDN service can be seen to be up: a listener of its config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdnListener {
    /// `ADDR:PORT`, placeholders unexpanded (an unspecified address, such as
    /// `0.0.0.0`, is reached at the node's address).
    pub addr: Arg,
    /// Whether it is an https listener.
    pub https: bool,
}

/// A `[[service]]` that runs a CDN component.
#[derive(Debug, Clone, PartialEq)]
pub struct CdnService {
    /// The component.
    pub role: CdnRole,
    /// The config table (the keys of docs/cdn.md), placeholders
    /// unexpanded, relative file names made relative to the plan's
    /// directory.
    pub config: Vec<(String, CdnValue)>,
    /// Its sites, in config order.
    pub sites: Vec<CdnSite>,
    /// Its first https listener, else its first http one (steering: its
    /// first API listener, else its first DNS one, over TCP): readiness
    /// connects there unless the service says `ready`.
    pub listener: CdnListener,
    /// An edge that fills over https without a `fill.ca`: it trusts the
    /// lab CA.
    pub lab_ca: bool,
}

/// The file names `netproof cdn certs` gives a site's certificate and key
/// (a leading `*` is written `_wildcard`).
pub fn cert_files(site: &str) -> (String, String) {
    let stem = match site.strip_prefix('*') {
        Some(rest) => format!("_wildcard{rest}"),
        None => site.to_string(),
    };
    (format!("{stem}.pem"), format!("{stem}.key"))
}

impl CdnService {
    /// Whether the lab must make certificates (or its CA) for this service.
    pub fn needs_lab_certs(&self) -> bool {
        self.lab_ca || self.sites.iter().any(|s| s.lab_cert)
    }

    /// The config file's text: placeholders expanded with `addr_of`, the
    /// lab's certificates (in `certs`, as `netproof cdn certs` wrote them)
    /// filled in where the plan left them out, and relative file names
    /// made absolute from `base`.
    pub fn render(
        &self,
        mut addr_of: impl FnMut(&str) -> String,
        certs: Option<&Path>,
        base: &Path,
    ) -> String {
        let mut config = self.config.clone();
        let absolute = |p: &str| {
            let p = Path::new(p);
            if p.is_relative() {
                base.join(p).display().to_string()
            } else {
                p.display().to_string()
            }
        };
        let text = |s: String| CdnValue::Text(Arg::literal(s));
        for (key, value) in &mut config {
            match (key.as_str(), value) {
                ("site", CdnValue::Array(sites)) => {
                    for (site, info) in sites.iter_mut().zip(&self.sites) {
                        let CdnValue::Table(entries) = site else {
                            continue;
                        };
                        for (k, v) in entries.iter_mut() {
                            if let ("cert" | "key", CdnValue::Text(a)) = (k.as_str(), &mut *v) {
                                *a = Arg::literal(absolute(&a.expand(&mut addr_of)));
                            }
                        }
                        if let (true, Some(dir)) = (info.lab_cert, certs) {
                            let (pem, key) = cert_files(&info.name);
                            entries.push((
                                "cert".into(),
                                text(absolute(&dir.join(pem).display().to_string())),
                            ));
                            entries.push((
                                "key".into(),
                                text(absolute(&dir.join(key).display().to_string())),
                            ));
                        }
                    }
                }
                ("fill", CdnValue::Table(entries)) => {
                    for (k, v) in entries.iter_mut() {
                        if let ("ca", CdnValue::Text(a)) = (k.as_str(), &mut *v) {
                            *a = Arg::literal(absolute(&a.expand(&mut addr_of)));
                        }
                    }
                    if let (true, Some(dir)) = (self.lab_ca, certs) {
                        entries.push((
                            "ca".into(),
                            text(absolute(&dir.join("ca.pem").display().to_string())),
                        ));
                    }
                }
                _ => {}
            }
        }
        write_toml(&config, &mut |a| a.expand(&mut addr_of), None)
    }
}

/// One step of a path into a config tree: the `i`th entry of a table or
/// the `i`th element of an array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathStep {
    /// The `i`th entry of a table.
    Entry(usize),
    /// The `i`th element of an array.
    Element(usize),
}

/// Where a written key or value sits in the text [`write_toml`] made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Written {
    /// Its byte range in the text.
    pub range: Range<usize>,
    /// The path to it.
    pub path: Vec<PathStep>,
    /// Whether the range is the entry's key (else its value).
    pub key: bool,
}

/// Writes a config tree as TOML: one `key = value` line per top-level
/// entry, nested tables inline. With `record`, notes where every key and
/// value went, so an error the TOML deserializer reports in this text can
/// be traced back to the plan.
pub(crate) fn write_toml(
    table: &[(String, CdnValue)],
    expand: &mut dyn FnMut(&Arg) -> String,
    mut record: Option<&mut Vec<Written>>,
) -> String {
    let mut out = String::new();
    let mut path = Vec::new();
    for (i, (k, v)) in table.iter().enumerate() {
        path.push(PathStep::Entry(i));
        write_entry(&mut out, k, v, expand, &mut record, &mut path);
        out.push('\n');
        path.pop();
    }
    out
}

fn write_entry(
    out: &mut String,
    key: &str,
    value: &CdnValue,
    expand: &mut dyn FnMut(&Arg) -> String,
    record: &mut Option<&mut Vec<Written>>,
    path: &mut Vec<PathStep>,
) {
    let start = out.len();
    write_key(out, key);
    if let Some(r) = record.as_deref_mut() {
        r.push(Written {
            range: start..out.len(),
            path: path.clone(),
            key: true,
        });
    }
    out.push_str(" = ");
    write_value(out, value, expand, record, path);
}

fn write_value(
    out: &mut String,
    value: &CdnValue,
    expand: &mut dyn FnMut(&Arg) -> String,
    record: &mut Option<&mut Vec<Written>>,
    path: &mut Vec<PathStep>,
) {
    let start = out.len();
    match value {
        CdnValue::Text(a) => write_string(out, &expand(a)),
        CdnValue::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        CdnValue::Float(f) => out.push_str(&float(*f)),
        CdnValue::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        CdnValue::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                path.push(PathStep::Element(i));
                write_value(out, item, expand, record, path);
                path.pop();
            }
            out.push(']');
        }
        CdnValue::Table(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                out.push_str(if i > 0 { ", " } else { " " });
                path.push(PathStep::Entry(i));
                write_entry(out, k, v, expand, record, path);
                path.pop();
            }
            out.push_str(if entries.is_empty() { "}" } else { " }" });
        }
    }
    if let Some(r) = record.as_deref_mut() {
        r.push(Written {
            range: start..out.len(),
            path: path.clone(),
            key: false,
        });
    }
}

/// A float as TOML writes it (Rust's `NaN` and `inf` are TOML's `nan`
/// and `inf`; a finite value always keeps its `.` or exponent).
fn float(f: f64) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{f:?}")
    }
}

fn write_key(out: &mut String, key: &str) {
    if !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        out.push_str(key);
    } else {
        write_string(out, key);
    }
}

/// A TOML basic string: quotes, backslashes and control characters escaped.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ArgPart;

    fn text(s: &str) -> CdnValue {
        CdnValue::Text(Arg::literal(s))
    }

    #[test]
    fn written_toml_reads_back_with_every_value_where_recorded() {
        let table = vec![
            (
                "admin".to_string(),
                CdnValue::Text(Arg(vec![
                    ArgPart::Addr("e".into()),
                    ArgPart::Text(":9100".into()),
                ])),
            ),
            (
                "odd key".to_string(),
                text("quote \" back\\slash\nline\u{1}"),
            ),
            (
                "site".to_string(),
                CdnValue::Array(vec![CdnValue::Table(vec![
                    ("name".into(), text("a.test")),
                    ("seed".into(), CdnValue::Integer(-7)),
                ])]),
            ),
            ("zipf".to_string(), CdnValue::Float(1.0)),
            ("nan".to_string(), CdnValue::Float(f64::NAN)),
            ("log".to_string(), CdnValue::Bool(true)),
            ("empty".to_string(), CdnValue::Table(vec![])),
        ];
        let mut rec = Vec::new();
        let out = write_toml(
            &table,
            &mut |a| a.expand(|n| format!("<{n}>")),
            Some(&mut rec),
        );
        let back: toml::Table = toml::from_str(&out).unwrap_or_else(|e| panic!("{e}\n{out}"));
        assert_eq!(back["admin"].as_str(), Some("<e>:9100"));
        assert_eq!(
            back["odd key"].as_str(),
            Some("quote \" back\\slash\nline\u{1}")
        );
        assert_eq!(back["site"][0]["seed"].as_integer(), Some(-7));
        assert_eq!(back["zipf"].as_float(), Some(1.0));
        assert!(back["nan"].as_float().is_some_and(f64::is_nan));
        let seed = rec
            .iter()
            .find(|w| {
                w.path == [PathStep::Entry(2), PathStep::Element(0), PathStep::Entry(1)] && !w.key
            })
            .expect("recorded");
        assert_eq!(&out[seed.range.clone()], "-7");
    }

    #[test]
    fn render_fills_in_lab_certificates_and_absolute_paths() {
        let svc = CdnService {
            role: CdnRole::Edge,
            config: vec![
                (
                    "site".into(),
                    CdnValue::Array(vec![
                        CdnValue::Table(vec![("name".into(), text("a.test"))]),
                        CdnValue::Table(vec![
                            ("name".into(), text("b.test")),
                            ("cert".into(), text("b.pem")),
                            ("key".into(), text("/k/b.key")),
                        ]),
                    ]),
                ),
                ("fill".into(), CdnValue::Table(vec![])),
            ],
            sites: vec![
                CdnSite {
                    name: "a.test".into(),
                    names: vec![],
                    lab_cert: true,
                },
                CdnSite {
                    name: "b.test".into(),
                    names: vec![],
                    lab_cert: false,
                },
            ],
            listener: CdnListener {
                addr: Arg::literal("0.0.0.0:8443"),
                https: true,
            },
            lab_ca: true,
        };
        assert!(svc.needs_lab_certs());
        let out = svc.render(
            |n| n.to_string(),
            Some(Path::new("certs")),
            Path::new("/base"),
        );
        let back: toml::Table = toml::from_str(&out).unwrap();
        assert_eq!(
            back["site"][0]["cert"].as_str(),
            Some("/base/certs/a.test.pem")
        );
        assert_eq!(
            back["site"][0]["key"].as_str(),
            Some("/base/certs/a.test.key")
        );
        assert_eq!(back["site"][1]["cert"].as_str(), Some("/base/b.pem"));
        assert_eq!(back["site"][1]["key"].as_str(), Some("/k/b.key"));
        assert_eq!(back["fill"]["ca"].as_str(), Some("/base/certs/ca.pem"));
        assert_eq!(cert_files("*.a.test").0, "_wildcard.a.test.pem");
    }
}
