//! `[[service]]`: long-running processes started with the lab, given by
//! their `command` or, for the reference CDN's components, by `cdn` and
//! `config` (see [`super::cdn`]).

use std::time::Duration;

use crate::diagnostic::Finding;
use crate::model::{Readiness, Service};
use crate::tree::Checker;
use crate::tree::Table;

use super::{Context, Names, Unique, cdn, check_id, command, optional, positive_duration};

const KEYS: &[&str] = &[
    "name",
    "node",
    "command",
    "cdn",
    "config",
    "env",
    "ready",
    "ready_timeout",
];
const READY_KEYS: &[&str] = &["tcp", "command"];

/// How long a service may take to become ready when the plan does not say.
const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) fn validate(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    names: &Names,
    tables: &[Table<'_, '_>],
) -> Vec<Option<Service>> {
    let mut seen = Unique::new("service name");
    tables
        .iter()
        .map(|t| {
            t.reject_unknown(ck, KEYS, &|key| match key {
                "cmd" | "args" | "exec" => Some("did you mean `command`?".to_string()),
                "timeout" => Some("did you mean `ready_timeout`?".to_string()),
                _ => None,
            });
            let name = t
                .require(ck, "name", "add `name = \"web\"`")
                .and_then(|v| v.text(ck))
                .and_then(|s| {
                    let ok = check_id(ck, &s, "service name") & seen.check(ck, s.value, s.span);
                    ok.then(|| s.value.to_string())
                });
            let node = t
                .require(
                    ck,
                    "node",
                    "add `node = \"...\"`, the node the service runs on",
                )
                .and_then(|v| v.str(ck))
                .and_then(|s| names.resolve_str(ck, &s));
            // A process is given by one explicit key: `command`, or `cdn`
            // (with its `config`).
            let (cmd, cdn) = match (t.get("command"), t.get("cdn")) {
                (Some(_), Some(c)) => {
                    ck.report(
                        Finding::new(c.key_span(), "a service has either `command` or `cdn`, not both", "second program")
                            .hint("keep `command` for a program of your own, or `cdn` (and `config`) for the reference CDN"),
                    );
                    (None, None)
                }
                (None, Some(_)) => {
                    let label = name.clone().unwrap_or_else(|| "?".into());
                    let svc = cdn::service(ck, cx, names, (&label, node.as_deref()), t);
                    (svc.as_ref().map(|_| Vec::new()), svc.map(Some))
                }
                (c, None) => {
                    if let Some(cfg) = t.get("config") {
                        ck.report(
                            Finding::new(cfg.key_span(), "`config` is for CDN services", "no `cdn`")
                                .hint("add `cdn = \"origin\"` or `cdn = \"edge\"`, or remove `config`"),
                        );
                    }
                    let cmd = match c {
                        Some(v) => command(ck, &v, names),
                        None => {
                            t.require(ck, "command", "add `command = [\"program\", \"arg\"]`, or `cdn = \"origin\"|\"edge\"` with a `config` table for the reference CDN");
                            None
                        }
                    };
                    (cmd, Some(None))
                }
            };
            let env = t.get("env").map(|v| v.string_table(ck));
            let ready = t.get("ready").map(|v| {
                let r = v.table(ck, "`ready`", "an inline table such as `{ tcp = 8080 }`")?;
                readiness(ck, names, &r)
            });
            let ready_timeout = t.get("ready_timeout").map(|v| positive_duration(ck, &v));
            Some(Service {
                name: name?,
                node: node?,
                command: cmd?,
                cdn: cdn?,
                env: optional(env)?.unwrap_or_default(),
                ready: optional(ready)?,
                ready_timeout: optional(ready_timeout)?.unwrap_or(DEFAULT_READY_TIMEOUT),
                span: t.span(),
            })
        })
        .collect()
}

fn readiness(ck: &mut Checker<'_>, names: &Names, t: &Table<'_, '_>) -> Option<Readiness> {
    t.reject_unknown(ck, READY_KEYS, &|key| match key {
        "port" => Some("write `tcp = PORT`".to_string()),
        _ => None,
    });
    match (t.get("tcp"), t.get("command")) {
        (Some(tcp), None) => {
            let port = tcp.int_in(ck, 1..=65535, "(a TCP port)")?;
            Some(Readiness::Tcp {
                port: u16::try_from(port).ok()?,
            })
        }
        (None, Some(c)) => Some(Readiness::Command {
            command: command(ck, &c, names)?,
        }),
        (Some(_), Some(c)) => {
            ck.report(
                Finding::new(
                    c.key_span(),
                    "`ready` has both `tcp` and `command`",
                    "second check",
                )
                .hint("give one readiness check: `{ tcp = PORT }` or `{ command = [...] }`"),
            );
            None
        }
        (None, None) => {
            ck.report(
                Finding::new(t.span(), "`ready` has neither `tcp` nor `command`", "no readiness check")
                    .hint("write `ready = { tcp = 8080 }` or `ready = { command = [\"curl\", \"-f\", \"...\"] }`"),
            );
            None
        }
    }
}
