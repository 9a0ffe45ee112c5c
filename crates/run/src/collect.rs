//! Drives the lab's collectors through one case repetition.
//!
//! [`Collection::start`] takes the lab's collectors (link counters,
//! service samples, service resources, and the route monitor of the
//! case's `monitor_routes`: see [`netproof_lab::collect`]),
//! lets each take its baseline, and asks all of them for samples every
//! [`INTERVAL`] (the first at once) until [`Collection::finish`], which
//! asks once more so the last interval is not lost. Collecting may block,
//! so each round runs off the async workers. A collector that fails is
//! reported once, as a warning event, and not asked again in this case; it
//! never fails the case (the lab's own failures do that).

use std::sync::{Arc, Mutex};

use netproof_lab::collect::INTERVAL;
use netproof_lab::{Collector, Lab};
use netproof_sample::{Event, Severity, Sink};

/// A collector and whether it has failed in this case.
struct Slot {
    collector: Box<dyn Collector>,
    failed: bool,
}

/// The collectors of one case repetition, being driven.
pub(crate) struct Collection {
    slots: Arc<Mutex<Vec<Slot>>>,
    sink: Arc<dyn Sink>,
    task: tokio::task::JoinHandle<()>,
}

impl Collection {
    /// Starts collecting into `sink`, watching the routes of
    /// `monitor_routes`; `None` when there is nothing to collect. A route
    /// monitor that cannot start is reported like a failed collector.
    pub(crate) fn start(
        lab: &Lab,
        sink: Arc<dyn Sink>,
        monitor_routes: &[String],
    ) -> Option<Collection> {
        let mut collectors = lab.collectors();
        match lab.route_monitor(monitor_routes) {
            Ok(monitor) => collectors.extend(monitor),
            Err(e) => sink.event(
                Event::new(
                    "collector.failed",
                    Severity::Warning,
                    format!("the route monitor did not start for this case: {e}"),
                )
                .label("collector", "route monitor"),
            ),
        }
        if collectors.is_empty() {
            return None;
        }
        for c in &mut collectors {
            c.begin();
        }
        let slots = Arc::new(Mutex::new(
            collectors
                .into_iter()
                .map(|collector| Slot {
                    collector,
                    failed: false,
                })
                .collect(),
        ));
        let task = {
            let (slots, sink) = (slots.clone(), sink.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(INTERVAL);
                loop {
                    tick.tick().await;
                    let (slots, sink) = (slots.clone(), sink.clone());
                    let _ = tokio::task::spawn_blocking(move || round(&slots, sink.as_ref())).await;
                }
            })
        };
        Some(Collection { slots, sink, task })
    }

    /// Stops the periodic rounds and runs a last one.
    pub(crate) async fn finish(self) {
        self.task.abort();
        let _ = self.task.await;
        let (slots, sink) = (self.slots, self.sink);
        let _ = tokio::task::spawn_blocking(move || round(&slots, sink.as_ref())).await;
    }
}

/// Asks every collector that has not failed for its samples.
fn round(slots: &Mutex<Vec<Slot>>, sink: &dyn Sink) {
    let mut slots = slots.lock().unwrap_or_else(|e| e.into_inner());
    for slot in slots.iter_mut().filter(|s| !s.failed) {
        if let Err(e) = slot.collector.collect(sink) {
            slot.failed = true;
            sink.event(
                Event::new(
                    "collector.failed",
                    Severity::Warning,
                    format!(
                        "the {} collector stopped for the rest of this case: {e}",
                        slot.collector.name()
                    ),
                )
                .label("collector", slot.collector.name()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netproof_lab::CollectorError;
    use netproof_sample::MemorySink;

    struct Broken(Arc<std::sync::atomic::AtomicU32>);

    impl Collector for Broken {
        fn name(&self) -> &'static str {
            "broken"
        }
        fn begin(&mut self) {}
        fn collect(&mut self, _: &dyn Sink) -> Result<(), CollectorError> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Err(CollectorError::Proc {
                path: "/proc".into(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            })
        }
    }

    #[test]
    fn a_failing_collector_is_reported_once_and_not_asked_again() {
        let calls = Arc::default();
        let slots = Mutex::new(vec![Slot {
            collector: Box::new(Broken(Arc::clone(&calls))),
            failed: false,
        }]);
        let sink = MemorySink::new();
        for _ in 0..3 {
            round(&slots, &sink);
        }
        let events = sink.contents().events;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, "collector.failed");
        assert!(events[0].message.contains("broken collector"));
        assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 1);
    }
}
