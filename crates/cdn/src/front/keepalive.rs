//! Deadlines of an HTTP/1.1 connection between and inside requests: a
//! kept-alive connection may sit idle for the idle timeout, while a request
//! head, once its first byte arrived, must be whole within the header-read
//! timeout (slowloris).
//!
//! hyper's own `header_read_timeout` cannot say this: it starts its timer
//! as soon as a response ends, so an idle kept-alive connection is cut
//! after the header-read timeout (10 s), far sooner than clients and load
//! balancers expect (nginx keeps 75 s). So the front turns hyper's off for
//! HTTP/1.1 and wraps the connection in [`Timed`]: [`Phases`] (sans-IO, on
//! an explicit clock) knows whether the connection waits for a head (since
//! the connection started, or since the first byte after an idle spell),
//! serves a request (no deadline: the response may take as long as the
//! fill), or is idle (since its last response ended); the wrapper's reads
//! end the connection when the deadline passes: an idle one as a clean
//! end of stream, a late head as a timed-out error the front counts.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// What a connection is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for (the rest of) a request head, since then.
    Head(Instant),
    /// Serving this many requests (HTTP/1.1 pipelining: more than one).
    Busy(usize),
    /// No request since the last response ended, then.
    Idle(Instant),
}

/// Which deadline ended a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// A request head was not whole in time (slowloris, or silence).
    Head,
    /// The connection sat idle past the idle timeout (a normal close).
    Idle,
}

/// A connection's phase and its deadlines.
#[derive(Debug, Clone)]
pub struct Phases {
    head_timeout: Duration,
    idle_timeout: Duration,
    phase: Phase,
    expired: Option<Expired>,
}

impl Phases {
    /// A connection that waits for its first head since `since`.
    pub fn new(head_timeout: Duration, idle_timeout: Duration, since: Instant) -> Phases {
        Phases {
            head_timeout,
            idle_timeout,
            phase: Phase::Head(since),
            expired: None,
        }
    }

    /// Bytes arrived at `now`: an idle connection starts a head.
    pub fn bytes(&mut self, now: Instant) {
        if let Phase::Idle(_) = self.phase {
            self.phase = Phase::Head(now);
        }
    }

    /// A request's head was read: it is being served.
    pub fn request(&mut self) {
        self.phase = match self.phase {
            Phase::Busy(n) => Phase::Busy(n + 1),
            Phase::Head(_) | Phase::Idle(_) => Phase::Busy(1),
        };
    }

    /// A response ended (or was dropped) at `now`; the last one makes the
    /// connection idle.
    pub fn response_end(&mut self, now: Instant) {
        self.phase = match self.phase {
            Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
            _ => Phase::Idle(now),
        };
    }

    /// When the connection ends unless something happens, and why.
    pub fn deadline(&self) -> Option<(Instant, Expired)> {
        match self.phase {
            Phase::Head(since) => Some((since + self.head_timeout, Expired::Head)),
            Phase::Idle(since) => Some((since + self.idle_timeout, Expired::Idle)),
            Phase::Busy(_) => None,
        }
    }

    /// The deadline that passed at `now`, remembered for [`Phases::expired`].
    pub fn check(&mut self, now: Instant) -> Option<Expired> {
        let (at, why) = self.deadline()?;
        (now >= at).then(|| {
            self.expired = Some(why);
            why
        })
    }

    /// Which deadline ended the connection, if one did.
    pub fn expired(&self) -> Option<Expired> {
        self.expired
    }
}

/// [`Phases`] shared by a connection's reads and its requests.
#[derive(Debug, Clone)]
pub struct Shared(Arc<Mutex<Phases>>);

impl Shared {
    /// Shares `phases`.
    pub fn new(phases: Phases) -> Shared {
        Shared(Arc::new(Mutex::new(phases)))
    }

    /// The phases. Nothing panics while holding them; a poisoned lock is
    /// taken as it is.
    pub fn lock(&self) -> MutexGuard<'_, Phases> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// An HTTP/1.1 connection's stream under [`Phases`]' deadlines.
pub struct Timed<I> {
    io: I,
    phases: Shared,
    sleep: Pin<Box<Sleep>>,
    armed: Option<Instant>,
}

impl<I> Timed<I> {
    /// `io` under `phases`.
    pub fn new(io: I, phases: Shared) -> Timed<I> {
        Timed {
            io,
            phases,
            sleep: Box::pin(tokio::time::sleep_until(Instant::now())),
            armed: None,
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Timed<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let now = Instant::now();
        // Checked before reading too: a slowloris's bytes always arrive.
        let expired = this.phases.lock().check(now);
        if let Some(why) = expired {
            return Poll::Ready(end(why));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.phases.lock().bytes(now);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let deadline = this.phases.lock().deadline();
                let Some((at, _)) = deadline else {
                    return Poll::Pending;
                };
                if this.armed != Some(at) {
                    this.sleep.as_mut().reset(at);
                    this.armed = Some(at);
                }
                if this.sleep.as_mut().poll(cx).is_ready() {
                    let expired = this.phases.lock().check(Instant::now());
                    if let Some(why) = expired {
                        return Poll::Ready(end(why));
                    }
                }
                Poll::Pending
            }
        }
    }
}

/// How a read ends a connection whose deadline passed: an idle one as a
/// clean end of stream (hyper closes it quietly), a late head as an error.
fn end(why: Expired) -> io::Result<()> {
    match why {
        Expired::Idle => Ok(()),
        Expired::Head => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the request head was not whole within the header-read timeout",
        )),
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Timed<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: Duration = Duration::from_secs(10);
    const IDLE: Duration = Duration::from_secs(60);

    #[test]
    fn a_new_connection_must_send_its_head_within_the_header_timeout() {
        let t0 = Instant::now();
        let mut p = Phases::new(HEAD, IDLE, t0);
        assert_eq!(p.deadline(), Some((t0 + HEAD, Expired::Head)));
        assert_eq!(p.check(t0 + HEAD - Duration::from_millis(1)), None);
        assert_eq!(p.check(t0 + HEAD), Some(Expired::Head));
        assert_eq!(p.expired(), Some(Expired::Head));
    }

    #[test]
    fn an_idle_kept_alive_connection_has_the_idle_timeout_and_its_next_head_the_header_timeout() {
        let t0 = Instant::now();
        let mut p = Phases::new(HEAD, IDLE, t0);
        p.bytes(t0);
        p.request();
        // Serving takes longer than either timeout: no deadline.
        assert_eq!(p.deadline(), None);
        assert_eq!(p.check(t0 + IDLE * 2), None);
        let done = t0 + IDLE * 2;
        p.response_end(done);
        // Idle for longer than the header timeout: still open.
        assert_eq!(p.check(done + HEAD * 3), None);
        // A byte of the next head starts the header timeout from then.
        let first = done + HEAD * 3;
        p.bytes(first);
        assert_eq!(p.deadline(), Some((first + HEAD, Expired::Head)));
        // More bytes do not move it (a slowloris keeps sending).
        p.bytes(first + HEAD / 2);
        assert_eq!(p.check(first + HEAD), Some(Expired::Head));
    }

    #[test]
    fn an_idle_connection_ends_at_the_idle_timeout() {
        let t0 = Instant::now();
        let mut p = Phases::new(HEAD, IDLE, t0);
        p.request();
        p.response_end(t0);
        assert_eq!(p.check(t0 + IDLE - Duration::from_millis(1)), None);
        assert_eq!(p.check(t0 + IDLE), Some(Expired::Idle));
    }

    #[test]
    fn pipelined_requests_keep_the_connection_busy_until_the_last_response() {
        let t0 = Instant::now();
        let mut p = Phases::new(HEAD, IDLE, t0);
        p.request();
        p.request();
        p.response_end(t0);
        assert_eq!(p.deadline(), None);
        p.response_end(t0 + HEAD);
        assert_eq!(p.deadline(), Some((t0 + HEAD + IDLE, Expired::Idle)));
    }
}
