//! Validation: from the spanned TOML tree to the typed [`Plan`].
//!
//! One pass per table kind, in dependency order: `[plan]` (which fixes the
//! backend), nodes (whose names everything else refers to), links,
//! services, cases. Every problem is recorded in the [`Checker`] and the
//! walk goes on, so a plan with ten mistakes gets ten findings. The typed
//! plan is assembled only when nothing was reported.
//!
//! Cross references are checked against every node *name* written in the
//! plan, even one whose node had other problems, so a single bad node does
//! not cascade into an "unknown node" at each use.

/// A key list: the given keys, then every link impairment key (the keys
/// of `[[link]]` that `a_to_b`, `b_to_a` and a `link_set` fault share), so
/// the list is written once.
macro_rules! with_impairment_keys {
    ($($k:literal),* $(,)?) => {
        &[
            $($k,)*
            "delay",
            "jitter",
            "distribution",
            "delay_correlation",
            "keep_order",
            "loss",
            "duplicate",
            "corrupt",
            "reorder",
            "rate",
            "overhead",
            "queue",
            "codel",
            "trace",
        ]
    };
}

mod case;
mod cdn;
mod impair;
mod meta;
mod routing;
mod service;
mod speaker;
mod step;
mod topology;

use toml::de::DeTable;

use crate::Options;
use crate::arg;
use crate::diagnostic::Finding;
use crate::model::{Arg, Backend, LinkId, NodeId, Plan, Source, Span};
use crate::spelling;
use crate::tree::{Checker, Str, Table, Val};

/// Validates the document `root`; `None` when anything was reported.
pub(crate) fn plan(
    ck: &mut Checker<'_>,
    root: &DeTable<'_>,
    options: &Options,
    source: Source,
    lab: Option<Plan>,
) -> Option<Plan> {
    let root = Table::new(root, Span::new(0, 0), "the plan file");
    top_level_keys(ck, &root);
    if let Some(lab) = lab {
        return with_lab(ck, &root, options, source, lab);
    }

    let meta = meta::validate(ck, root.get("plan"));
    let plan_backend = meta.as_ref().and_then(|m| m.backend);
    let backend = Backend::effective(options.backend, plan_backend);
    let plan_dir = source
        .path
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let cx = Context {
        options,
        backend,
        plan_dir,
    };

    let node_tables = tables(ck, root.get("node"), "node");
    let mut names = Names::new(ck, &node_tables);
    let nodes = topology::nodes(ck, &cx, &node_tables);
    let link_tables = tables(ck, root.get("link"), "link");
    let links = topology::links(ck, &cx, &names, &link_tables);
    names.links = links.iter().flatten().map(|l| l.ends.clone()).collect();
    let lan_tables = tables(ck, root.get("lan"), "lan");
    let lans = topology::lans(ck, &cx, &names, &lan_tables);
    let route_tables = tables(ck, root.get("route"), "route");
    let lan_members: Vec<Vec<String>> = lans.iter().flatten().map(|l| l.nodes.clone()).collect();
    let routes = topology::routes(ck, &cx, &names, &names.links, &lan_members, &route_tables);
    let bgp_tables = tables(ck, root.get("bgp"), "bgp");
    let mut bgp = routing::sessions(ck, &cx, &names, &bgp_tables);
    let mut nodes = nodes;
    let read = routing::Read {
        node_tables: &node_tables,
        bgp_tables: &bgp_tables,
        links: &links,
        lans: &lans,
    };
    routing::cross_check(ck, &cx, read, &mut nodes, &mut bgp);
    if nodes.iter().all(Option::is_some) && bgp.iter().all(Option::is_some) {
        names.routing = Some(RoutingFacts {
            originates: nodes
                .iter()
                .flatten()
                .filter(|n| n.routing != crate::model::Routing::Static || n.bgp_speaker.is_some())
                .map(|n| (n.name.clone(), n.originate.clone()))
                .collect(),
            sessions: bgp.iter().flatten().map(|b| b.ends.clone()).collect(),
        });
    }
    let service_tables = tables(ck, root.get("service"), "service");
    let services = service::validate(ck, &cx, &names, &service_tables);
    names.services = services
        .iter()
        .map(|s| s.as_ref().map(|s| s.name.clone()))
        .collect();
    let case_tables = tables(ck, root.get("case"), "case");
    let cases = case::validate(ck, &cx, &names, &case_tables);
    lab_ca_users(ck, &services, &cases);

    if !ck.clean() {
        return None;
    }
    let Some(meta) = meta else {
        // `meta::validate` reports whenever it returns `None`; this keeps
        // a broken invariant from turning into a panic.
        ck.report(Finding::new(
            Span::new(0, 0),
            "internal error: `[plan]` was not read",
            "here",
        ));
        return None;
    };
    // A seeded fault names cases that exist.
    if let Some(fault) = &meta.meta.seeded_fault
        && cases.iter().all(Option::is_some)
    {
        for (id, span) in fault.fails.iter().zip(&meta.fault_spans.fails) {
            let known = cases.iter().flatten().any(|c| &c.id == id);
            if !known {
                let ids: Vec<&str> = cases.iter().flatten().map(|c| c.id.as_str()).collect();
                let hint = crate::spelling::did_you_mean(id, ids.iter().copied())
                    .unwrap_or_else(|| format!("the plan's cases are: {}", ids.join(", ")));
                ck.report(
                    Finding::new(
                        *span,
                        format!(
                            "`seeded_fault.fails` names case `{id}`, which the plan does not have"
                        ),
                        "unknown case",
                    )
                    .hint(hint),
                );
            }
        }
        // Each `because` is an expectation, as written, of a case it fails.
        let named: Vec<&str> = cases
            .iter()
            .flatten()
            .filter(|c| fault.fails.contains(&c.id))
            .flat_map(|c| c.expect.iter().map(|e| e.text.trim()))
            .collect();
        for (text, span) in fault.because.iter().zip(&meta.fault_spans.because) {
            if !named.contains(&text.trim()) {
                let hint = crate::spelling::did_you_mean(text, named.iter().copied())
                    .unwrap_or_else(|| {
                        "copy an expectation of a case in `fails`, exactly as its `expect` writes it"
                            .to_string()
                    });
                ck.report(
                    Finding::new(
                        *span,
                        format!(
                            "`seeded_fault.because` names `{text}`, which no case in `fails` expects"
                        ),
                        "not an expectation of those cases",
                    )
                    .hint(hint),
                );
            }
        }
    }
    Some(Plan {
        meta: meta.meta,
        backend: meta.backend,
        seed: meta.seed,
        self_check: meta.self_check,
        nodes: nodes.into_iter().flatten().collect(),
        links: links.into_iter().flatten().collect(),
        lans: lans.into_iter().flatten().collect(),
        routes: routes.into_iter().flatten().collect(),
        bgp: bgp.into_iter().flatten().collect(),
        services: services.into_iter().flatten().collect(),
        cases: cases.into_iter().flatten().collect(),
        source,
        lab: None,
    })
}

/// A plan whose topology and services come from its lab file (`[plan]
/// lab`, already validated): its own `[plan]` and cases are checked
/// against the lab's nodes, links and services.
fn with_lab(
    ck: &mut Checker<'_>,
    root: &Table<'_, '_>,
    options: &Options,
    source: Source,
    lab: Plan,
) -> Option<Plan> {
    let meta = meta::validate(ck, root.get("plan"));
    if lab.lab.is_some()
        && let Some(v) = root
            .get("plan")
            .and_then(|p| p.as_table())
            .and_then(|t| t.get("lab"))
    {
        ck.report(
            Finding::new(
                v.span(),
                "the lab file names a `lab` of its own",
                "nested lab",
            )
            .hint("a lab file holds the topology and services itself; name it directly"),
        );
    }
    for key in ["node", "link", "lan", "route", "bgp", "service"] {
        if let Some(v) = root.get(key) {
            ck.report(
                Finding::new(v.key_span(), format!("`[[{key}]]` in a plan that names a `lab`"), "from the lab")
                    .hint("this plan's topology and services come from its lab file: change them there, or with `--set` when running"),
            );
        }
    }
    let backend = Backend::effective(
        options.backend,
        meta.as_ref().and_then(|m| m.backend).or(lab.backend),
    );
    let plan_dir = source
        .path
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let cx = Context {
        options,
        backend,
        plan_dir,
    };
    let names = Names {
        names: lab.nodes.iter().map(|n| n.name.clone()).collect(),
        resolving: lab
            .nodes
            .iter()
            .filter(|n| !n.resolver.is_empty())
            .map(|n| n.name.clone())
            .collect(),
        links: lab.links.iter().map(|l| l.ends.clone()).collect(),
        services: Some(lab.services.iter().map(|s| s.name.clone()).collect()),
        routing: Some(RoutingFacts {
            originates: lab
                .nodes
                .iter()
                .filter(|n| n.routing != crate::model::Routing::Static || n.bgp_speaker.is_some())
                .map(|n| (n.name.clone(), n.originate.clone()))
                .collect(),
            sessions: lab.bgp.iter().map(|b| b.ends.clone()).collect(),
        }),
    };
    let case_tables = tables(ck, root.get("case"), "case");
    let cases = case::validate(ck, &cx, &names, &case_tables);
    let services: Vec<Option<crate::model::Service>> =
        lab.services.iter().cloned().map(Some).collect();
    lab_ca_users(ck, &services, &cases);
    let meta = meta?;
    if !ck.clean() {
        return None;
    }
    Some(Plan {
        meta: meta.meta,
        backend: meta.backend.or(lab.backend),
        seed: meta.seed.or(lab.seed),
        self_check: meta.self_check,
        nodes: lab.nodes,
        links: lab.links,
        lans: lab.lans,
        routes: lab.routes,
        bgp: lab.bgp,
        services: lab.services,
        cases: cases.into_iter().flatten().collect(),
        source,
        lab: Some(lab.source),
    })
}

/// `ca = "{lab_ca}"` needs a CDN service the lab makes certificates for.
fn lab_ca_users(
    ck: &mut Checker<'_>,
    services: &[Option<crate::model::Service>],
    cases: &[Option<crate::model::Case>],
) {
    use crate::model::{Action, CaFile, NodeAction};
    if services.iter().any(Option::is_none) {
        return;
    }
    // The lab makes its CA along with the certificates of sites that have
    // none; without such a site there is no CA to trust.
    let makes_ca = services
        .iter()
        .flatten()
        .filter_map(|s| s.cdn.as_ref())
        .any(|c| c.sites.iter().any(|s| s.lab_cert));
    if makes_ca {
        return;
    }
    for s in services.iter().flatten() {
        if s.cdn.as_ref().is_some_and(|c| c.lab_ca) {
            ck.report(
                Finding::new(s.span, format!("CDN service `{}` fills over https without `fill.ca`, but the lab makes no CA", s.name), "no lab CA")
                    .hint("name the CA that signs the sources' certificates in `fill.ca`, or leave a site's `cert` and `key` out so the lab makes its CA"),
            );
        }
    }
    for case in cases.iter().flatten() {
        for step in case.setup.iter().chain(&case.steps).chain(&case.teardown) {
            let ca = match &step.action {
                Action::Node(NodeAction::Http(h)) => h.ca.as_ref(),
                Action::Node(NodeAction::Rpm(r)) => r.ca.as_ref(),
                Action::Node(NodeAction::Abr(a)) => a.ca.as_ref(),
                _ => None,
            };
            if ca == Some(&CaFile::Lab) {
                ck.report(
                    Finding::new(step.span, format!("step `{}` trusts `{{lab_ca}}`, but the lab makes no CA", step.name), "no lab CA")
                        .hint("the lab makes its CA for `cdn` services with an https site that has no `cert` and `key`; add one, or name a CA file"),
                );
            }
        }
    }
}

/// The top level holds only the five tables; anything else is reported
/// as an unknown table (or key), with the singular spelling when that is
/// the slip.
fn top_level_keys(ck: &mut Checker<'_>, root: &Table<'_, '_>) {
    const TABLES: &[&str] = &[
        "plan", "node", "link", "lan", "route", "bgp", "service", "case",
    ];
    for (key, span) in root.keys() {
        if TABLES.contains(&key) {
            continue;
        }
        let singular = key.strip_suffix('s').filter(|s| TABLES.contains(s));
        let hint = match singular {
            Some(s) => format!("did you mean `{s}`? tables are named in the singular: `[[{s}]]`"),
            None => spelling::did_you_mean(key, TABLES.iter().copied()).unwrap_or_else(|| {
                "a plan has the tables `[plan]`, `[[node]]`, `[[link]]`, `[[lan]]`, `[[route]]`, \
                 `[[service]]` and `[[case]]`; keys go inside them"
                    .to_string()
            }),
        };
        ck.report(
            Finding::new(
                span,
                format!("unknown top-level key `{key}`"),
                "unknown table or key",
            )
            .hint(hint),
        );
    }
}

/// Choices every validator may need.
pub(crate) struct Context<'o> {
    pub options: &'o Options,
    /// The backend the plan will run on: `--backend`, else the plan's,
    /// else the default.
    pub backend: Backend,
    /// The plan file's directory: files the plan names are relative to it.
    pub plan_dir: std::path::PathBuf,
}

/// The elements of an array of tables such as `[[node]]`.
fn tables<'a, 'i>(ck: &mut Checker<'_>, val: Option<Val<'a, 'i>>, key: &str) -> Vec<Table<'a, 'i>> {
    let Some(val) = val else {
        return Vec::new();
    };
    let Some(items) = val.array(ck, &format!("an array of tables (`[[{key}]]`)")) else {
        return Vec::new();
    };
    items
        .into_iter()
        .filter_map(|item| item.table(ck, format!("`[[{key}]]`"), &format!("a `[[{key}]]` table")))
        .collect()
}

/// Every node name written in the plan, for resolving references.
pub(crate) struct Names {
    names: Vec<String>,
    /// The nodes that name a `resolver` (read quietly: its own errors are
    /// the node's).
    resolving: Vec<String>,
    /// The plan's links (their two ends), once validated.
    links: Vec<[String; 2]>,
    /// The plan's service names, once every `[[service]]` validated
    /// (`None` while one has an error, so it is not reported as missing).
    services: Option<Vec<String>>,
    /// What routing faults check against, once nodes and sessions are
    /// validated (`None` while one has an error).
    pub(crate) routing: Option<RoutingFacts>,
}

/// The routing facts a routing fault is checked against.
#[derive(Debug, Default)]
pub(crate) struct RoutingFacts {
    /// Per daemon-owned node, what its `originate` lists.
    pub(crate) originates: Vec<(String, Vec<crate::model::Originate>)>,
    /// Each BGP session's ends, in the order its `[[bgp]]` writes them.
    pub(crate) sessions: Vec<[String; 2]>,
}

impl Names {
    /// Whether node `node` names its own resolvers.
    pub(crate) fn resolves(&self, node: &str) -> bool {
        self.resolving.iter().any(|n| n == node)
    }

    /// The plan's service names, once every `[[service]]` validated.
    pub(crate) fn services(&self) -> Option<&[String]> {
        self.services.as_deref()
    }

    fn new(ck: &mut Checker<'_>, nodes: &[Table<'_, '_>]) -> Self {
        let mut names = Vec::new();
        let mut resolving = Vec::new();
        for t in nodes {
            // Type errors in `name` are reported by `topology::nodes`; read
            // it quietly here. A misspelt key (`nmae = "client"`) still
            // names the node for references, so one typo is one finding
            // rather than one more at every use of the name.
            let mut quiet = Checker::new(ck.text);
            let key = if t.has("name") {
                Some("name")
            } else {
                t.misspelling_of("name")
            };
            if let Some(s) = key.and_then(|k| t.get(k)).and_then(|v| v.str(&mut quiet)) {
                names.push(s.value.to_string());
                if t.has("resolver") {
                    resolving.push(s.value.to_string());
                }
            }
        }
        Names {
            names,
            resolving,
            links: Vec::new(),
            services: None,
            routing: None,
        }
    }

    /// Resolves a link reference `a--b` (either order) to the link's id:
    /// its position among the plan's links, which are the validated ones in
    /// this order, and its ends as the plan writes them.
    pub(crate) fn resolve_link(&self, ck: &mut Checker<'_>, s: &Str<'_>) -> Option<LinkId> {
        let Some((a, b)) = s.value.split_once("--") else {
            ck.report(
                Finding::new(s.span, format!("`{}` is not a link", s.value), "not `a--b`")
                    .hint("name a link by its two ends: `\"r1--r2\"`"),
            );
            return None;
        };
        let a_ok = self.resolve(ck, a, s.sub(0..a.len()));
        let b_ok = self.resolve(ck, b, s.sub(a.len() + 2..s.value.len()));
        let (a, b) = (a_ok?, b_ok?);
        if let Some((i, l)) = self
            .links
            .iter()
            .enumerate()
            .find(|(_, l)| (l[0] == a && l[1] == b) || (l[0] == b && l[1] == a))
        {
            return Some(LinkId::new(i, l.clone()));
        }
        let known: Vec<String> = self
            .links
            .iter()
            .map(|l| format!("{}--{}", l[0], l[1]))
            .collect();
        ck.report(
            Finding::new(
                s.span,
                format!("no link joins `{a}` and `{b}`"),
                "no such link",
            )
            .hint(if known.is_empty() {
                "the plan has no `[[link]]`".to_string()
            } else {
                format!("links in this plan: {}", spelling::one_of(&known))
            }),
        );
        None
    }

    /// Resolves a node reference written at `span` (the name only).
    pub(crate) fn resolve(&self, ck: &mut Checker<'_>, name: &str, span: Span) -> Option<String> {
        if self.names.iter().any(|n| n == name) {
            return Some(name.to_string());
        }
        let hint = spelling::did_you_mean(name, self.names.iter().map(String::as_str))
            .unwrap_or_else(|| {
                if self.names.is_empty() {
                    format!(
                        "the plan has no nodes; declare one with `[[node]]` and `name = \"{name}\"`"
                    )
                } else {
                    format!("nodes in this plan: {}", spelling::one_of(&self.names))
                }
            });
        ck.report(Finding::new(span, format!("unknown node `{name}`"), "no such node").hint(hint));
        None
    }

    /// Resolves a node reference given as a whole string value to the
    /// node's id. A plan is assembled only when nothing was reported, and
    /// then every node written is a node of the plan, in this order.
    pub(crate) fn resolve_id(&self, ck: &mut Checker<'_>, s: &Str<'_>) -> Option<NodeId> {
        let name = self.resolve_str(ck, s)?;
        let index = self.names.iter().position(|n| *n == name)?;
        Some(NodeId::new(index, name))
    }

    /// Resolves a node reference given as a whole string value.
    pub(crate) fn resolve_str(&self, ck: &mut Checker<'_>, s: &Str<'_>) -> Option<String> {
        self.resolve(ck, s.value, s.sub(0..s.value.len()))
    }
}

/// Detects duplicate names or ids, pointing at both definitions.
pub(crate) struct Unique {
    what: String,
    seen: Vec<(String, Span)>,
}

impl Unique {
    pub(crate) fn new(what: impl Into<String>) -> Self {
        Unique {
            what: what.into(),
            seen: Vec::new(),
        }
    }

    /// Records `name`; reports it if it was seen before.
    pub(crate) fn check(&mut self, ck: &mut Checker<'_>, name: &str, span: Span) -> bool {
        if let Some((_, first)) = self.seen.iter().find(|(n, _)| n == name) {
            ck.report(
                Finding::new(
                    span,
                    format!("duplicate {} `{name}`", self.what),
                    format!("second `{name}`"),
                )
                .also(*first, "first defined here")
                .hint(format!(
                    "each {} must be unique; rename one of them",
                    self.what
                )),
            );
            return false;
        }
        self.seen.push((name.to_string(), span));
        true
    }
}

/// Whether `s` matches `[first][rest]*`.
pub(crate) fn matches_pattern(s: &str, first: fn(char) -> bool, rest: fn(char) -> bool) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(first) && chars.all(rest)
}

/// An identifier-like rewrite of `s` for hints: lower-case (when `lower`),
/// runs of other characters turned into `-`.
pub(crate) fn suggest_name(s: &str, lower: bool, allowed: fn(char) -> bool) -> String {
    let mut out = String::new();
    for c in s.trim().chars() {
        let c = if lower { c.to_ascii_lowercase() } else { c };
        if allowed(c) {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches(|c| c == '-' || c == '.' || c == '_')
        .to_string()
}

/// `[A-Za-z0-9][A-Za-z0-9._-]*`: case ids, step and service names.
pub(crate) fn check_id(ck: &mut Checker<'_>, s: &Str<'_>, what: &str) -> bool {
    let ok = matches_pattern(
        s.value,
        |c| c.is_ascii_alphanumeric(),
        |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'),
    );
    if !ok {
        let suggestion = suggest_name(s.value, false, |c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
        });
        let mut hint =
            "use letters, digits, `.`, `_` and `-`, starting with a letter or digit".to_string();
        if !suggestion.is_empty() {
            hint.push_str(&format!(", e.g. `{suggestion}`"));
        }
        ck.report(
            Finding::new(
                s.span,
                format!("{what} `{}` is not a valid name", s.value),
                "invalid name",
            )
            .hint(hint),
        );
    }
    ok
}

/// A command: a non-empty array of strings whose arguments may hold
/// `{addr:NODE}` placeholders.
pub(crate) fn command(ck: &mut Checker<'_>, val: &Val<'_, '_>, names: &Names) -> Option<Vec<Arg>> {
    let args = val.strings(ck)?;
    let Some(program) = args.first() else {
        val.invalid(
            ck,
            format!("`{}` is empty", val.name()),
            "empty command",
            Some("write the program and its arguments, e.g. `[\"sleep\", \"1\"]`".to_string()),
        );
        return None;
    };
    let mut ok = true;
    if program.value.trim().is_empty() {
        ck.report(
            Finding::new(program.span, "the program name is empty", "empty program")
                .hint("the first element is the program to run, e.g. `\"curl\"`"),
        );
        ok = false;
    }
    let mut out = Vec::with_capacity(args.len());
    for s in &args {
        match arg::parse_arg(s.value) {
            Ok((parsed, refs)) => {
                for r in refs {
                    ok &= names.resolve(ck, &r.name, s.sub(r.range.clone())).is_some();
                }
                out.push(parsed);
            }
            Err(e) => {
                ck.report(Finding::new(s.sub(e.range.clone()), e.message, e.label).hint(e.hint));
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

/// A duration that must be greater than zero.
pub(crate) fn positive_duration(
    ck: &mut Checker<'_>,
    val: &Val<'_, '_>,
) -> Option<std::time::Duration> {
    let d = val.duration(ck)?;
    if d.is_zero() {
        val.invalid(
            ck,
            format!("`{}` must be greater than zero", val.name()),
            "zero",
            None,
        );
        return None;
    }
    Some(d)
}

/// An optional key read with a getter: `Some(None)` when absent,
/// `Some(Some(v))` when read, `None` when present but invalid (reported).
pub(crate) fn optional<T>(read: Option<Option<T>>) -> Option<Option<T>> {
    match read {
        None => Some(None),
        Some(Some(v)) => Some(Some(v)),
        Some(None) => None,
    }
}
