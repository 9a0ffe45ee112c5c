//! Each service's sample channel: a pipe, its reader, and the collector
//! that forwards what arrived.
//!
//! The supervisor makes a pipe per service start ([`SamplePipe::new`]).
//! Both ends are close-on-exec in netproof, so no other child inherits
//! them; only the service's child clears the flag on the write end between
//! fork and exec and finds its number in `NETPROOF_SAMPLES_FD`. Whatever
//! the service forks inherits it too, so the channel ends when the last of
//! them closes it (or when the lab stops the feed).
//!
//! A reader task parses each line ([`super::line`]) into a bounded queue
//! ([`QUEUE_LIMIT`] samples). It never stops reading, so a service never
//! blocks on a full pipe: when the queue is full it counts and discards
//! lines without parsing them, which keeps a flooding service from taking
//! a core from the run. [`ServiceSamples`] empties the queues into the
//! case's sink every 100 ms; samples that arrive between cases go to the
//! lab's sink when the next case begins or the lab comes down. Malformed
//! lines and discarded samples are counted and reported once per service
//! start, as warning events, when its channel has ended.

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use netproof_sample::{Event, Sample, Severity, Sink, Timestamp};
use tokio::io::AsyncReadExt;

use super::line::{self, LINE_LIMIT};
use super::{Collector, CollectorError};
use crate::control::Control;

/// The environment variable that names the sample channel's descriptor.
pub const SAMPLES_FD_ENV: &str = "NETPROOF_SAMPLES_FD";

/// Most samples kept per service between two collections.
pub(crate) const QUEUE_LIMIT: usize = 10_000;

/// Most characters of the first malformed line quoted in the report.
const QUOTE_LIMIT: usize = 200;

/// A sample channel's pipe, before the service has been started.
pub(crate) struct SamplePipe {
    read: OwnedFd,
    write: OwnedFd,
}

impl SamplePipe {
    /// A pipe whose two ends are close-on-exec.
    pub(crate) fn new() -> std::io::Result<SamplePipe> {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two descriptors into the array it is given.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded, so both are open descriptors we own.
        let (read, write) = unsafe {
            use std::os::fd::FromRawFd;
            (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))
        };
        Ok(SamplePipe { read, write })
    }

    /// Hands the write end to the child `cmd` will start: names it in
    /// [`SAMPLES_FD_ENV`] and clears its close-on-exec flag in the child
    /// only (the descriptor's number is the same on both sides of fork).
    pub(crate) fn attach(&self, cmd: &mut tokio::process::Command) {
        let fd = self.write.as_raw_fd();
        cmd.env(SAMPLES_FD_ENV, fd.to_string());
        // SAFETY: the closure runs between fork and exec and calls only
        // fcntl, which is async-signal-safe; `fd` stays open in the parent
        // until after spawn (`start` closes it), so it is open in the child.
        unsafe {
            cmd.pre_exec(move || {
                if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }

    /// Closes netproof's copy of the write end (so the channel ends with
    /// the service's copies) and starts reading into a new [`Feed`].
    pub(crate) fn start(self, service: &str, node: &str) -> std::io::Result<Arc<Feed>> {
        drop(self.write);
        let receiver = tokio::net::unix::pipe::Receiver::from_owned_fd(self.read)?;
        let feed = Arc::new(Feed {
            service: service.to_string(),
            node: node.to_string(),
            state: Mutex::default(),
            reader: Mutex::new(None),
        });
        let task = tokio::spawn(read(receiver, feed.clone()));
        *lock(&feed.reader) = Some(task.abort_handle());
        Ok(feed)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One service start's sample channel, as read so far.
pub(crate) struct Feed {
    service: String,
    node: String,
    state: Mutex<FeedState>,
    reader: Mutex<Option<tokio::task::AbortHandle>>,
}

#[derive(Default)]
struct FeedState {
    queue: VecDeque<Sample>,
    /// Lines read, for "line N" in the report.
    lines: u64,
    malformed: u64,
    /// The first malformed line: its number, a quote, and why.
    first_bad: Option<(u64, String, String)>,
    /// Samples discarded because the queue was full.
    discarded: u64,
    /// The channel has ended (every writer closed it, or it was stopped).
    ended: bool,
    /// Its problems have been reported.
    reported: bool,
}

impl FeedState {
    fn line(&mut self, bytes: &[u8], service: &str, node: &str) {
        self.lines += 1;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        if self.queue.len() >= QUEUE_LIMIT {
            self.discarded += 1;
            return;
        }
        match line::parse(bytes, service, node, Timestamp::now()) {
            Ok(s) => self.queue.push_back(s),
            Err(e) => self.bad(bytes, e.to_string()),
        }
    }

    fn bad(&mut self, bytes: &[u8], why: String) {
        self.malformed += 1;
        if self.first_bad.is_none() {
            let text = String::from_utf8_lossy(bytes);
            let mut quote: String = text.chars().take(QUOTE_LIMIT).collect();
            if text.chars().count() > QUOTE_LIMIT {
                quote.push('…');
            }
            self.first_bad = Some((self.lines, quote, why));
        }
    }
}

/// Reads the channel to its end, line by line.
async fn read(mut r: tokio::net::unix::pipe::Receiver, feed: Arc<Feed>) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    // Inside a line longer than LINE_LIMIT: skip to its newline.
    let mut skipping = false;
    loop {
        let n = match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut st = lock(&feed.state);
        let mut chunk = &buf[..n];
        while let Some(nl) = chunk.iter().position(|&b| b == b'\n') {
            let (head, rest) = (&chunk[..nl], &chunk[nl + 1..]);
            chunk = rest;
            if skipping {
                skipping = false;
                continue;
            }
            if pending.is_empty() {
                st.line(head, &feed.service, &feed.node);
            } else {
                pending.extend_from_slice(head);
                st.line(&pending, &feed.service, &feed.node);
                pending.clear();
            }
        }
        if skipping {
            continue;
        }
        pending.extend_from_slice(chunk);
        if pending.len() > LINE_LIMIT {
            st.lines += 1;
            let quote = pending[..QUOTE_LIMIT].to_vec();
            st.bad(&quote, line::LineError::TooLong.to_string());
            pending.clear();
            skipping = true;
        }
    }
    let mut st = lock(&feed.state);
    if !pending.is_empty() && !skipping {
        // A last line without its newline still counts.
        st.line(&pending, &feed.service, &feed.node);
    }
    st.ended = true;
}

impl Feed {
    /// The service this channel belongs to.
    #[cfg(test)]
    pub(crate) fn service(&self) -> &str {
        &self.service
    }

    /// Forwards what has arrived to `sink`; once the channel has ended and
    /// is empty, reports its problems there (once). Returns whether the
    /// feed is finished (ended, emptied and reported).
    pub(crate) fn forward(&self, sink: &dyn Sink) -> bool {
        let (samples, report) = {
            let mut st = lock(&self.state);
            let samples: Vec<Sample> = st.queue.drain(..).collect();
            let report = st.ended && !st.reported;
            if report {
                st.reported = true;
            }
            (samples, report.then(|| self.problems(&st)).flatten())
        };
        for s in samples {
            sink.sample(s);
        }
        for e in report.into_iter().flatten() {
            sink.event(e);
        }
        lock(&self.state).reported
    }

    fn problems(&self, st: &FeedState) -> Option<Vec<Event>> {
        let mut out = Vec::new();
        if let Some((line, quote, why)) = &st.first_bad {
            out.push(
                Event::new(
                    "service.samples_malformed",
                    Severity::Warning,
                    format!(
                        "service `{}` on `{}` wrote {} malformed sample line(s) to {SAMPLES_FD_ENV}; they were skipped. The first (line {line}): {why}: `{quote}`\nhint: a sample line is one JSON object, e.g. {{\"metric\": \"svc.requests\", \"value\": 1, \"unit\": \"count\"}}; see docs/plan-language.md, \"Samples from services\"",
                        self.service, self.node, st.malformed
                    ),
                )
                .label("service", &self.service)
                .label("node", &self.node)
                .label("count", st.malformed.to_string()),
            );
        }
        if st.discarded > 0 {
            out.push(
                Event::new(
                    "service.samples_discarded",
                    Severity::Warning,
                    format!(
                        "service `{}` on `{}` wrote more samples than netproof keeps between two collections: {} were discarded (at most {QUEUE_LIMIT} per service wait for the next collection, which comes every 100 ms while a case runs, else when the next case begins or the lab comes down)\nhint: aggregate in the service and write fewer samples",
                        self.service, self.node, st.discarded
                    ),
                )
                .label("service", &self.service)
                .label("node", &self.node)
                .label("count", st.discarded.to_string()),
            );
        }
        Some(out)
    }

    /// Ends the channel: waits up to `limit` for the service's side to
    /// close it, then stops reading whatever still holds it open (a child
    /// that left the service's process group).
    pub(crate) async fn stop(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while !lock(&self.state).ended && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        if let Some(reader) = lock(&self.reader).take() {
            reader.abort();
        }
        lock(&self.state).ended = true;
    }
}

/// The services' sample channels as a collector.
pub(crate) struct ServiceSamples {
    control: Arc<Control>,
}

impl ServiceSamples {
    pub(crate) fn new(control: Arc<Control>) -> Self {
        ServiceSamples { control }
    }
}

impl Collector for ServiceSamples {
    fn name(&self) -> &'static str {
        "service samples"
    }

    fn begin(&mut self) {
        // What arrived between cases belongs to the run, not this case.
        self.control.forward_feeds(None);
    }

    fn collect(&mut self, sink: &dyn Sink) -> Result<(), CollectorError> {
        self.control.forward_feeds(Some(sink));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netproof_sample::{MemorySink, Value};

    fn feed() -> Feed {
        Feed {
            service: "svc".into(),
            node: "n".into(),
            state: Mutex::default(),
            reader: Mutex::new(None),
        }
    }

    #[test]
    fn problems_are_reported_once_after_the_end() {
        let f = feed();
        {
            let mut st = lock(&f.state);
            st.line(
                br#"{"metric":"svc.a","value":1,"unit":"count"}"#,
                "svc",
                "n",
            );
            st.line(b"", "svc", "n");
            st.line(b"garbage", "svc", "n");
            st.line(
                br#"{"metric":"svc.a","value":1,"unit":"parsecs"}"#,
                "svc",
                "n",
            );
        }
        let sink = MemorySink::new();
        assert!(!f.forward(&sink), "not ended yet");
        let c = sink.contents();
        assert_eq!(c.samples.len(), 1);
        assert_eq!(c.samples[0].value, Value::Num(1.0));
        assert!(c.events.is_empty(), "nothing is reported before the end");
        lock(&f.state).ended = true;
        assert!(f.forward(&sink));
        assert!(f.forward(&sink));
        let c = sink.contents();
        let bad: Vec<_> = c
            .events
            .iter()
            .filter(|e| e.kind == "service.samples_malformed")
            .collect();
        assert_eq!(bad.len(), 1, "{:?}", c.events);
        assert_eq!(bad[0].labels["count"], "2");
        assert!(bad[0].message.contains("line 3"), "{}", bad[0].message);
        assert!(bad[0].message.contains("`garbage`"), "{}", bad[0].message);
        assert_eq!(f.service(), "svc");
    }

    #[test]
    fn a_full_queue_discards_and_counts() {
        let f = feed();
        {
            let mut st = lock(&f.state);
            for _ in 0..QUEUE_LIMIT + 5 {
                st.line(
                    br#"{"metric":"svc.a","value":1,"unit":"count"}"#,
                    "svc",
                    "n",
                );
            }
            st.ended = true;
        }
        let sink = MemorySink::new();
        f.forward(&sink);
        let c = sink.contents();
        assert_eq!(c.samples.len(), QUEUE_LIMIT);
        assert_eq!(c.events.len(), 1);
        assert_eq!(c.events[0].kind, "service.samples_discarded");
        assert_eq!(c.events[0].labels["count"], "5");
    }

    #[tokio::test]
    async fn the_reader_splits_lines_across_reads_and_skips_long_ones() {
        let pipe = SamplePipe::new().unwrap();
        let mut w = std::fs::File::from(pipe.write.try_clone().unwrap());
        let f = pipe.start("svc", "n").unwrap();
        // The writes block while the pipe is full: write from a thread of
        // their own so the reader on this runtime can empty it.
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            w.write_all(br#"{"metric":"svc.a","val"#).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            w.write_all(b"ue\":2,\"unit\":\"count\"}\n").unwrap();
            w.write_all(&vec![b'x'; LINE_LIMIT + 10]).unwrap();
            w.write_all(b"\n{\"metric\":\"svc.b\",\"value\":\"t\",\"unit\":\"text\"}")
                .unwrap();
        });
        f.stop(Duration::from_secs(5)).await;
        writer.join().unwrap();
        let sink = MemorySink::new();
        assert!(f.forward(&sink));
        let c = sink.contents();
        let metrics: Vec<&str> = c.samples.iter().map(|s| s.metric.as_str()).collect();
        assert_eq!(metrics, ["svc.a", "svc.b"]);
        assert_eq!(c.events.len(), 1, "{:?}", c.events);
        assert_eq!(c.events[0].labels["count"], "1");
        assert!(c.events[0].message.contains("longer than"));
    }
}
