//! `exec`: run a command on a node.
//!
//! Samples: `exec.exit_code` (ok when 0; no value on timeout or when the
//! command could not start), `exec.duration`, `exec.stdout_bytes` and
//! `exec.stdout` (trimmed, first 4 KiB). Artifacts: stdout and stderr,
//! bounded. A command that overruns its timeout is killed with its whole
//! process group.

use std::time::Duration;

use netproof_plan::Exec;
use netproof_sample::{Artifact, Sample, Timestamp, Value, metric};

use super::{ActionOutcome, StepContext, StepError};
use netproof_lab::process;

/// Most bytes of stdout kept in the `exec.stdout` text sample.
const STDOUT_SAMPLE_LIMIT: usize = 4096;

pub(super) async fn run(step: &Exec, ctx: &StepContext) -> Result<ActionOutcome, StepError> {
    let argv: Vec<String> = step
        .command
        .iter()
        .map(|a| {
            a.expand(|n| {
                ctx.addresses
                    .get(n)
                    .map(|a| a.to_string())
                    .unwrap_or_default()
            })
        })
        .collect();
    let Some((program, args)) = argv.split_first() else {
        return Err(StepError("exec step has an empty command".into()));
    };
    let mut cmd = match ctx.node.command(program, args) {
        Ok(c) => c,
        Err(e) => {
            return Err(StepError(format!(
                "cannot prepare `{program}` for node `{}`: {e}",
                ctx.node.name
            )));
        }
    };
    for (k, v) in &step.env {
        cmd.env(
            k,
            v.expand(|n| {
                ctx.addresses
                    .get(n)
                    .map(|a| a.to_string())
                    .unwrap_or_default()
            }),
        );
    }
    let time = Timestamp::now();
    let started = tokio::time::Instant::now();
    let label = |s: Sample| {
        s.at(time)
            .label("step", &ctx.step_name)
            .label("node", &ctx.node.name)
    };
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let why = format!("cannot start `{program}` on `{}`: {e}", ctx.node.name);
            ctx.sink
                .sample(label(Sample::failed(&metric::EXEC_EXIT_CODE, &why)));
            return Ok(ActionOutcome::Failed(why));
        }
    };
    let (out, err) = process::capture(&mut child);
    let waited = tokio::time::timeout_at(ctx.deadline, child.wait()).await;
    let (status, timed_out) = match waited {
        Ok(status) => (status.ok(), false),
        Err(_) => (
            process::stop(&mut child, Duration::from_millis(500)).await,
            true,
        ),
    };
    let duration = started.elapsed().as_secs_f64();
    // The pipes close when every process holding them is gone; read what
    // they still hold (bounded: a daemonised grandchild may keep them open).
    process::drained(&out, &err, Duration::from_millis(200)).await;
    let (stdout, stdout_total) = {
        let c = out.lock().unwrap_or_else(|e| e.into_inner());
        (c.content(), c.total)
    };
    let stderr = err.lock().unwrap_or_else(|e| e.into_inner()).content();

    ctx.sink
        .sample(label(Sample::num(&metric::EXEC_DURATION, duration)));
    ctx.sink.sample(label(Sample::num(
        &metric::EXEC_STDOUT_BYTES,
        stdout_total as f64,
    )));
    let text = String::from_utf8_lossy(&stdout[..stdout.len().min(STDOUT_SAMPLE_LIMIT)])
        .trim()
        .to_string();
    ctx.sink.sample(Sample {
        value: Value::Text(text),
        ..label(Sample::num(&metric::EXEC_STDOUT, 0.0))
    });
    for (name, content) in [("stdout", stdout), ("stderr", stderr)] {
        if !content.is_empty() {
            ctx.sink.artifact(Artifact {
                name: name.to_string(),
                media_type: "text/plain".into(),
                content,
            });
        }
    }
    let code = status.and_then(|s| s.code());
    let outcome = if timed_out {
        let why = format!(
            "`{}` did not finish within {} and was killed",
            argv.join(" "),
            super::fmt_duration(ctx.deadline.duration_since(started))
        );
        ctx.sink
            .sample(label(Sample::failed(&metric::EXEC_EXIT_CODE, "timeout")));
        ActionOutcome::Failed(why)
    } else if let Some(code) = code {
        let s = Sample::num(&metric::EXEC_EXIT_CODE, f64::from(code)).with_ok(code == 0);
        ctx.sink.sample(label(s));
        if code == 0 {
            ActionOutcome::Ok
        } else {
            ActionOutcome::Failed(format!("`{}` exited with status {code}", argv.join(" ")))
        }
    } else {
        use std::os::unix::process::ExitStatusExt;
        let sig = status.and_then(|s| s.signal()).unwrap_or(0);
        let why = format!("`{}` was killed by signal {sig}", argv.join(" "));
        ctx.sink.sample(label(Sample::failed(
            &metric::EXEC_EXIT_CODE,
            format!("signal {sig}"),
        )));
        ActionOutcome::Failed(why)
    };
    Ok(outcome)
}
