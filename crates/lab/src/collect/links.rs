//! The emulated links' counters as a collector.
//!
//! The counting itself stays with [`Control::sample_links`], which owns the
//! links' state (baselines, dead emulators); this adapter gives it the
//! [`Collector`] shape. An emulator that died is recorded there as an error
//! event and fails the case through [`Control::failed_links`], as before.

use std::sync::Arc;

use netproof_sample::Sink;

use super::{Collector, CollectorError};
use crate::control::Control;

/// Every emulated link's `link.*` counters, per direction.
pub(crate) struct LinkCounters {
    control: Arc<Control>,
}

impl LinkCounters {
    pub(crate) fn new(control: Arc<Control>) -> Self {
        LinkCounters { control }
    }
}

impl Collector for LinkCounters {
    fn name(&self) -> &'static str {
        "link counters"
    }

    fn begin(&mut self) {
        self.control.reset_link_samples();
    }

    fn collect(&mut self, sink: &dyn Sink) -> Result<(), CollectorError> {
        self.control.sample_links(sink);
        Ok(())
    }
}
