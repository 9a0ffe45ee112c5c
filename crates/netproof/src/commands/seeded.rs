//! Judging a run made with its plan's seeded fault (`run --seeded-fault`):
//! the fault is caught when every case it names failed (in some
//! repetition) and every expectation it names (`because`) failed in one of
//! those cases. A case that errored instead did not catch it: an error says
//! the measurement broke, not that the fault was seen.

use netproof_plan::SeededFault;
use netproof_store::{RunData, Verdict};

/// What the run showed of the fault.
#[derive(Debug, PartialEq, Eq)]
pub struct Judged {
    /// Each named case, and whether it failed.
    pub cases: Vec<(String, bool)>,
    /// Each named expectation, and whether it failed in a named case.
    pub because: Vec<(String, bool)>,
}

impl Judged {
    /// Whether the plan caught its fault.
    pub fn caught(&self) -> bool {
        self.cases
            .iter()
            .chain(&self.because)
            .all(|(_, failed)| *failed)
    }

    /// One line for the terminal.
    pub fn line(&self, fault: &SeededFault) -> String {
        let list = |items: &[(String, bool)], failed: bool| {
            items
                .iter()
                .filter(|(_, f)| *f == failed)
                .map(|(s, _)| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if self.caught() {
            let mut s = format!(
                "seeded fault caught ({}): {} failed",
                fault.summary,
                list(&self.cases, true)
            );
            if !self.because.is_empty() {
                s += &format!(" on {}", list(&self.because, true));
            }
            s
        } else {
            let mut missed = Vec::new();
            let cases = list(&self.cases, false);
            if !cases.is_empty() {
                missed.push(format!("{cases} did not fail"));
            }
            let because = list(&self.because, false);
            if !because.is_empty() {
                missed.push(format!("{because} held"));
            }
            format!(
                "seeded fault NOT caught ({}): {}",
                fault.summary,
                missed.join("; ")
            )
        }
    }

    /// One JSON object, for `--json`.
    pub fn json(&self, fault: &SeededFault) -> String {
        let map = |items: &[(String, bool)]| {
            items
                .iter()
                .map(|(s, f)| serde_json::json!({ "name": s, "failed": f }))
                .collect::<Vec<_>>()
        };
        serde_json::json!({
            "seeded_fault": {
                "summary": fault.summary,
                "caught": self.caught(),
                "cases": map(&self.cases),
                "because": map(&self.because),
            }
        })
        .to_string()
    }
}

/// Judges `data`, a run made with `fault` applied.
pub fn judge(fault: &SeededFault, data: &RunData) -> Judged {
    let in_named = |case_run| {
        data.cases
            .iter()
            .any(|c| c.id == case_run && fault.fails.contains(&c.info.case_id))
    };
    Judged {
        cases: fault
            .fails
            .iter()
            .map(|id| {
                let failed = data
                    .cases
                    .iter()
                    .any(|c| &c.info.case_id == id && c.verdict == Some(Verdict::Fail));
                (id.clone(), failed)
            })
            .collect(),
        because: fault
            .because
            .iter()
            .map(|text| {
                let failed = data.expectations.iter().any(|e| {
                    e.result.text.trim() == text.trim()
                        && e.result.verdict == Verdict::Fail
                        && in_named(e.case_run)
                });
                (text.clone(), failed)
            })
            .collect(),
    }
}
