//! The language reference (`docs/plan-language.md`) stays true: every
//! ```toml block is a complete plan that parses, every ```toml,error block
//! fails, and every catalogued metric is documented.

use netproof_plan::PlanError;
use netproof_sample::metric::CATALOG;

use crate::{parse, workspace_dir};

fn reference() -> String {
    let path = workspace_dir().join("docs/plan-language.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The fenced code blocks with their info string and first line number.
fn blocks(doc: &str) -> Vec<(String, usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(String, usize, String)> = None;
    for (i, line) in doc.lines().enumerate() {
        let trimmed = line.trim_start();
        match (&mut current, trimmed.strip_prefix("```")) {
            (None, Some(info)) => current = Some((info.trim().to_string(), i + 1, String::new())),
            (Some(_), Some(rest)) if rest.trim().is_empty() => {
                out.extend(current.take());
            }
            (Some((_, _, body)), _) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

#[test]
fn toml_examples_parse_and_error_examples_fail() {
    let doc = reference();
    let mut ok = 0;
    let mut failing = 0;
    for (info, line, body) in blocks(&doc) {
        // Examples read as if they were plans in plans/, so the files they
        // name (trace = "traces/...") resolve as they would for a user.
        let name = workspace_dir()
            .join(format!("plans/docs-example-line-{line}.toml"))
            .display()
            .to_string();
        match info.as_str() {
            "toml" => {
                if let Err(e) = parse(&name, &body) {
                    panic!("example at {name} must parse:\n{}", e.render(false, 100));
                }
                ok += 1;
            }
            "toml,error" => {
                // Error examples show validation, so they must be valid
                // TOML that fails for a reason the plan language gives.
                match parse(&name, &body) {
                    Ok(_) => panic!("example at {name} must fail"),
                    Err(e) => {
                        assert!(
                            matches!(e, PlanError::Invalid(_)),
                            "{}",
                            e.render(false, 100)
                        );
                        if std::env::var_os("NETPROOF_SHOW_DOC_ERRORS").is_some() {
                            println!("{}", e.render(false, 100));
                        }
                    }
                }
                failing += 1;
            }
            _ => {}
        }
    }
    assert!(
        ok >= 3 && failing >= 3,
        "{ok} examples, {failing} error examples"
    );
}

#[test]
fn every_catalogued_metric_is_documented() {
    let doc = reference();
    for m in CATALOG {
        assert!(
            doc.contains(&format!("`{}`", m.name)),
            "metric `{}` is not in the reference",
            m.name
        );
        assert!(
            doc.contains(&format!("`{}` | {}", m.name, m.unit.as_str())),
            "metric `{}` needs a catalogue row `| `{}` | {} | ...`",
            m.name,
            m.name,
            m.unit.as_str()
        );
    }
}
