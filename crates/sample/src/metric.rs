//! The catalogue of metrics and their canonical units.
//!
//! Every metric a step can emit is listed in [`CATALOG`] with its one
//! canonical unit. The plan language checks expectations against this list
//! (a typo in a metric name is a plan error, not a silent "never measured"),
//! and converts thresholds written as people write them (`5ms`, `200Mbit`)
//! into the canonical unit before a run starts.

use serde::{Deserialize, Serialize};

mod procedure;
pub use procedure::*;

/// The canonical unit of a metric. Numbers in samples are always in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Seconds (durations, latencies).
    Seconds,
    /// Bytes (sizes, volumes).
    Bytes,
    /// Bits per second (rates).
    BitsPerSecond,
    /// A fraction between 0 and 1 (loss, success ratio); `%` in thresholds.
    Ratio,
    /// A plain count or code (packets, exit codes, HTTP statuses).
    Count,
    /// A text or set value with no numeric unit (an answer, an error).
    Text,
}

impl Unit {
    /// The name stored in the database and shown in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Seconds => "s",
            Unit::Bytes => "B",
            Unit::BitsPerSecond => "bit/s",
            Unit::Ratio => "ratio",
            Unit::Count => "count",
            Unit::Text => "text",
        }
    }

    /// Parses [`Unit::as_str`]'s output.
    pub fn from_name(name: &str) -> Option<Unit> {
        Some(match name {
            "s" => Unit::Seconds,
            "B" => Unit::Bytes,
            "bit/s" => Unit::BitsPerSecond,
            "ratio" => Unit::Ratio,
            "count" => Unit::Count,
            "text" => Unit::Text,
            _ => return None,
        })
    }

    /// Formats a value of this unit the way an engineer would write it,
    /// with three significant digits: `4.21 ms`, `957 Mbit/s`, `1.50 MiB`,
    /// `99.9 %`.
    pub fn format(self, v: f64) -> String {
        if !v.is_finite() {
            return format!("{v}");
        }
        match self {
            Unit::Seconds => {
                let a = v.abs();
                if a == 0.0 {
                    "0 s".to_string()
                } else if a < 1e-6 {
                    format!("{} ns", sig3(v * 1e9))
                } else if a < 1e-3 {
                    format!("{} µs", sig3(v * 1e6))
                } else if a < 1.0 {
                    format!("{} ms", sig3(v * 1e3))
                } else {
                    format!("{} s", sig3(v))
                }
            }
            Unit::Bytes => {
                let a = v.abs();
                const K: f64 = 1024.0;
                if a < K {
                    format!("{} B", sig3(v))
                } else if a < K * K {
                    format!("{} KiB", sig3(v / K))
                } else if a < K * K * K {
                    format!("{} MiB", sig3(v / (K * K)))
                } else {
                    format!("{} GiB", sig3(v / (K * K * K)))
                }
            }
            Unit::BitsPerSecond => {
                let a = v.abs();
                if a < 1e3 {
                    format!("{} bit/s", sig3(v))
                } else if a < 1e6 {
                    format!("{} kbit/s", sig3(v / 1e3))
                } else if a < 1e9 {
                    format!("{} Mbit/s", sig3(v / 1e6))
                } else {
                    format!("{} Gbit/s", sig3(v / 1e9))
                }
            }
            Unit::Ratio => format!("{} %", sig3(v * 100.0)),
            Unit::Count => {
                if v.fract() == 0.0 && v.abs() < 1e15 {
                    format!("{}", v as i64)
                } else {
                    sig3(v)
                }
            }
            Unit::Text => format!("{v}"),
        }
    }
}

/// Three significant digits, without scientific notation for everyday sizes.
fn sig3(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".to_string()
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// A catalogued metric: its name, unit and meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// The name used in samples and expectations, `<step kind>.<quantity>`.
    pub name: &'static str,
    /// The canonical unit.
    pub unit: Unit,
    /// One sentence for the docs and `--help`.
    pub description: &'static str,
    /// Which direction is an improvement, for `compare`.
    pub better: Better,
}

/// Which direction of change in a metric is an improvement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    /// Smaller is better (latency, loss).
    Lower,
    /// Larger is better (throughput, success).
    Higher,
    /// Neither (a size, a code): changes are reported, never flagged.
    Neither,
}

/// `exec`: the command's exit code (ok when 0; no value when it timed out or
/// could not start).
pub const EXEC_EXIT_CODE: Metric = Metric {
    name: "exec.exit_code",
    unit: Unit::Count,
    description: "exit code of the command; ok when 0, no value when it timed out or could not start",
    better: Better::Neither,
};
/// `exec`: wall-clock time from start to exit.
pub const EXEC_DURATION: Metric = Metric {
    name: "exec.duration",
    unit: Unit::Seconds,
    description: "wall-clock time from start to exit (or to the timeout)",
    better: Better::Lower,
};
/// `exec`: bytes written to stdout.
pub const EXEC_STDOUT_BYTES: Metric = Metric {
    name: "exec.stdout_bytes",
    unit: Unit::Bytes,
    description: "bytes the command wrote to stdout",
    better: Better::Neither,
};
/// `exec`: the first line of stdout, as text.
pub const EXEC_STDOUT: Metric = Metric {
    name: "exec.stdout",
    unit: Unit::Text,
    description: "the command's stdout with surrounding whitespace trimmed (first 4 KiB)",
    better: Better::Neither,
};
/// `tcp_connect`: time for the TCP handshake to complete.
pub const TCP_CONNECT_LATENCY: Metric = Metric {
    name: "tcp_connect.latency",
    unit: Unit::Seconds,
    description: "time from connect() to an established connection; no value when the attempt failed",
    better: Better::Lower,
};

/// `udp_echo`: round-trip time of one echoed packet.
pub const UDP_ECHO_RTT: Metric = Metric {
    name: "udp_echo.rtt",
    unit: Unit::Seconds,
    description: "round-trip time of one packet to a netproof UDP echo responder and back; no value when it was lost",
    better: Better::Lower,
};
/// `udp_echo`: RFC 3550 interarrival jitter at the end of a series.
pub const UDP_ECHO_JITTER: Metric = Metric {
    name: "udp_echo.jitter",
    unit: Unit::Seconds,
    description: "RFC 3550 interarrival jitter of the replies, at the end of each series",
    better: Better::Lower,
};
/// `udp_echo`: share of packets lost in a series.
pub const UDP_ECHO_LOSS: Metric = Metric {
    name: "udp_echo.loss",
    unit: Unit::Ratio,
    description: "share of a series' packets whose reply never came back within the timeout",
    better: Better::Lower,
};
/// `udp_echo`: replies received more than once in a series.
pub const UDP_ECHO_DUPLICATES: Metric = Metric {
    name: "udp_echo.duplicates",
    unit: Unit::Count,
    description: "replies that arrived more than once in a series",
    better: Better::Lower,
};
/// `udp_echo`: replies that arrived after a later-sent one.
pub const UDP_ECHO_REORDERED: Metric = Metric {
    name: "udp_echo.reordered",
    unit: Unit::Count,
    description: "replies that arrived after a reply to a packet sent later, in a series",
    better: Better::Lower,
};

/// `udp_echo` with `convergence = true`: RFC 6413 loss-derived
/// convergence time.
pub const CONVERGENCE_LOSS_TIME: Metric = Metric {
    name: "convergence.loss_time",
    unit: Unit::Seconds,
    description: "loss-derived convergence time of a `udp_echo` stream with `convergence = true` (RFC 6413): packets lost (no reply within `wait`) divided by the packet rate; one sample per series, stamped at the first loss",
    better: Better::Lower,
};
/// `udp_echo` with `convergence = true`: first to last loss.
pub const CONVERGENCE_LOSS_PERIOD: Metric = Metric {
    name: "convergence.loss_period",
    unit: Unit::Seconds,
    description: "from the send time of a convergence stream's first lost packet to one interval after its last; equals `convergence.loss_time` for one unbroken outage, longer when the loss was partial or in several episodes",
    better: Better::Lower,
};
/// `udp_echo` with `convergence = true`: packets lost.
pub const CONVERGENCE_LOST: Metric = Metric {
    name: "convergence.lost",
    unit: Unit::Count,
    description: "packets of a convergence stream with no reply within `wait` (late replies count as lost; duplicates and reordering do not)",
    better: Better::Lower,
};
/// `udp_echo` with `convergence = true`: loss episodes.
pub const CONVERGENCE_EPISODES: Metric = Metric {
    name: "convergence.episodes",
    unit: Unit::Count,
    description: "runs of consecutive lost packets in a convergence stream (RFC 6412 loss episodes); 0 without loss",
    better: Better::Lower,
};

/// A node's FIB changed: a route of its main table was added or removed.
pub const ROUTE_CHANGE: Metric = Metric {
    name: "route.change",
    unit: Unit::Count,
    description: "one sample per route added to or deleted from a monitored node's main routing table (a case's `monitor_routes`), stamped when netlink announced it; the value is the route's next hops; labels `node`, `prefix`, `event` (`add` or `del`) and `proto`",
    better: Better::Lower,
};

/// `ping`: round-trip time of one ICMP echo request.
pub const PING_RTT: Metric = Metric {
    name: "ping.rtt",
    unit: Unit::Seconds,
    description: "round-trip time of one ICMP echo request; no value when it was lost",
    better: Better::Lower,
};
/// An emulated link: the emulator's release lateness over one case.
pub const LINK_LATENESS: Metric = Metric {
    name: "link.lateness",
    unit: Unit::Seconds,
    description: "how late an emulated link's emulator released packets after the time its pipeline gave them, over one case, both directions; labelled `quantile` (`p50`, `p99`, `max`); a case whose p99 passes `lateness_warning` of the link's delay gets a warning",
    better: Better::Lower,
};
/// The self-check: one ICMP round trip across an emulated link.
pub const SELFCHECK_RTT: Metric = Metric {
    name: "selfcheck.rtt",
    unit: Unit::Seconds,
    description: "one ICMP echo round trip between an emulated link's two ends, measured by the self-check before (or after) the cases; labelled `link` and `phase`",
    better: Better::Neither,
};
/// The self-check: share of its echo requests an emulated link lost.
pub const SELFCHECK_LOSS: Metric = Metric {
    name: "selfcheck.loss",
    unit: Unit::Ratio,
    description: "share of the self-check's echo requests across an emulated link that got no reply (either direction's loss)",
    better: Better::Neither,
};
/// The self-check: the rate an emulated link delivered a burst at.
pub const SELFCHECK_RATE: Metric = Metric {
    name: "selfcheck.rate",
    unit: Unit::BitsPerSecond,
    description: "the rate an emulated link with a `rate` delivered the self-check's UDP burst at, first end to second, from first to last arrival, counting whole Ethernet frames as the plan's `rate` does",
    better: Better::Neither,
};
/// The self-check: what the plan says the round trip should be.
pub const SELFCHECK_PLAN_RTT: Metric = Metric {
    name: "selfcheck.plan_rtt",
    unit: Unit::Seconds,
    description: "the round trip an emulated link's plan implies: both directions' `delay`",
    better: Better::Neither,
};
/// The self-check: what the plan says the loss should be.
pub const SELFCHECK_PLAN_LOSS: Metric = Metric {
    name: "selfcheck.plan_loss",
    unit: Unit::Ratio,
    description: "the share of echo round trips an emulated link's plan implies are lost: either direction's mean `loss`",
    better: Better::Neither,
};
/// The self-check: the plan's rate of an emulated link.
pub const SELFCHECK_PLAN_RATE: Metric = Metric {
    name: "selfcheck.plan_rate",
    unit: Unit::BitsPerSecond,
    description: "an emulated link's `rate` from its first end to its second, as the plan sets it",
    better: Better::Neither,
};
/// `ping`: share of echo requests lost in a series.
pub const PING_LOSS: Metric = Metric {
    name: "ping.loss",
    unit: Unit::Ratio,
    description: "share of a series' echo requests with no reply within the wait",
    better: Better::Lower,
};

/// An emulated link: packets it delivered in one direction since the last
/// sample (labels `link`, `direction`).
pub const LINK_DELIVERED: Metric = Metric {
    name: "link.delivered",
    unit: Unit::Count,
    description: "packets an emulated link delivered in one direction since its last sample (every 100 ms while a case runs)",
    better: Better::Neither,
};
/// An emulated link: its delivery rate in one direction over the interval.
pub const LINK_THROUGHPUT: Metric = Metric {
    name: "link.throughput",
    unit: Unit::BitsPerSecond,
    description: "bits per second an emulated link delivered in one direction over the last sampling interval",
    better: Better::Neither,
};
/// An emulated link: packets dropped since the last sample, by `reason`.
pub const LINK_DROPPED: Metric = Metric {
    name: "link.dropped",
    unit: Unit::Count,
    description: "packets an emulated link dropped in one direction since its last sample, labelled by `reason`: loss, queue, aqm, down or oversize",
    better: Better::Lower,
};
/// An emulated link: packets waiting in its bottleneck queue.
pub const LINK_QUEUE: Metric = Metric {
    name: "link.queue",
    unit: Unit::Count,
    description: "packets waiting in an emulated link's bottleneck queue in one direction, when sampled",
    better: Better::Lower,
};
/// An emulated link: the longest time a packet waited in its queue.
pub const LINK_SOJOURN: Metric = Metric {
    name: "link.sojourn",
    unit: Unit::Seconds,
    description: "the longest time a packet spent in an emulated link's bottleneck queue in one direction since the last sample",
    better: Better::Lower,
};

/// A service: CPU time its process group used since the case started,
/// user plus system (labels `service`, `node`).
pub const SERVICE_CPU: Metric = Metric {
    name: "service.cpu",
    unit: Unit::Seconds,
    description: "CPU time a service's process group used since the case started (or since the service started, if later), user plus system; sampled every 100 ms while a case runs, labels `service` and `node`",
    better: Better::Lower,
};
/// A service: the user part of [`SERVICE_CPU`].
pub const SERVICE_CPU_USER: Metric = Metric {
    name: "service.cpu_user",
    unit: Unit::Seconds,
    description: "the user-mode part of `service.cpu`",
    better: Better::Lower,
};
/// A service: the system part of [`SERVICE_CPU`].
pub const SERVICE_CPU_SYSTEM: Metric = Metric {
    name: "service.cpu_system",
    unit: Unit::Seconds,
    description: "the kernel-mode part of `service.cpu`",
    better: Better::Lower,
};
/// A service: resident memory of its process group.
pub const SERVICE_RSS: Metric = Metric {
    name: "service.rss",
    unit: Unit::Bytes,
    description: "resident memory of a service's process group when sampled (the sum over its live processes; pages they share count in each); every 100 ms while a case runs, labels `service` and `node`",
    better: Better::Lower,
};

/// `http`: name resolution time (only when the target is a name).
pub const HTTP_DNS: Metric = Metric {
    name: "http.dns",
    unit: Unit::Seconds,
    description: "time to resolve the target's name (only when a name was resolved); no value when it failed",
    better: Better::Lower,
};
/// `http`: TCP handshake time.
pub const HTTP_CONNECT: Metric = Metric {
    name: "http.connect",
    unit: Unit::Seconds,
    description: "time from connect() to an established TCP connection; no value when it failed",
    better: Better::Lower,
};
/// `http`: TLS handshake time, with the certificate as labels.
pub const HTTP_TLS: Metric = Metric {
    name: "http.tls",
    unit: Unit::Seconds,
    description: "TLS handshake time including certificate verification; labels cert_subject, cert_issuer, cert_names, cert_not_after; no value when the handshake or verification failed",
    better: Better::Lower,
};
/// `http`: time to first byte.
pub const HTTP_TTFB: Metric = Metric {
    name: "http.ttfb",
    unit: Unit::Seconds,
    description: "time from sending the request to the response's status line and headers",
    better: Better::Lower,
};
/// `http`: body transfer time.
pub const HTTP_TRANSFER: Metric = Metric {
    name: "http.transfer",
    unit: Unit::Seconds,
    description: "time from the response headers to the last body byte",
    better: Better::Lower,
};
/// `http`: whole request time.
pub const HTTP_TOTAL: Metric = Metric {
    name: "http.total",
    unit: Unit::Seconds,
    description: "time from the start (name resolution or connect) to the last body byte; no value when any phase failed",
    better: Better::Lower,
};
/// `http`: body bytes received.
pub const HTTP_BYTES: Metric = Metric {
    name: "http.bytes",
    unit: Unit::Bytes,
    description: "response body bytes received (not ok when the body was cut short or failed a check)",
    better: Better::Neither,
};
/// `http`: body bits over request-to-last-byte time.
pub const HTTP_GOODPUT: Metric = Metric {
    name: "http.goodput",
    unit: Unit::BitsPerSecond,
    description: "body bits divided by the time from sending the request to the last body byte",
    better: Better::Higher,
};
/// `http`: the response status code.
pub const HTTP_STATUS: Metric = Metric {
    name: "http.status",
    unit: Unit::Count,
    description: "the response's status code; not ok when 400 or above",
    better: Better::Neither,
};
/// `http`: the names the server's certificate is valid for.
pub const HTTP_CERT_NAMES: Metric = Metric {
    name: "http.cert_names",
    unit: Unit::Text,
    description: "the DNS names and addresses in the presented certificate's subjectAltName, as a set (recorded even when verification failed)",
    better: Better::Neither,
};
/// `http`: how long the presented certificate stays valid.
pub const HTTP_CERT_EXPIRY: Metric = Metric {
    name: "http.cert_expiry",
    unit: Unit::Seconds,
    description: "time left until the presented certificate's notAfter (negative once expired)",
    better: Better::Higher,
};
/// `http` load mode: latency of one request from its scheduled start.
pub const HTTP_LATENCY: Metric = Metric {
    name: "http.latency",
    unit: Unit::Seconds,
    description: "load mode: time from a request's scheduled start to its last body byte, so queueing behind a slow server counts (no coordinated omission); no value when it failed",
    better: Better::Lower,
};

/// `dns`: time from sending a query to its whole answer.
pub const DNS_LATENCY: Metric = Metric {
    name: "dns.latency",
    unit: Unit::Seconds,
    description: "time from sending a DNS query (over TCP: from the connect; after a truncated UDP answer: including the TCP retry) to the whole answer; no value when no usable answer came (reason in `error`)",
    better: Better::Lower,
};
/// `dns`: the data of the answer section's records.
pub const DNS_ANSWER: Metric = Metric {
    name: "dns.answer",
    unit: Unit::Text,
    description: "the data of the answer's records (addresses, names, TXT strings) as a set; label `answer` holds them joined by commas, for filters",
    better: Better::Neither,
};
/// `dns`: the response code.
pub const DNS_RCODE: Metric = Metric {
    name: "dns.rcode",
    unit: Unit::Text,
    description: "the answer's response code (`NOERROR`, `NXDOMAIN`, `SERVFAIL`, ...); not ok unless NOERROR",
    better: Better::Neither,
};
/// `dns`: the smallest TTL in the answer section.
pub const DNS_TTL: Metric = Metric {
    name: "dns.ttl",
    unit: Unit::Seconds,
    description: "the smallest TTL among the answer's records; absent when the answer section is empty",
    better: Better::Neither,
};
/// `dns`: how many records the answer section has.
pub const DNS_ANSWERS: Metric = Metric {
    name: "dns.answers",
    unit: Unit::Count,
    description: "the number of records in the answer section",
    better: Better::Neither,
};

/// `throughput`: goodput of one interval, per stream and for all streams.
pub const THROUGHPUT_GOODPUT: Metric = Metric {
    name: "throughput.goodput",
    unit: Unit::BitsPerSecond,
    description: "goodput of one interval of an iperf3-compatible test, per stream (label `stream`) and for all (`stream=all`); label `side` says where it was measured",
    better: Better::Higher,
};
/// `throughput`: goodput over the whole test, as the receiver counted it.
pub const THROUGHPUT_TEST_GOODPUT: Metric = Metric {
    name: "throughput.test_goodput",
    unit: Unit::BitsPerSecond,
    description: "bytes the receiver got over the whole test divided by its time, per stream and for all; no value when the test failed (reason in `error`)",
    better: Better::Higher,
};
/// `throughput`: bytes the receiver got over the whole test.
pub const THROUGHPUT_BYTES: Metric = Metric {
    name: "throughput.bytes",
    unit: Unit::Bytes,
    description: "payload bytes the receiver got over the whole test, per stream and for all",
    better: Better::Neither,
};
/// `throughput`: TCP segments the sender retransmitted over the test.
pub const THROUGHPUT_RETRANSMITS: Metric = Metric {
    name: "throughput.retransmits",
    unit: Unit::Count,
    description: "TCP segments the sending side retransmitted over the test (TCP_INFO), per stream and for all",
    better: Better::Lower,
};
/// `throughput`: the sender's smoothed RTT at the end of an interval.
pub const THROUGHPUT_RTT: Metric = Metric {
    name: "throughput.rtt",
    unit: Unit::Seconds,
    description: "smoothed round-trip time of a TCP stream netproof sends, from TCP_INFO at the end of each interval",
    better: Better::Lower,
};
/// `throughput`: the sender's congestion window at the end of an interval.
pub const THROUGHPUT_CWND: Metric = Metric {
    name: "throughput.cwnd",
    unit: Unit::Bytes,
    description: "congestion window of a TCP stream netproof sends (segments × MSS, TCP_INFO) at the end of each interval",
    better: Better::Neither,
};
/// `throughput`: share of UDP datagrams lost.
pub const THROUGHPUT_UDP_LOSS: Metric = Metric {
    name: "throughput.udp_loss",
    unit: Unit::Ratio,
    description: "share of a UDP test's datagrams the receiver never got, per stream and for all",
    better: Better::Lower,
};
/// `throughput`: RFC 3550 jitter of a UDP test at the receiver.
pub const THROUGHPUT_UDP_JITTER: Metric = Metric {
    name: "throughput.udp_jitter",
    unit: Unit::Seconds,
    description: "RFC 3550 interarrival jitter of a UDP test at the receiver, per stream and for all (averaged)",
    better: Better::Lower,
};
/// `throughput`: UDP datagrams that arrived after a later one.
pub const THROUGHPUT_UDP_OUT_OF_ORDER: Metric = Metric {
    name: "throughput.udp_out_of_order",
    unit: Unit::Count,
    description: "UDP datagrams that arrived after a later-numbered one, counted where netproof receives",
    better: Better::Lower,
};

/// `abr`: `abr.bitrate`.
pub const ABR_BITRATE: Metric = Metric {
    name: "abr.bitrate",
    unit: Unit::BitsPerSecond,
    description: "`abr`: the bitrate the player chose for a segment, stamped when it asked for it (labels `segment`, `kbps`)",
    better: Better::Higher,
};
/// `abr`: `abr.buffer`.
pub const ABR_BUFFER: Metric = Metric {
    name: "abr.buffer",
    unit: Unit::Seconds,
    description: "`abr`: media time in the player's buffer, when a segment is asked for (`at=request`) and once it arrived (`at=done`)",
    better: Better::Higher,
};
/// `abr`: `abr.ttfb`.
pub const ABR_TTFB: Metric = Metric {
    name: "abr.ttfb",
    unit: Unit::Seconds,
    description: "`abr`: from a segment's request to its response head (labels `url`, `node` or `addr`, `cache`, `status`)",
    better: Better::Lower,
};
/// `abr`: `abr.download`.
pub const ABR_DOWNLOAD: Metric = Metric {
    name: "abr.download",
    unit: Unit::Seconds,
    description: "`abr`: from a segment's request (connection setup included) to its last byte; no value for a failed request (`error`, `reason`)",
    better: Better::Lower,
};
/// `abr`: `abr.bytes`.
pub const ABR_BYTES: Metric = Metric {
    name: "abr.bytes",
    unit: Unit::Bytes,
    description: "`abr`: body bytes of a segment",
    better: Better::Neither,
};
/// `abr`: `abr.status`.
pub const ABR_STATUS: Metric = Metric {
    name: "abr.status",
    unit: Unit::Count,
    description: "`abr`: the HTTP status that served a segment",
    better: Better::Neither,
};
/// `abr`: `abr.stall`.
pub const ABR_STALL: Metric = Metric {
    name: "abr.stall",
    unit: Unit::Seconds,
    description: "`abr`: one stall's length, stamped at its start (the buffer ran dry with media still to come)",
    better: Better::Lower,
};
/// `abr`: `abr.startup`.
pub const ABR_STARTUP: Metric = Metric {
    name: "abr.startup",
    unit: Unit::Seconds,
    description: "`abr`: from the session's first request to the start of playback",
    better: Better::Lower,
};
/// `abr`: `abr.stalls`.
pub const ABR_STALLS: Metric = Metric {
    name: "abr.stalls",
    unit: Unit::Count,
    description: "`abr`: stalls in a session (the startup delay is not one)",
    better: Better::Lower,
};
/// `abr`: `abr.stall_time`.
pub const ABR_STALL_TIME: Metric = Metric {
    name: "abr.stall_time",
    unit: Unit::Seconds,
    description: "`abr`: seconds a session spent stalled",
    better: Better::Lower,
};
/// `abr`: `abr.switches`.
pub const ABR_SWITCHES: Metric = Metric {
    name: "abr.switches",
    unit: Unit::Count,
    description: "`abr`: bitrate changes between consecutive segments",
    better: Better::Lower,
};
/// `abr`: `abr.avg_bitrate`.
pub const ABR_AVG_BITRATE: Metric = Metric {
    name: "abr.avg_bitrate",
    unit: Unit::BitsPerSecond,
    description: "`abr`: mean bitrate of a session's segments",
    better: Better::Higher,
};
/// `abr`: `abr.qoe`.
pub const ABR_QOE: Metric = Metric {
    name: "abr.qoe",
    unit: Unit::Count,
    description: "`abr`: Pensieve's QoE_lin per segment: mean bitrate (Mbit/s) minus 4.3 × stall seconds per segment minus mean switch magnitude (Mbit/s)",
    better: Better::Higher,
};
/// `rrul`: `rrul.idle_latency`.
pub const RRUL_IDLE_LATENCY: Metric = Metric {
    name: "rrul.idle_latency",
    unit: Unit::Seconds,
    description: "`rrul`: median round trip before the load (label `probe`: `udp` or `icmp`)",
    better: Better::Lower,
};
/// `rrul`: `rrul.loaded_latency`.
pub const RRUL_LOADED_LATENCY: Metric = Metric {
    name: "rrul.loaded_latency",
    unit: Unit::Seconds,
    description: "`rrul`: median round trip under the load (label `probe`)",
    better: Better::Lower,
};
/// `rrul`: `rrul.latency_increase`.
pub const RRUL_LATENCY_INCREASE: Metric = Metric {
    name: "rrul.latency_increase",
    unit: Unit::Seconds,
    description: "`rrul`: latency under load minus idle latency (label `probe`)",
    better: Better::Lower,
};
/// `rrul`: `rrul.upload`.
pub const RRUL_UPLOAD: Metric = Metric {
    name: "rrul.upload",
    unit: Unit::BitsPerSecond,
    description: "`rrul`: goodput of the upload flows together",
    better: Better::Higher,
};
/// `rrul`: `rrul.download`.
pub const RRUL_DOWNLOAD: Metric = Metric {
    name: "rrul.download",
    unit: Unit::BitsPerSecond,
    description: "`rrul`: goodput of the download flows together",
    better: Better::Higher,
};
/// `rpm`: `rpm.rpm`.
pub const RPM_RPM: Metric = Metric {
    name: "rpm.rpm",
    unit: Unit::Count,
    description: "`rpm`: responsiveness, round trips per minute (draft-ietf-ippm-responsiveness); label `phase`: `idle` or `load`",
    better: Better::Higher,
};
/// `rpm`: `rpm.probe`.
pub const RPM_PROBE: Metric = Metric {
    name: "rpm.probe",
    unit: Unit::Seconds,
    description: "`rpm`: one probe's latency (label `probe`: `tcp_foreign`, `tls_foreign`, `http_foreign`, `http_self`; `phase`: `idle` or `load`)",
    better: Better::Lower,
};
/// `rpm`: `rpm.idle_latency`.
pub const RPM_IDLE_LATENCY: Metric = Metric {
    name: "rpm.idle_latency",
    unit: Unit::Seconds,
    description: "`rpm`: the trimmed mean of the idle HTTP round trips (foreign connections, no load)",
    better: Better::Lower,
};
/// `rpm`: `rpm.goodput`.
pub const RPM_GOODPUT: Metric = Metric {
    name: "rpm.goodput",
    unit: Unit::BitsPerSecond,
    description: "`rpm`: goodput of the load-generating connections together",
    better: Better::Higher,
};

/// Every metric a step can emit today. Later step kinds add theirs here.
pub const CATALOG: &[Metric] = &[
    EXEC_EXIT_CODE,
    EXEC_DURATION,
    EXEC_STDOUT_BYTES,
    EXEC_STDOUT,
    TCP_CONNECT_LATENCY,
    UDP_ECHO_RTT,
    UDP_ECHO_JITTER,
    UDP_ECHO_LOSS,
    UDP_ECHO_DUPLICATES,
    UDP_ECHO_REORDERED,
    CONVERGENCE_LOSS_TIME,
    CONVERGENCE_LOSS_PERIOD,
    CONVERGENCE_LOST,
    CONVERGENCE_EPISODES,
    ROUTE_CHANGE,
    PING_RTT,
    PING_LOSS,
    LINK_DELIVERED,
    LINK_THROUGHPUT,
    LINK_DROPPED,
    LINK_QUEUE,
    LINK_SOJOURN,
    LINK_LATENESS,
    SELFCHECK_RTT,
    SELFCHECK_LOSS,
    SELFCHECK_RATE,
    SELFCHECK_PLAN_RTT,
    SELFCHECK_PLAN_LOSS,
    SELFCHECK_PLAN_RATE,
    SERVICE_CPU,
    SERVICE_CPU_USER,
    SERVICE_CPU_SYSTEM,
    SERVICE_RSS,
    THROUGHPUT_GOODPUT,
    THROUGHPUT_TEST_GOODPUT,
    THROUGHPUT_BYTES,
    THROUGHPUT_RETRANSMITS,
    THROUGHPUT_RTT,
    THROUGHPUT_CWND,
    THROUGHPUT_UDP_LOSS,
    THROUGHPUT_UDP_JITTER,
    THROUGHPUT_UDP_OUT_OF_ORDER,
    // The procedures (metric/procedure.rs).
    PKTGEN_SENT,
    PKTGEN_RECEIVED,
    PKTGEN_LOST,
    PKTGEN_LOSS,
    PKTGEN_OFFERED,
    PKTGEN_RECEIVED_RATE,
    PKTGEN_DELAY,
    PKTGEN_LATENESS,
    PKTGEN_REORDERED,
    SEARCH_TRIAL_RATE,
    SEARCH_RATE,
    SEARCH_TRIAL_SIZE,
    SEARCH_SIZE,
    SEARCH_TRIAL_COUNT,
    SEARCH_COUNT,
    SEARCH_TRIAL_DURATION,
    SEARCH_DURATION,
    SEARCH_BUFFER_TIME,
    SEARCH_CORRECTED_BUFFER_TIME,
    RFC6349_MTU,
    RFC6349_BASELINE_RTT,
    RFC6349_BOTTLENECK,
    RFC6349_MAX_THROUGHPUT,
    RFC6349_TRANSFER_TIME,
    RFC6349_IDEAL_TIME,
    RFC6349_TRANSFER_TIME_RATIO,
    RFC6349_EFFICIENCY,
    RFC6349_BUFFER_DELAY,
    RFC6349_TRANSFER_RTT,
    ABR_BITRATE,
    ABR_BUFFER,
    ABR_TTFB,
    ABR_DOWNLOAD,
    ABR_BYTES,
    ABR_STATUS,
    ABR_STALL,
    ABR_STARTUP,
    ABR_STALLS,
    ABR_STALL_TIME,
    ABR_SWITCHES,
    ABR_AVG_BITRATE,
    ABR_QOE,
    RRUL_IDLE_LATENCY,
    RRUL_LOADED_LATENCY,
    RRUL_LATENCY_INCREASE,
    RRUL_UPLOAD,
    RRUL_DOWNLOAD,
    RPM_RPM,
    RPM_PROBE,
    RPM_IDLE_LATENCY,
    RPM_GOODPUT,
    HTTP_DNS,
    HTTP_CONNECT,
    HTTP_TLS,
    HTTP_TTFB,
    HTTP_TRANSFER,
    HTTP_TOTAL,
    HTTP_BYTES,
    HTTP_GOODPUT,
    HTTP_STATUS,
    HTTP_CERT_NAMES,
    HTTP_CERT_EXPIRY,
    HTTP_LATENCY,
    DNS_LATENCY,
    DNS_ANSWER,
    DNS_RCODE,
    DNS_TTL,
    DNS_ANSWERS,
];

/// The namespace of the metrics services name themselves: `svc.` and one
/// or more dot-separated parts of ASCII letters, digits, `_` and `-`
/// (`svc.edge.cache_hits`). Such a metric is not in [`CATALOG`]; its unit
/// is whatever the service records, and an expectation on it takes its
/// unit from the threshold.
pub const SERVICE_NAMESPACE: &str = "svc.";

/// The longest metric name a service may use, in bytes.
pub const SERVICE_METRIC_MAX: usize = 128;

/// Checks a metric name of the [`SERVICE_NAMESPACE`]; the error says what
/// is wrong with it, as a phrase (`has an empty part`).
pub fn check_service_metric(name: &str) -> Result<(), &'static str> {
    let Some(rest) = name.strip_prefix(SERVICE_NAMESPACE) else {
        return Err("does not start with `svc.`");
    };
    if name.len() > SERVICE_METRIC_MAX {
        return Err("is longer than 128 bytes");
    }
    if rest.split('.').any(str::is_empty) {
        return Err("has an empty part between dots");
    }
    if !rest
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err("may hold only ASCII letters, digits, `_`, `-` and `.`");
    }
    Ok(())
}

/// Looks a metric up by name.
pub fn lookup(name: &str) -> Option<&'static Metric> {
    CATALOG.iter().find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_read_like_an_engineer_writes() {
        assert_eq!(Unit::Seconds.format(0.004_213), "4.21 ms");
        assert_eq!(Unit::Seconds.format(0.000_012), "12.0 µs");
        assert_eq!(Unit::Seconds.format(1.5), "1.50 s");
        assert_eq!(Unit::BitsPerSecond.format(957e6), "957 Mbit/s");
        assert_eq!(Unit::Bytes.format(1.5 * 1024.0 * 1024.0), "1.50 MiB");
        assert_eq!(Unit::Ratio.format(0.999), "99.9 %");
        assert_eq!(Unit::Count.format(3.0), "3");
    }

    #[test]
    fn unit_names_round_trip() {
        for u in [
            Unit::Seconds,
            Unit::Bytes,
            Unit::BitsPerSecond,
            Unit::Ratio,
            Unit::Count,
            Unit::Text,
        ] {
            assert_eq!(Unit::from_name(u.as_str()), Some(u));
        }
    }

    #[test]
    fn service_metric_names_live_under_svc() {
        assert_eq!(check_service_metric("svc.edge.cache_hits"), Ok(()));
        assert_eq!(check_service_metric("svc.fill-latency_p99"), Ok(()));
        assert!(check_service_metric("edge.cache_hits").is_err());
        assert!(check_service_metric("svc.").is_err());
        assert!(check_service_metric("svc.a..b").is_err());
        assert!(check_service_metric("svc.a b").is_err());
        assert!(check_service_metric(&format!("svc.{}", "x".repeat(130))).is_err());
        // The catalogue never uses the services' namespace.
        assert!(
            CATALOG
                .iter()
                .all(|m| !m.name.starts_with(SERVICE_NAMESPACE))
        );
    }

    #[test]
    fn catalogue_names_are_unique_and_kind_prefixed() {
        let mut names: Vec<_> = CATALOG.iter().map(|m| m.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), CATALOG.len());
        assert!(CATALOG.iter().all(|m| m.name.contains('.')));
    }
}
