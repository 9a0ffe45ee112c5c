//! The player's state on a clock it is given: the buffer, playback,
//! stalls, the adaptation decision for each segment, and the session's
//! quality figures at the end.
//!
//! Sans-IO in quinn's manner: every call takes `now` (time since the
//! session started), nothing reads a clock or touches a socket, so tests
//! run whole sessions on a virtual clock exactly. The I/O layer
//! ([`super::client`]) asks [`Player::next`] what to do, fetches, and
//! reports back with [`Player::downloaded`] or [`Player::failed`].
//!
//! The model: the buffer holds media time; while playing it drains at
//! one second per second. Playback starts once `startup` is buffered (or
//! the whole title is), and after a stall resumes once `resume` is
//! buffered. A stall is the buffer running dry while media is still to
//! come; the startup delay is not a stall (it is reported by itself).
//! Downloads are sequential, one segment at a time, and pause while the
//! buffer is full (`max_buffer`), as players do.

use std::time::Duration;

use super::adapt::{self, Algorithm, Situation};

/// How a session plays.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayerConfig {
    /// Media time per segment.
    pub segment_duration: Duration,
    /// Bitrates in kbit/s, lowest first.
    pub bitrates: Vec<u32>,
    /// Segments in the title.
    pub segments: usize,
    /// The adaptation algorithm.
    pub algorithm: Algorithm,
    /// No download starts while the buffer holds more than this minus
    /// one segment.
    pub max_buffer: Duration,
    /// Buffer needed before playback starts.
    pub startup: Duration,
    /// Buffer needed before playback resumes after a stall.
    pub resume: Duration,
}

impl PlayerConfig {
    /// A session with one segment to start and to resume, and a 30 s
    /// buffer.
    pub fn new(segment_duration: Duration, bitrates: Vec<u32>, segments: usize) -> PlayerConfig {
        PlayerConfig {
            segment_duration,
            bitrates,
            segments,
            algorithm: Algorithm::THROUGHPUT,
            max_buffer: Duration::from_secs(30),
            startup: segment_duration,
            resume: segment_duration,
        }
    }
}

/// What the player wants now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Download `segment` of rendition `rendition`.
    Fetch {
        /// The segment's index.
        segment: usize,
        /// The rendition's index (into the bitrates).
        rendition: usize,
    },
    /// The buffer is full: ask again at this time.
    WaitUntil(Duration),
    /// Every segment is downloaded (or the session was abandoned).
    Done,
}

/// One segment as the session saw it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegmentRecord {
    /// The segment's index.
    pub segment: usize,
    /// The rendition's index.
    pub rendition: usize,
    /// Its bitrate in kbit/s.
    pub kbps: u32,
    /// When it was asked for.
    pub requested: Duration,
    /// When its last byte arrived.
    pub done: Duration,
    /// Buffer level when it was asked for.
    pub buffer_before: Duration,
    /// Buffer level once it was added.
    pub buffer_after: Duration,
    /// Download throughput, bit/s.
    pub throughput: f64,
}

/// One stall: the buffer ran dry while media was still to come.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stall {
    /// When playback stopped.
    pub at: Duration,
    /// How long until it resumed (or the session ended).
    pub duration: Duration,
}

/// The session's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSummary {
    /// From the first request to the start of playback; `None` if it
    /// never started.
    pub startup_delay: Option<Duration>,
    /// The stalls after playback started.
    pub stalls: Vec<Stall>,
    /// Rendition changes between consecutive segments.
    pub switches: u32,
    /// Mean bitrate of the downloaded segments, bit/s.
    pub average_bitrate: f64,
    /// Pensieve's QoE_lin per segment: mean bitrate (Mbit/s) minus 4.3 ×
    /// rebuffering seconds per segment minus mean switch magnitude
    /// (Mbit/s).
    pub qoe: f64,
    /// Segments downloaded.
    pub segments: usize,
    /// The session ended before the title did (every URL failed).
    pub abandoned: bool,
}

impl SessionSummary {
    /// Seconds spent stalled, in total.
    pub fn stall_time(&self) -> Duration {
        self.stalls.iter().map(|s| s.duration).sum()
    }
}

/// Pensieve's rebuffering penalty, per second, for QoE_lin.
pub const REBUFFER_PENALTY: f64 = 4.3;

/// A session in progress.
#[derive(Debug, Clone)]
pub struct Player {
    cfg: PlayerConfig,
    buffer: Duration,
    last: Duration,
    playing: bool,
    started: Option<Duration>,
    stall_since: Option<Duration>,
    stalls: Vec<Stall>,
    next_segment: usize,
    pending: Option<(usize, usize, Duration, Duration)>,
    records: Vec<SegmentRecord>,
    throughputs: Vec<f64>,
    abandoned: bool,
}

impl Player {
    /// A session at time zero with an empty buffer.
    pub fn new(cfg: PlayerConfig) -> Player {
        Player {
            cfg,
            buffer: Duration::ZERO,
            last: Duration::ZERO,
            playing: false,
            started: None,
            stall_since: None,
            stalls: Vec::new(),
            next_segment: 0,
            pending: None,
            records: Vec::new(),
            throughputs: Vec::new(),
            abandoned: false,
        }
    }

    /// The buffer level at `now` (after playing out the time since the
    /// last call).
    pub fn buffer(&mut self, now: Duration) -> Duration {
        self.advance(now);
        self.buffer
    }

    /// Whether the player is stalled (playback started, buffer empty,
    /// media still to come).
    pub fn stalled(&self) -> bool {
        self.stall_since.is_some()
    }

    /// The segments downloaded so far.
    pub fn records(&self) -> &[SegmentRecord] {
        &self.records
    }

    /// What to do at `now`.
    pub fn next(&mut self, now: Duration) -> Next {
        self.advance(now);
        if self.abandoned || self.next_segment >= self.cfg.segments {
            return Next::Done;
        }
        let room = self
            .cfg
            .max_buffer
            .saturating_sub(self.cfg.segment_duration);
        if self.buffer > room {
            return Next::WaitUntil(now + (self.buffer - room));
        }
        let rendition = adapt::choose(
            &self.cfg.algorithm,
            &Situation {
                bitrates: &self.cfg.bitrates,
                throughputs: &self.throughputs,
                buffer: self.buffer,
                previous: self.records.last().map(|r| r.rendition),
            },
        )
        .min(self.cfg.bitrates.len() - 1);
        self.pending = Some((self.next_segment, rendition, now, self.buffer));
        Next::Fetch {
            segment: self.next_segment,
            rendition,
        }
    }

    /// The segment asked for by the last [`Next::Fetch`] arrived whole at
    /// `now`: `bytes` in `download` (request to last byte).
    pub fn downloaded(&mut self, now: Duration, bytes: u64, download: Duration) -> SegmentRecord {
        self.advance(now);
        let (segment, rendition, requested, buffer_before) =
            self.pending
                .take()
                .unwrap_or((self.next_segment, 0, now, self.buffer));
        let throughput = if download.is_zero() {
            f64::INFINITY
        } else {
            bytes as f64 * 8.0 / download.as_secs_f64()
        };
        if throughput.is_finite() {
            self.throughputs.push(throughput);
        }
        self.buffer += self.cfg.segment_duration;
        self.next_segment = segment + 1;
        let all_in = self.next_segment >= self.cfg.segments;
        if !self.playing {
            let needed = if self.started.is_none() {
                self.cfg.startup
            } else {
                self.cfg.resume
            };
            if self.buffer >= needed || all_in {
                self.playing = true;
                match self.started {
                    None => self.started = Some(now),
                    Some(_) => self.end_stall(now),
                }
            }
        }
        let record = SegmentRecord {
            segment,
            rendition,
            kbps: self.cfg.bitrates[rendition],
            requested,
            done: now,
            buffer_before,
            buffer_after: self.buffer,
            throughput,
        };
        self.records.push(record);
        record
    }

    /// The segment asked for could not be had from any URL: the session
    /// is abandoned at `now` (what was measured stays).
    pub fn failed(&mut self, now: Duration) {
        self.advance(now);
        self.pending = None;
        self.abandoned = true;
    }

    /// Ends the session at `now` (the last download's end, or the
    /// abandonment) and sums it up. Media still buffered is taken as
    /// played; a stall still open is closed at `now`.
    pub fn finish(mut self, now: Duration) -> SessionSummary {
        self.advance(now);
        if self.stall_since.is_some() {
            self.end_stall(now);
        }
        let n = self.records.len();
        let kbps: Vec<f64> = self.records.iter().map(|r| f64::from(r.kbps)).collect();
        let switches = self
            .records
            .windows(2)
            .filter(|w| w[0].rendition != w[1].rendition)
            .count() as u32;
        let average_bitrate = if n == 0 {
            0.0
        } else {
            kbps.iter().sum::<f64>() * 1000.0 / n as f64
        };
        let stall_s: f64 = self.stalls.iter().map(|s| s.duration.as_secs_f64()).sum();
        let magnitude: f64 = kbps.windows(2).map(|w| (w[1] - w[0]).abs()).sum();
        let qoe = if n == 0 {
            0.0
        } else {
            (kbps.iter().sum::<f64>() / 1000.0 - REBUFFER_PENALTY * stall_s - magnitude / 1000.0)
                / n as f64
        };
        SessionSummary {
            startup_delay: self.started,
            stalls: self.stalls,
            switches,
            average_bitrate,
            qoe,
            segments: n,
            abandoned: self.abandoned,
        }
    }

    /// Plays out the time since the last call.
    fn advance(&mut self, now: Duration) {
        let dt = now.saturating_sub(self.last);
        let since = self.last;
        self.last = self.last.max(now);
        if !self.playing {
            return;
        }
        if dt < self.buffer {
            self.buffer -= dt;
            return;
        }
        let dry = since + self.buffer;
        self.buffer = Duration::ZERO;
        self.playing = false;
        // Media still to come (a segment in flight or not yet asked for):
        // a stall. Otherwise the title has simply played to its end.
        if self.next_segment < self.cfg.segments && !self.abandoned {
            self.stall_since = Some(dry);
        }
    }

    fn end_stall(&mut self, now: Duration) {
        if let Some(at) = self.stall_since.take() {
            self.stalls.push(Stall {
                at,
                duration: now.saturating_sub(at),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEG: Duration = Duration::from_secs(2);

    /// A link whose rate (bit/s) changes at given times; a download of
    /// `bytes` starting at `t` ends when the integral of the rate reaches
    /// them, plus one RTT.
    struct Link {
        schedule: Vec<(Duration, f64)>,
        rtt: Duration,
    }

    impl Link {
        fn rate_at(&self, t: Duration) -> f64 {
            self.schedule
                .iter()
                .rev()
                .find(|(at, _)| *at <= t)
                .map_or(0.0, |(_, r)| *r)
        }

        fn download(&self, start: Duration, bytes: u64) -> Duration {
            let mut t = start + self.rtt;
            let mut left = bytes as f64 * 8.0;
            let step = Duration::from_millis(1);
            while left > 0.0 {
                left -= self.rate_at(t) * step.as_secs_f64();
                t += step;
            }
            t
        }
    }

    /// Plays a whole session over `link`; segment sizes are nominal.
    fn play(cfg: PlayerConfig, link: &Link) -> (SessionSummary, Vec<SegmentRecord>) {
        let mut p = Player::new(cfg.clone());
        let mut now = Duration::ZERO;
        loop {
            match p.next(now) {
                Next::Done => break,
                Next::WaitUntil(t) => now = t,
                Next::Fetch { rendition, .. } => {
                    let bytes = u64::from(cfg.bitrates[rendition]) * 1000 / 8 * SEG.as_secs();
                    let end = link.download(now, bytes);
                    p.downloaded(end, bytes, end - now);
                    now = end;
                }
            }
        }
        let records = p.records().to_vec();
        (p.finish(now), records)
    }

    fn cfg(algorithm: Algorithm) -> PlayerConfig {
        PlayerConfig {
            algorithm,
            // Above BBA's reservoir + cushion, so it can reach the top.
            max_buffer: Duration::from_secs(16),
            ..PlayerConfig::new(SEG, vec![500, 1500, 4000], 30)
        }
    }

    #[test]
    fn a_fast_link_plays_without_stalls_and_climbs_to_the_top_bitrate() {
        let link = Link {
            schedule: vec![(Duration::ZERO, 20e6)],
            rtt: Duration::from_millis(20),
        };
        for algorithm in [Algorithm::THROUGHPUT, Algorithm::BBA] {
            let (s, records) = play(cfg(algorithm), &link);
            assert!(s.stalls.is_empty(), "{algorithm:?}: {s:?}");
            assert_eq!(s.segments, 30);
            assert_eq!(records.last().unwrap().kbps, 4000, "{algorithm:?}");
            // Startup: the first (lowest) segment: 125 kB at 20 Mbit/s + RTT.
            let startup = s.startup_delay.unwrap().as_secs_f64();
            assert!((startup - 0.07).abs() < 0.005, "{startup}");
            // The buffer never exceeds its cap.
            assert!(
                records
                    .iter()
                    .all(|r| r.buffer_after <= Duration::from_secs(16))
            );
            assert!(s.qoe > 0.0);
        }
    }

    #[test]
    fn a_rate_cut_below_the_lowest_bitrate_stalls_for_the_gap_less_the_buffer() {
        // 10 Mbit/s, then 30 s of 50 kbit/s (a tenth of the lowest
        // bitrate) from t = 20 s, then 10 Mbit/s again.
        let cut = Duration::from_secs(20);
        let gap = Duration::from_secs(30);
        let link = Link {
            schedule: vec![(Duration::ZERO, 10e6), (cut, 50e3), (cut + gap, 10e6)],
            rtt: Duration::from_millis(10),
        };
        for algorithm in [Algorithm::THROUGHPUT, Algorithm::BBA] {
            let (s, _) = play(cfg(algorithm), &link);
            assert_eq!(s.stalls.len(), 1, "{algorithm:?}: {s:?}");
            let stall = s.stalls[0];
            // The buffer (at most 16 s) covers the start of the gap; the
            // stall ends within a segment of the gap's end.
            assert!(
                stall.at >= cut && stall.at <= cut + Duration::from_secs(16),
                "{stall:?}"
            );
            let end = stall.at + stall.duration;
            assert!(
                end >= cut + gap && end <= cut + gap + SEG,
                "{algorithm:?}: stall ends at {end:?}"
            );
            assert!(s.qoe < 4.0, "rebuffering costs QoE: {}", s.qoe);
        }
    }

    #[test]
    fn qoe_lin_is_pensieves_formula() {
        // Hand-built: 500, 1500, 500 kbit/s with one 1 s stall.
        let mut p = Player::new(PlayerConfig {
            algorithm: Algorithm::THROUGHPUT,
            ..PlayerConfig::new(SEG, vec![500, 1500], 3)
        });
        let s0 = Duration::ZERO;
        assert_eq!(
            p.next(s0),
            Next::Fetch {
                segment: 0,
                rendition: 0
            }
        );
        // 250 kB in 0.5 s = 4 Mbit/s: next is 1500.
        p.downloaded(
            Duration::from_millis(500),
            250_000,
            Duration::from_millis(500),
        );
        assert_eq!(p.buffer(Duration::from_millis(500)), SEG);
        assert_eq!(
            p.next(Duration::from_millis(500)),
            Next::Fetch {
                segment: 1,
                rendition: 1
            }
        );
        // Arrives 3 s later: the buffer ran dry at 2.5 s, 1 s stall.
        p.downloaded(Duration::from_millis(3500), 375_000, Duration::from_secs(3));
        // Harmonic mean of 4 and 1 Mbit/s = 1.6; × 0.9 = 1.44 < 1.5: down.
        assert_eq!(
            p.next(Duration::from_millis(3500)),
            Next::Fetch {
                segment: 2,
                rendition: 0
            }
        );
        p.downloaded(
            Duration::from_millis(4000),
            125_000,
            Duration::from_millis(500),
        );
        let s = p.finish(Duration::from_millis(4000));
        assert_eq!(s.startup_delay, Some(Duration::from_millis(500)));
        assert_eq!(
            s.stalls,
            vec![Stall {
                at: Duration::from_millis(2500),
                duration: Duration::from_secs(1)
            }]
        );
        assert_eq!(s.switches, 2);
        assert!((s.average_bitrate - 833_333.33).abs() < 1.0);
        // (0.5 + 1.5 + 0.5 - 4.3 × 1 - |1.5 - 0.5| - |0.5 - 1.5|) / 3 = -3.8 / 3
        assert!((s.qoe + 3.8 / 3.0).abs() < 1e-9, "{}", s.qoe);
    }

    #[test]
    fn an_abandoned_session_keeps_what_it_measured() {
        let mut p = Player::new(PlayerConfig::new(SEG, vec![500], 5));
        p.next(Duration::ZERO);
        p.downloaded(
            Duration::from_millis(100),
            125_000,
            Duration::from_millis(100),
        );
        p.next(Duration::from_millis(100));
        p.failed(Duration::from_secs(5));
        assert_eq!(p.next(Duration::from_secs(5)), Next::Done);
        let s = p.finish(Duration::from_secs(5));
        assert!(s.abandoned);
        assert_eq!(s.segments, 1);
        // The buffer ran dry at 2.1 s with media still to come: a stall,
        // closed when the session was abandoned.
        assert_eq!(s.stalls.len(), 1);
    }
}
