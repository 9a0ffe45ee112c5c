//! Ctrl-C and SIGTERM: cancel the run, let teardown finish.
//!
//! The first signal triggers the run's [`Cancel`] with
//! [`Reason::Interrupted`]; steps stop, teardown runs, the lab comes down
//! and the run is recorded as `interrupted`. The caller exits with 130, as
//! shells expect after Ctrl-C.

use tokio::signal::unix::{SignalKind, signal};

use netproof_lab::{Cancel, Reason};

/// Starts a task that triggers `cancel` on SIGINT or SIGTERM.
/// Must be called from within a Tokio runtime.
pub fn install(cancel: Cancel) -> std::io::Result<()> {
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        cancel.trigger(Reason::Interrupted);
    });
    Ok(())
}
