//! A run's rows grouped by case and repetition.
//!
//! The store returns flat lists (case repetitions, steps, samples, events,
//! expectation results, artifacts). [`Index`] groups them once, by case id
//! in execution order and by case repetition, holding indices into the
//! [`RunData`] so every renderer walks the same grouping. Rows that name a
//! case repetition the run does not have are kept as run-level rows rather
//! than dropped.

use std::collections::BTreeMap;

use netproof_store::{CaseRunId, RunData, StepId};

/// One case of the plan as run: its repetitions in order.
#[derive(Debug, Clone)]
pub(crate) struct CaseGroup {
    /// The case id.
    pub id: String,
    /// The case title (from its first repetition).
    pub title: String,
    /// The case purpose, if any.
    pub purpose: Option<String>,
    /// How many repetitions the plan asked for.
    pub planned: u32,
    /// Indices into `RunData::cases`, ordered by repetition.
    pub reps: Vec<usize>,
}

/// Indices into a [`RunData`], grouped by case repetition.
#[derive(Debug, Clone, Default)]
pub(crate) struct Index {
    /// Cases in order of first execution.
    pub cases: Vec<CaseGroup>,
    case_rows: BTreeMap<CaseRunId, usize>,
    step_rows: BTreeMap<StepId, usize>,
    steps: BTreeMap<CaseRunId, Vec<usize>>,
    samples: BTreeMap<Option<CaseRunId>, Vec<usize>>,
    events: BTreeMap<Option<CaseRunId>, Vec<usize>>,
    expectations: BTreeMap<CaseRunId, Vec<usize>>,
    artifacts: BTreeMap<Option<CaseRunId>, Vec<usize>>,
}

impl Index {
    /// Groups `data`'s rows.
    pub fn new(data: &RunData) -> Index {
        let mut index = Index::default();
        for (i, c) in data.cases.iter().enumerate() {
            index.case_rows.insert(c.id, i);
            match index.cases.iter_mut().find(|g| g.id == c.info.case_id) {
                Some(g) => {
                    g.reps.push(i);
                    g.planned = g.planned.max(c.info.repetitions);
                }
                None => index.cases.push(CaseGroup {
                    id: c.info.case_id.clone(),
                    title: c.info.title.clone(),
                    purpose: c.info.purpose.clone(),
                    planned: c.info.repetitions.max(1),
                    reps: vec![i],
                }),
            }
        }
        for g in &mut index.cases {
            // Stable: duplicate repetition numbers keep execution order.
            g.reps.sort_by_key(|&i| data.cases[i].info.repetition);
        }
        let known = |c: Option<CaseRunId>| c.filter(|c| index.case_rows.contains_key(c));
        for (i, s) in data.steps.iter().enumerate() {
            index.step_rows.insert(s.id, i);
            if index.case_rows.contains_key(&s.case_run) {
                index.steps.entry(s.case_run).or_default().push(i);
            }
        }
        let mut samples: BTreeMap<_, Vec<_>> = BTreeMap::new();
        for (i, s) in data.samples.iter().enumerate() {
            samples.entry(known(s.case_run)).or_default().push(i);
        }
        let mut events: BTreeMap<_, Vec<_>> = BTreeMap::new();
        for (i, e) in data.events.iter().enumerate() {
            events.entry(known(e.case_run)).or_default().push(i);
        }
        let mut artifacts: BTreeMap<_, Vec<_>> = BTreeMap::new();
        for (i, a) in data.artifacts.iter().enumerate() {
            artifacts.entry(known(a.case_run)).or_default().push(i);
        }
        for (i, e) in data.expectations.iter().enumerate() {
            if index.case_rows.contains_key(&e.case_run) {
                index.expectations.entry(e.case_run).or_default().push(i);
            }
        }
        index.samples = samples;
        index.events = events;
        index.artifacts = artifacts;
        index
    }

    /// The row index of a step.
    pub fn step_row(&self, id: StepId) -> Option<usize> {
        self.step_rows.get(&id).copied()
    }

    /// Steps of a case repetition, in execution order.
    pub fn steps(&self, case_run: CaseRunId) -> &[usize] {
        self.steps.get(&case_run).map_or(&[], Vec::as_slice)
    }

    /// Samples of a case repetition, or run-level samples for `None`.
    pub fn samples(&self, case_run: Option<CaseRunId>) -> &[usize] {
        self.samples.get(&case_run).map_or(&[], Vec::as_slice)
    }

    /// Events of a case repetition, or run-level events for `None`.
    pub fn events(&self, case_run: Option<CaseRunId>) -> &[usize] {
        self.events.get(&case_run).map_or(&[], Vec::as_slice)
    }

    /// Expectation results of a case repetition.
    pub fn expectations(&self, case_run: CaseRunId) -> &[usize] {
        self.expectations.get(&case_run).map_or(&[], Vec::as_slice)
    }

    /// Artifacts of a case repetition, or run-level artifacts for `None`.
    pub fn artifacts(&self, case_run: Option<CaseRunId>) -> &[usize] {
        self.artifacts.get(&case_run).map_or(&[], Vec::as_slice)
    }
}
