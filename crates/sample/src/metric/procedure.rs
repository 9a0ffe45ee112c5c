//! Metrics of the procedures: the `pktgen` packet generator, the `search`
//! step and the `rfc6349` TCP throughput test.
//!
//! Kept apart from the probes' metrics so the catalogue's other families
//! grow without touching these lines.

use super::{Better, Metric, Unit};

/// `pktgen`: frames the generator sent in a trial.
pub const PKTGEN_SENT: Metric = Metric {
    name: "pktgen.sent",
    unit: Unit::Count,
    description: "frames the packet generator sent in one trial (each a UDP datagram with a sequence number and a send time)",
    better: Better::Neither,
};
/// `pktgen`: frames the receiver counted, each once.
pub const PKTGEN_RECEIVED: Metric = Metric {
    name: "pktgen.received",
    unit: Unit::Count,
    description: "distinct frames of the trial that reached the receiver on the far node",
    better: Better::Higher,
};
/// `pktgen`: frames lost (sent minus received).
pub const PKTGEN_LOST: Metric = Metric {
    name: "pktgen.lost",
    unit: Unit::Count,
    description: "frames of the trial that never reached the receiver (sent minus distinct received)",
    better: Better::Lower,
};
/// `pktgen`: the frame loss rate of RFC 2544 section 26.3.
pub const PKTGEN_LOSS: Metric = Metric {
    name: "pktgen.loss",
    unit: Unit::Ratio,
    description: "frame loss rate of the trial: lost frames over sent frames (RFC 2544 section 26.3)",
    better: Better::Lower,
};
/// `pktgen`: the rate the generator offered, counted in whole frames.
pub const PKTGEN_OFFERED: Metric = Metric {
    name: "pktgen.offered",
    unit: Unit::BitsPerSecond,
    description: "rate the generator actually offered over the trial, frames × frame size × 8 over the send time",
    better: Better::Neither,
};
/// `pktgen`: the rate that arrived.
pub const PKTGEN_RECEIVED_RATE: Metric = Metric {
    name: "pktgen.received_rate",
    unit: Unit::BitsPerSecond,
    description: "rate that reached the receiver, frames × frame size × 8 over the time from the first to the last arrival",
    better: Better::Higher,
};
/// `pktgen`: one-way delay of sampled frames.
pub const PKTGEN_DELAY: Metric = Metric {
    name: "pktgen.delay",
    unit: Unit::Seconds,
    description: "one-way delay of frames spread evenly over the trial (at most 1000 a trial): kernel receive time minus the send time, one host clock",
    better: Better::Lower,
};
/// `pktgen`: how late the generator was against its schedule.
pub const PKTGEN_LATENESS: Metric = Metric {
    name: "pktgen.lateness",
    unit: Unit::Seconds,
    description: "the latest any frame left behind its due time on the absolute schedule, per trial",
    better: Better::Lower,
};
/// `pktgen`: frames that arrived after a later-numbered one.
pub const PKTGEN_REORDERED: Metric = Metric {
    name: "pktgen.reordered",
    unit: Unit::Count,
    description: "frames that arrived after a higher-numbered frame of the same trial",
    better: Better::Lower,
};
/// `search`: the value each trial tried, when the parameter is a rate.
pub const SEARCH_TRIAL_RATE: Metric = Metric {
    name: "search.trial_rate",
    unit: Unit::BitsPerSecond,
    description: "the rate one trial of a search tried; labels `trial` (1, 2, ...) and `pass` (`true` when the condition held)",
    better: Better::Neither,
};
/// `search`: the answer, when the parameter is a rate.
pub const SEARCH_RATE: Metric = Metric {
    name: "search.rate",
    unit: Unit::BitsPerSecond,
    description: "the highest rate of a search's bounds at which the condition held (RFC 2544 throughput when the trial is `pktgen` and the condition zero loss)",
    better: Better::Higher,
};
/// `search`: the value each trial tried, when the parameter is a size.
pub const SEARCH_TRIAL_SIZE: Metric = Metric {
    name: "search.trial_size",
    unit: Unit::Bytes,
    description: "the size one trial of a search tried; labels `trial` and `pass`",
    better: Better::Neither,
};
/// `search`: the answer, when the parameter is a size.
pub const SEARCH_SIZE: Metric = Metric {
    name: "search.size",
    unit: Unit::Bytes,
    description: "the largest size of a search's bounds at which the condition held",
    better: Better::Higher,
};
/// `search`: the value each trial tried, when the parameter is a count.
pub const SEARCH_TRIAL_COUNT: Metric = Metric {
    name: "search.trial_count",
    unit: Unit::Count,
    description: "the count (a burst length, packets) one trial of a search tried; labels `trial` and `pass`",
    better: Better::Neither,
};
/// `search`: the answer, when the parameter is a count.
pub const SEARCH_COUNT: Metric = Metric {
    name: "search.count",
    unit: Unit::Count,
    description: "the largest count of a search's bounds at which the condition held (RFC 2544 back-to-back frames when the parameter is `pktgen`'s `burst`)",
    better: Better::Higher,
};
/// `search`: the value each trial tried, when the parameter is a duration.
pub const SEARCH_TRIAL_DURATION: Metric = Metric {
    name: "search.trial_duration",
    unit: Unit::Seconds,
    description: "the duration one trial of a search tried; labels `trial` and `pass`",
    better: Better::Neither,
};
/// `search`: the answer, when the parameter is a duration.
pub const SEARCH_DURATION: Metric = Metric {
    name: "search.duration",
    unit: Unit::Seconds,
    description: "the longest duration of a search's bounds at which the condition held",
    better: Better::Neither,
};
/// `search` over a `pktgen` burst: RFC 9004's implied buffer time.
pub const SEARCH_BUFFER_TIME: Metric = Metric {
    name: "search.buffer_time",
    unit: Unit::Seconds,
    description: "RFC 9004 implied DUT buffer time of a back-to-back search: the burst found over the frame rate it was sent at",
    better: Better::Neither,
};
/// `search` over a `pktgen` burst: RFC 9004's corrected buffer time.
pub const SEARCH_CORRECTED_BUFFER_TIME: Metric = Metric {
    name: "search.corrected_buffer_time",
    unit: Unit::Seconds,
    description: "RFC 9004 corrected DUT buffer time: the burst found × (1 / throughput frame rate − 1 / sending frame rate), when the search names its `throughput`",
    better: Better::Neither,
};
/// `rfc6349`: the path MTU the TCP connection used.
pub const RFC6349_MTU: Metric = Metric {
    name: "rfc6349.mtu",
    unit: Unit::Bytes,
    description: "path MTU of the test's TCP connection (TCP_INFO `pmtu`), RFC 6349 step 1",
    better: Better::Neither,
};
/// `rfc6349`: the baseline RTT.
pub const RFC6349_BASELINE_RTT: Metric = Metric {
    name: "rfc6349.baseline_rtt",
    unit: Unit::Seconds,
    description: "baseline round-trip time of the path before the transfer (the step's `rtt`, or the smallest TCP handshake time), RFC 6349 step 2",
    better: Better::Lower,
};
/// `rfc6349`: the bottleneck bandwidth.
pub const RFC6349_BOTTLENECK: Metric = Metric {
    name: "rfc6349.bottleneck",
    unit: Unit::BitsPerSecond,
    description: "bottleneck bandwidth the test assumes (the step's `bottleneck`, typically a search's result), RFC 6349 step 2",
    better: Better::Neither,
};
/// `rfc6349`: maximum achievable TCP throughput.
pub const RFC6349_MAX_THROUGHPUT: Metric = Metric {
    name: "rfc6349.max_throughput",
    unit: Unit::BitsPerSecond,
    description: "maximum achievable TCP throughput: bottleneck × (MTU − 40) / (MTU + link overhead), RFC 6349 section 3.3.1",
    better: Better::Neither,
};
/// `rfc6349`: the transfer's duration.
pub const RFC6349_TRANSFER_TIME: Metric = Metric {
    name: "rfc6349.transfer_time",
    unit: Unit::Seconds,
    description: "actual TCP transfer time of the test's bytes, RFC 6349 section 4.1",
    better: Better::Lower,
};
/// `rfc6349`: the ideal transfer time.
pub const RFC6349_IDEAL_TIME: Metric = Metric {
    name: "rfc6349.ideal_time",
    unit: Unit::Seconds,
    description: "ideal TCP transfer time: the bytes × 8 over the maximum achievable TCP throughput, RFC 6349 section 4.1",
    better: Better::Neither,
};
/// `rfc6349`: TCP Transfer Time Ratio.
pub const RFC6349_TRANSFER_TIME_RATIO: Metric = Metric {
    name: "rfc6349.transfer_time_ratio",
    unit: Unit::Count,
    description: "TCP Transfer Time Ratio: actual over ideal TCP transfer time (1 is ideal), RFC 6349 section 4.1",
    better: Better::Lower,
};
/// `rfc6349`: TCP Efficiency.
pub const RFC6349_EFFICIENCY: Metric = Metric {
    name: "rfc6349.efficiency",
    unit: Unit::Ratio,
    description: "TCP Efficiency: (transmitted bytes − retransmitted bytes) / transmitted bytes, RFC 6349 section 4.2",
    better: Better::Higher,
};
/// `rfc6349`: Buffer Delay Percentage.
pub const RFC6349_BUFFER_DELAY: Metric = Metric {
    name: "rfc6349.buffer_delay",
    unit: Unit::Ratio,
    description: "Buffer Delay Percentage: (average RTT during the transfer − baseline RTT) / baseline RTT, RFC 6349 section 4.3",
    better: Better::Lower,
};
/// `rfc6349`: the average RTT during the transfer.
pub const RFC6349_TRANSFER_RTT: Metric = Metric {
    name: "rfc6349.transfer_rtt",
    unit: Unit::Seconds,
    description: "average of the sender's smoothed RTT sampled during the transfer (TCP_INFO every 10 ms), RFC 6349 section 4.3",
    better: Better::Lower,
};
