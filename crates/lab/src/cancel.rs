//! Cancellation shared by a run's tasks.
//!
//! One [`Cancel`] per run is triggered by Ctrl-C or SIGTERM; each case derives
//! a child that is also triggered when the case times out. Steps check it
//! between actions and race it against every wait, so a cancelled run reaches
//! its teardown promptly.

use std::sync::Arc;

use tokio::sync::watch;

/// Why something was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The user interrupted the run (SIGINT or SIGTERM).
    Interrupted,
    /// The case's timeout expired.
    CaseTimeout,
}

/// A cancellation signal that can be triggered once and awaited by many.
#[derive(Debug, Clone)]
pub struct Cancel {
    tx: Arc<watch::Sender<Option<Reason>>>,
    parent: Option<Box<Cancel>>,
}

impl Default for Cancel {
    fn default() -> Self {
        Self::new()
    }
}

impl Cancel {
    /// A fresh, untriggered signal.
    pub fn new() -> Self {
        let (tx, _) = watch::channel(None);
        Cancel {
            tx: Arc::new(tx),
            parent: None,
        }
    }

    /// A signal triggered by this one or by its own [`Cancel::trigger`].
    pub fn child(&self) -> Self {
        let (tx, _) = watch::channel(None);
        Cancel {
            tx: Arc::new(tx),
            parent: Some(Box::new(self.clone())),
        }
    }

    /// Triggers the signal (the first reason wins).
    pub fn trigger(&self, reason: Reason) {
        self.tx.send_if_modified(|r| {
            if r.is_none() {
                *r = Some(reason);
                true
            } else {
                false
            }
        });
    }

    /// Why the signal was triggered, if it was (own reason first).
    pub fn reason(&self) -> Option<Reason> {
        (*self.tx.borrow()).or_else(|| self.parent.as_ref().and_then(|p| p.reason()))
    }

    /// Whether the signal has been triggered.
    pub fn is_cancelled(&self) -> bool {
        self.reason().is_some()
    }

    /// Waits until the signal (or a parent's) is triggered.
    pub async fn cancelled(&self) {
        let mut own = self.tx.subscribe();
        match &self.parent {
            None => {
                let _ = own.wait_for(|r| r.is_some()).await;
            }
            Some(p) => {
                let parent = p.clone();
                tokio::select! {
                    _ = own.wait_for(|r| r.is_some()) => {}
                    _ = Box::pin(parent.cancelled()) => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn child_sees_parent_and_not_the_reverse() {
        let run = Cancel::new();
        let case = run.child();
        case.trigger(Reason::CaseTimeout);
        assert_eq!(case.reason(), Some(Reason::CaseTimeout));
        assert_eq!(run.reason(), None);
        let other = run.child();
        run.trigger(Reason::Interrupted);
        other.cancelled().await;
        assert_eq!(other.reason(), Some(Reason::Interrupted));
        // The case keeps its own, earlier reason.
        assert_eq!(case.reason(), Some(Reason::CaseTimeout));
    }
}
