//! Progress on long runs: a bar on a terminal, nothing when piped or --json.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use netproof_run::{CaseOutcome, Observer};
use netproof_store::{RunId, Verdict};

/// Shows a progress bar of case repetitions on stderr.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar that draws only when `visible`.
    pub fn new(visible: bool, plan: &str) -> Self {
        let bar = ProgressBar::with_draw_target(
            Some(0),
            if visible {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(plan.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        Progress { bar }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Observer for Progress {
    fn run_started(&self, run: RunId, total: u64) {
        self.bar.set_length(total);
        self.bar
            .set_message(format!("run {}: bringing the lab up", run.0));
    }

    fn case_started(&self, case: &str, repetition: u32, repetitions: u32) {
        if repetitions > 1 {
            self.bar
                .set_message(format!("{case} ({repetition}/{repetitions})"));
        } else {
            self.bar.set_message(case.to_string());
        }
    }

    fn case_finished(&self, case: &str, repetition: u32, outcome: &CaseOutcome) {
        self.bar.inc(1);
        if outcome.verdict != Verdict::Pass {
            self.bar.println(format!(
                "  {case} #{repetition}: {}{}",
                outcome.verdict.as_str(),
                outcome
                    .error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ));
        }
    }
}
