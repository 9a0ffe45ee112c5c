//! `--set PATH=VALUE` and `--seeded-fault`: a plan changed from the command
//! line is checked, run and stored as changed; a plan's seeded fault makes
//! the cases it names fail, for the expectation the fault breaks.

use crate::{Scratch, show};

const PLAN: &str = r#"[plan]
name = "seeded"
summary = "a command that must succeed, and the fault that breaks it"
backend = "local"
seeded_fault = { summary = "the command exits 3", set = ["case[OK].steps[run].command=[\"sh\", \"-c\", \"exit 3\"]"], fails = ["OK"], because = ["max(exec.exit_code) == 0"] }

[[node]]
name = "a"

[[case]]
id = "OK"
title = "the command succeeds"
steps = [ { kind = "exec", name = "run", node = "a", command = ["true"] } ]
expect = [ "max(exec.exit_code) == 0" ]

[[case]]
id = "OTHER"
title = "untouched by the fault"
steps = [ { kind = "exec", name = "other", node = "a", command = ["true"] } ]
expect = [ "max(exec.exit_code) == 0" ]
"#;

#[test]
fn a_seeded_fault_fails_the_cases_it_names_and_only_those() {
    let s = Scratch::new();
    let p = s.plan("p.toml", PLAN);
    let p = p.to_str().unwrap();
    let o = s.netproof(&["run", p]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    // Caught: the named case failed on the named expectation, so the
    // seeded run exits 0 and says so.
    let o = s.netproof(&["run", "--seeded-fault", p]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains(
            "seeded fault caught (the command exits 3): `OK` failed on `max(exec.exit_code) == 0`"
        ),
        "{}",
        show(&o)
    );
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    let verdicts: Vec<(String, String)> = data
        .cases
        .iter()
        .map(|c| (c.info.case_id.clone(), format!("{:?}", c.verdict)))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("OK".into(), "Some(Fail)".into()),
            ("OTHER".into(), "Some(Pass)".into())
        ],
        "{}",
        show(&o)
    );
    // The run stored the plan as it ran.
    assert!(data.run.info.plan_text.contains("exit 3"));

    // A fault the plan does not catch (here it breaks nothing) exits 1,
    // and `--json` says which case held.
    let blind = s.plan(
        "blind.toml",
        &PLAN.replace("\\\"exit 3\\\"", "\\\"true\\\""),
    );
    let o = s.netproof(&["run", "--json", "--seeded-fault", blind.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let judged: serde_json::Value = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v.get("seeded_fault").is_some())
        .unwrap_or_else(|| panic!("no seeded_fault line: {}", show(&o)));
    assert_eq!(judged["seeded_fault"]["caught"], false);
    assert_eq!(judged["seeded_fault"]["cases"][0]["name"], "OK");
    assert_eq!(judged["seeded_fault"]["cases"][0]["failed"], false);
}

#[test]
fn set_changes_a_plan_and_a_bad_override_is_a_usage_error() {
    let s = Scratch::new();
    let p = s.plan("p.toml", PLAN);
    let p = p.to_str().unwrap();
    // A value the plan language refuses is reported at its line and column.
    let o = s.netproof(&["check", "--set", "case[OK].steps[run].timeout=\"soon\"", p]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("soon"),
        "{}",
        show(&o)
    );
    // A path the plan does not have says so, with a hint.
    let o = s.netproof(&["check", "--set", "case[NOPE].title=x", p]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("`case[NOPE]`") && err.contains("hint:"),
        "{err}"
    );
    // A plan without a seeded fault cannot be run with one.
    let plain = s.plan(
        "plain.toml",
        &PLAN.replace("seeded_fault", "# seeded_fault"),
    );
    let o = s.netproof(&["run", "--seeded-fault", plain.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    // A seeded fault naming a case the plan lacks is a plan error.
    let bad = s.plan(
        "bad.toml",
        &PLAN.replace("fails = [\"OK\"]", "fails = [\"OJ\"]"),
    );
    let o = s.netproof(&["check", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("`OJ`"),
        "{}",
        show(&o)
    );
    // Its `because` must be an expectation of a case it fails, as written.
    let bad = s.plan(
        "because.toml",
        &PLAN.replace(
            "because = [\"max(exec.exit_code) == 0\"]",
            "because = [\"max(exec.exit_code) == 1\"]",
        ),
    );
    let o = s.netproof(&["check", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("`seeded_fault.because` names `max(exec.exit_code) == 1`")
            && err.contains("did you mean `max(exec.exit_code) == 0`"),
        "{err}"
    );
}

#[test]
fn quick_applies_the_plans_own_shortening_and_never_touches_thresholds() {
    let s = Scratch::new();
    let plan = PLAN
        .replace(
            "command = [\"true\"] } ]\nexpect = [ \"max(exec.exit_code) == 0\" ]\n\n[[case]]\nid = \"OTHER\"",
            "command = [\"true\"], count = 12, every = \"1ms\" } ]\nexpect = [ \"max(exec.exit_code) == 0\" ]\n\n[[case]]\nid = \"OTHER\"",
        )
        .replace(
            "backend = \"local\"\n",
            "backend = \"local\"\nquick = [\"case[OK].steps[run].count=2\"]\n",
        );
    let p = s.plan("p.toml", &plan);
    let o = s.netproof(&["run", "--quick", "--case", "OK", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    let runs = data
        .samples
        .iter()
        .filter(|s| s.sample.metric == "exec.exit_code")
        .count();
    assert_eq!(runs, 2, "--quick ran the step twice, not 12 times");
    // A quick override may not loosen an expectation.
    let bad = s.plan(
        "bad.toml",
        &plan.replace(
            "quick = [\"case[OK].steps[run].count=2\"]",
            "quick = [\"case[OK].expect=[]\"]",
        ),
    );
    let o = s.netproof(&["check", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("changes an expectation"),
        "{}",
        show(&o)
    );
}

const LAB: &str = r#"[plan]
name = "the-lab"
summary = "two nodes and a service"
backend = "local"

[[node]]
name = "a"
[[node]]
name = "b"

[[service]]
name = "sleeper"
node = "b"
command = ["sleep", "30"]

[[case]]
id = "LAB-OWN"
title = "the lab's own case, not run by plans that use the lab"
steps = [ { kind = "exec", name = "x", node = "a", command = ["false"] } ]
"#;

const ON_LAB: &str = r#"[plan]
name = "on-the-lab"
summary = "cases against a lab file"
lab = "lab.toml"

[[case]]
id = "ONE"
title = "a command on the lab's node"
steps = [ { kind = "exec", name = "run", node = "b", command = ["true"] } ]
expect = [ "max(exec.exit_code) == 0" ]
"#;

#[test]
fn a_plan_runs_its_cases_on_its_lab_files_topology_and_services() {
    let s = Scratch::new();
    s.plan("lab.toml", LAB);
    let p = s.plan("on-lab.toml", ON_LAB);
    let p = p.to_str().unwrap();
    let o = s.netproof(&["run", p]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    let cases: Vec<&str> = data.cases.iter().map(|c| c.info.case_id.as_str()).collect();
    assert_eq!(cases, ["ONE"], "only the plan's own cases run");
    assert!(data.run.info.plan_text.contains("# ---- the lab file,"));
    assert!(data.run.info.plan_text.contains("name = \"sleeper\""));
    assert_eq!(
        data.run.info.topology.nodes.len(),
        2,
        "the lab's nodes were built"
    );

    // --set on what the lab holds edits the lab: a service command that
    // cannot start makes the run an error.
    let o = s.netproof(&["check", "--set", "service[sleeper].node=c", p]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("lab.toml"),
        "the problem is shown in the lab file: {err}"
    );

    // A plan that names a lab may not add topology of its own, and its
    // cases may name only the lab's nodes.
    let bad = s.plan(
        "bad.toml",
        &format!("{ON_LAB}\n[[node]]\nname = \"z\"\n").replace("node = \"b\"", "node = \"q\""),
    );
    let o = s.netproof(&["check", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("`[[node]]` in a plan that names a `lab`"),
        "{err}"
    );
    assert!(err.contains("`q`"), "{err}");
}

#[test]
fn exec_env_values_take_address_placeholders_and_unknown_nodes_are_refused() {
    let s = Scratch::new();
    let plan = r#"[plan]
name = "env"
summary = "an exec step's environment names another node's address"
backend = "local"

[[node]]
name = "a"
[[node]]
name = "b"

[[case]]
id = "ENV"
title = "the address reaches the command"
steps = [ { kind = "exec", name = "show", node = "a", command = ["sh", "-c", "echo \"peer=$PEER\""], env = { PEER = "{addr:b}:80" } } ]
expect = [ 'all(exec.stdout) contains "peer={addr:b}:80"', "max(exec.exit_code) == 0" ]
"#;
    let p = s.plan("env.toml", plan);
    let o = s.netproof(&["run", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let bad = s.plan(
        "bad.toml",
        &plan.replace("{addr:b}:80\" }", "{addr:c}:80\" }"),
    );
    let o = s.netproof(&["check", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("`c`"),
        "{}",
        show(&o)
    );
}
