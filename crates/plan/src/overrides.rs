//! Changing a plan from the command line: `--set PATH=VALUE`, and a plan's
//! own seeded fault (`[plan] seeded_fault`), which is a list of them.
//!
//! An override edits the plan's TOML text before it is validated (with
//! `toml_edit`, so comments and layout survive), and the edited text is
//! what is checked, run and stored with the run: the report's plan text is
//! the plan as it ran, and a mistake in an override's value is reported at
//! its line and column like any other.
//!
//! `PATH` is dotted keys from the top of the file; a key that names an
//! array of tables (`link`, `node`, `service`, `case`, a case's `steps`)
//! takes a selector in brackets: an index from 0 (`link[0]`), or the
//! element's `name` (`service[oca-a1]`), or a case's `id` (`case[RPM-01]`),
//! or a link's two ends (`link[isp-a--oca-a1]`). `VALUE` is a TOML value
//! (`false`, `20`, `"20ms"`, `["a", "b"]`, `{ memory = "1GiB" }`); a bare
//! word that is not TOML is taken as a string, so `--set
//! plan.self_check=off` works unquoted. The last key is set, or added when
//! the table lacks it.

use std::fmt;

use thiserror::Error;
use toml_edit::{DocumentMut, Item, TableLike, Value};

/// One `PATH=VALUE`, parsed.
#[derive(Debug, Clone)]
pub struct Override {
    /// What was written, for messages.
    pub text: String,
    path: Vec<Segment>,
    value: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Segment {
    key: String,
    select: Option<Select>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Select {
    Index(usize),
    Name(String),
}

/// Why an override cannot be parsed or applied.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("--set `{text}`: {what}\nhint: {hint}")]
pub struct OverrideError {
    /// The override as written.
    pub text: String,
    /// What is wrong.
    pub what: String,
    /// What to write instead.
    pub hint: String,
}

impl fmt::Display for Override {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Override {
    /// Parses `PATH=VALUE`.
    pub fn parse(text: &str) -> Result<Override, OverrideError> {
        let err = |what: &str, hint: &str| OverrideError {
            text: text.to_string(),
            what: what.to_string(),
            hint: hint.to_string(),
        };
        let Some((path, value)) = text.split_once('=') else {
            return Err(err(
                "no `=`",
                "write PATH=VALUE, e.g. `link[0].codel=false` or `plan.seed=7`",
            ));
        };
        let mut segments = Vec::new();
        for part in split_path(path.trim()) {
            let (key, select) = match part.split_once('[') {
                None => (part.as_str(), None),
                Some((key, rest)) => {
                    let Some(inner) = rest.strip_suffix(']') else {
                        return Err(err(
                            &format!("`{part}` has an unclosed `[`"),
                            "select with `name[0]` or `name[NAME]`",
                        ));
                    };
                    let select = match inner.parse::<usize>() {
                        Ok(i) => Select::Index(i),
                        Err(_) if !inner.is_empty() => Select::Name(inner.to_string()),
                        Err(_) => {
                            return Err(err(
                                &format!("`{part}` selects nothing"),
                                "put an index from 0 or a name between the brackets",
                            ));
                        }
                    };
                    (key, Some(select))
                }
            };
            if key.is_empty() {
                return Err(err(
                    "an empty key in the path",
                    "join keys with single dots, e.g. `service[edge].config.admin`",
                ));
            }
            segments.push(Segment {
                key: key.to_string(),
                select,
            });
        }
        if segments.is_empty() {
            return Err(err("no path before `=`", "write PATH=VALUE"));
        }
        if segments.last().is_some_and(|s| s.select.is_some()) {
            return Err(err(
                "the path ends in a selector",
                "name the key to set inside the element, e.g. `link[0].delay=\"5ms\"`",
            ));
        }
        let value = value.trim();
        let value = value
            .parse::<Value>()
            .or_else(|_| {
                format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"")).parse()
            })
            .map_err(|e| {
                err(
                    &format!("`{value}` is not a TOML value: {e}"),
                    "quote strings",
                )
            })?;
        Ok(Override {
            text: text.to_string(),
            path: segments,
            value,
        })
    }
}

impl Override {
    /// The first key of its path (`link` for `link[0].delay`).
    pub fn root(&self) -> &str {
        &self.path[0].key
    }

    /// Whether a key of its path is `key` (`quick` may not touch `expect`).
    pub fn touches(&self, key: &str) -> bool {
        self.path.iter().any(|s| s.key == key)
    }
}

/// Splits on dots outside brackets (a selector may hold dots: `node[a.b]`)
/// and outside double quotes, which are dropped: a quoted key holds dots,
/// as TOML writes them (`node[a].sysctl."net.ipv4.tcp_wmem"`).
fn split_path(path: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut depth = 0usize;
    let mut quoted = false;
    for c in path.chars() {
        match c {
            '"' if depth == 0 => {
                quoted = !quoted;
                continue;
            }
            '[' if !quoted => depth += 1,
            ']' if !quoted => depth = depth.saturating_sub(1),
            '.' if depth == 0 && !quoted => {
                out.push(String::new());
                continue;
            }
            _ => {}
        }
        if let Some(last) = out.last_mut() {
            last.push(c);
        }
    }
    out
}

/// Applies `overrides` in order to the plan text; the edited text.
pub fn apply(text: &str, overrides: &[Override]) -> Result<String, OverrideError> {
    if overrides.is_empty() {
        return Ok(text.to_string());
    }
    let mut doc: DocumentMut = text.parse().map_err(|e| OverrideError {
        text: overrides[0].text.clone(),
        what: format!("the plan is not valid TOML: {e}"),
        hint: "run `netproof check` on the plan without --set first".into(),
    })?;
    for o in overrides {
        set(doc.as_table_mut(), o)?;
    }
    Ok(doc.to_string())
}

fn set(root: &mut dyn TableLike, o: &Override) -> Result<(), OverrideError> {
    let err = |what: String, hint: &str| OverrideError {
        text: o.text.clone(),
        what,
        hint: hint.to_string(),
    };
    let mut table: &mut dyn TableLike = root;
    let (last, walk) = o.path.split_last().expect("a path is never empty");
    let mut walked = String::new();
    for seg in walk {
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(&seg.key);
        let Some(item) = table.get_mut(&seg.key) else {
            if seg.select.is_some() {
                // An element of an array the plan does not have: the
                // array can only be added whole.
                return Err(OverrideError {
                    text: o.text.clone(),
                    what: format!("the plan has no `{walked}` array to select from"),
                    hint: format!("add the array whole, e.g. `--set '{walked}=[{{ ... }}]'`"),
                });
            }
            return Err(err(
                format!("the plan has no `{walked}`"),
                "the path starts at the top of the file, e.g. `plan.seed`, `link[0].delay`, `service[edge].config.admin`",
            ));
        };
        table = match (&seg.select, item) {
            (None, Item::Table(t)) => t,
            (None, Item::Value(Value::InlineTable(t))) => t,
            (None, _) => {
                return Err(err(
                    format!("`{walked}` is not a table"),
                    "select an element of an array with `[INDEX]` or `[NAME]`",
                ));
            }
            (Some(select), item) => {
                let desc = match select {
                    Select::Index(i) => format!("{walked}[{i}]"),
                    Select::Name(n) => format!("{walked}[{n}]"),
                };
                walked = desc.clone();
                element(item, select).ok_or_else(|| {
                    err(
                        format!("the plan has no `{desc}`"),
                        "select by index from 0, by `name`, a case by `id`, a link by `A--B`",
                    )
                })?
            }
        };
    }
    match table.get_mut(&last.key) {
        Some(Item::Value(v)) => {
            let decor = v.decor().clone();
            *v = o.value.clone();
            *v.decor_mut() = decor;
        }
        Some(item) => *item = Item::Value(o.value.clone()),
        None => {
            table.insert(&last.key, Item::Value(o.value.clone()));
        }
    }
    Ok(())
}

/// The element of an array of tables (or of inline tables) a selector
/// names.
fn element<'a>(item: &'a mut Item, select: &Select) -> Option<&'a mut dyn TableLike> {
    let matches = |t: &dyn TableLike, i: usize| match select {
        Select::Index(n) => *n == i,
        Select::Name(name) => {
            let text = |k: &str| t.get(k).and_then(Item::as_str).map(str::to_owned);
            text("name").as_deref() == Some(name)
                || text("id").as_deref() == Some(name)
                || t.get("ends").and_then(Item::as_array).is_some_and(|ends| {
                    let e: Vec<&str> = ends.iter().filter_map(Value::as_str).collect();
                    e.len() == 2 && format!("{}--{}", e[0], e[1]) == *name
                })
        }
    };
    match item {
        Item::ArrayOfTables(a) => {
            let i = (0..a.len()).find(|&i| a.get(i).is_some_and(|t| matches(t, i)))?;
            a.get_mut(i).map(|t| t as &mut dyn TableLike)
        }
        Item::Value(Value::Array(a)) => {
            let i = (0..a.len()).find(|&i| {
                a.get(i)
                    .and_then(Value::as_inline_table)
                    .is_some_and(|t| matches(t, i))
            })?;
            a.get_mut(i)
                .and_then(Value::as_inline_table_mut)
                .map(|t| t as &mut dyn TableLike)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = r#"[plan]
name = "p" # the name
summary = "s"

[[node]]
name = "a"
[[node]]
name = "b"

[[link]]
ends = ["a", "b"]
delay = "10ms" # one way
codel = true

[[case]]
id = "C1"
title = "t"
steps = [ { kind = "ping", name = "p1", from = "a", to = "b" } ]
"#;

    fn apply_one(o: &str) -> Result<String, OverrideError> {
        apply(PLAN, &[Override::parse(o)?])
    }

    #[test]
    fn values_are_set_by_index_name_id_and_ends_keeping_comments() {
        let t = apply_one("link[0].codel=false").unwrap();
        assert!(t.contains("codel = false"), "{t}");
        assert!(t.contains("# one way") && t.contains("# the name"), "{t}");
        let t = apply_one("link[a--b].delay=\"20ms\"").unwrap();
        assert!(t.contains("delay = \"20ms\" # one way"), "{t}");
        let t = apply_one("node[b].role=router").unwrap();
        assert!(t.contains("name = \"b\"\nrole = \"router\""), "{t}");
        let t = apply_one("case[C1].steps[p1].packets=3").unwrap();
        assert!(t.contains("packets = 3"), "{t}");
        let t = apply_one("plan.self_check=off").unwrap();
        assert!(t.contains("self_check = \"off\""), "{t}");
        // A quoted key holds dots, as TOML writes it.
        let t = apply(
            PLAN,
            &[
                Override::parse(
                    "node[b].sysctl={ \"net.ipv4.tcp_rmem\" = \"4096 131072 1048576\" }",
                )
                .unwrap(),
                Override::parse("node[b].sysctl.\"net.ipv4.tcp_wmem\"=\"4096 16384 1048576\"")
                    .unwrap(),
            ],
        )
        .unwrap();
        assert!(
            t.contains("\"net.ipv4.tcp_wmem\" = \"4096 16384 1048576\""),
            "{t}"
        );
    }

    #[test]
    fn a_wrong_path_or_value_says_what_and_how() {
        let e = apply_one("link[7].codel=false").unwrap_err();
        assert!(e.what.contains("`link[7]`"), "{e}");
        let e = apply_one("links[0].codel=false").unwrap_err();
        assert!(e.what.contains("no `links` array"), "{e}");
        // An array the plan lacks is added whole; the hint says how.
        let e = apply_one("service[0].name=\"web\"").unwrap_err();
        assert!(e.what.contains("no `service` array"), "{e}");
        assert!(e.hint.contains("--set 'service=[{ ... }]'"), "{e}");
        let t =
            apply_one("service=[{ name = \"web\", node = \"a\", command = [\"true\"] }]").unwrap();
        assert!(t.contains("service = [{ name = \"web\""), "{t}");
        let e = apply_one("plan.nothing.seed=1").unwrap_err();
        assert!(e.what.contains("no `plan.nothing`"), "{e}");
        let e = Override::parse("codel").unwrap_err();
        assert!(e.what.contains("`=`"), "{e}");
        let e = Override::parse("link[0]=1").unwrap_err();
        assert!(e.what.contains("selector"), "{e}");
        let e = Override::parse("link[.x=1").unwrap_err();
        assert!(e.to_string().contains("hint:"), "{e}");
    }

    #[test]
    fn no_overrides_is_the_text_unchanged() {
        assert_eq!(apply(PLAN, &[]).unwrap(), PLAN);
    }
}
