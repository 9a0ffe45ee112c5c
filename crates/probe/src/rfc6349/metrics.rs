//! RFC 6349's arithmetic, exactly as the RFC defines it:
//!
//! - Maximum Achievable TCP Throughput (section 3.3.1): the bottleneck
//!   bandwidth less the frame, IP and TCP overhead of full-size segments,
//!   `BB × (MTU − 40) / (MTU + L2 overhead)` (40: IPv4 and TCP headers;
//!   the RFC's Ethernet example uses 38 bytes of layer 2; the lab's links
//!   count the 14-byte Ethernet header only).
//! - Ideal TCP Transfer Time = bytes × 8 / maximum achievable throughput,
//!   and TCP Transfer Time Ratio = actual / ideal (section 4.1).
//! - TCP Efficiency = (transmitted bytes − retransmitted bytes) /
//!   transmitted bytes (section 4.2; the RFC states it × 100 %).
//! - Buffer Delay Percentage = (average RTT during the transfer − baseline
//!   RTT) / baseline RTT (section 4.3; × 100 % in the RFC).
//!
//! Ratios are kept as fractions (the catalogue's `ratio` unit), so 0.25
//! reads "25 %" in reports.

/// What the metrics are computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    /// Bytes the transfer moved.
    pub bytes: u64,
    /// Bottleneck bandwidth, bits/s.
    pub bottleneck: f64,
    /// Path MTU, bytes.
    pub mtu: u32,
    /// Layer-2 bytes per frame the bottleneck counts.
    pub overhead: u32,
    /// Baseline RTT, seconds.
    pub baseline_rtt: f64,
    /// Actual transfer time, seconds.
    pub transfer_time: f64,
    /// Bytes the sender transmitted, retransmissions included.
    pub transmitted: u64,
    /// Bytes it retransmitted.
    pub retransmitted: u64,
    /// The RTTs sampled during the transfer, seconds.
    pub rtts: Vec<f64>,
}

/// The RFC's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// Maximum achievable TCP throughput, bits/s.
    pub max_throughput: f64,
    /// Ideal TCP transfer time, seconds.
    pub ideal_time: f64,
    /// TCP Transfer Time Ratio.
    pub transfer_time_ratio: f64,
    /// TCP Efficiency, a fraction.
    pub efficiency: Option<f64>,
    /// Average RTT during the transfer, seconds.
    pub transfer_rtt: Option<f64>,
    /// Buffer Delay Percentage, a fraction.
    pub buffer_delay: Option<f64>,
}

/// Computes the metrics; `None` where an input is missing (no RTT
/// samples, nothing transmitted, a zero baseline).
pub fn compute(i: &Inputs) -> Metrics {
    let max_throughput =
        i.bottleneck * f64::from(i.mtu.saturating_sub(40)) / f64::from(i.mtu + i.overhead);
    let ideal_time = i.bytes as f64 * 8.0 / max_throughput;
    let efficiency = (i.transmitted > 0)
        .then(|| (i.transmitted.saturating_sub(i.retransmitted)) as f64 / i.transmitted as f64);
    let transfer_rtt =
        (!i.rtts.is_empty()).then(|| i.rtts.iter().sum::<f64>() / i.rtts.len() as f64);
    let buffer_delay = transfer_rtt
        .filter(|_| i.baseline_rtt > 0.0)
        .map(|avg| (avg - i.baseline_rtt) / i.baseline_rtt);
    Metrics {
        max_throughput,
        ideal_time,
        transfer_time_ratio: i.transfer_time / ideal_time,
        efficiency,
        transfer_rtt,
        buffer_delay,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6349 section 3.3.1's example: a 100 Mbit/s Ethernet path with a
    /// 1500-byte MTU achieves at most 94.9 Mbit/s.
    #[test]
    fn rfc6349_3_3_1_ethernet_maximum_achievable_throughput() {
        let m = compute(&Inputs {
            bytes: 100_000_000,
            bottleneck: 100e6,
            mtu: 1500,
            overhead: 38,
            baseline_rtt: 0.025,
            transfer_time: 10.0,
            transmitted: 0,
            retransmitted: 0,
            rtts: vec![],
        });
        assert!((m.max_throughput - 100e6 * 1460.0 / 1538.0).abs() < 1e-3);
        assert_eq!(format!("{:.1}", m.max_throughput / 1e6), "94.9");
        assert_eq!(
            (m.efficiency, m.transfer_rtt, m.buffer_delay),
            (None, None, None)
        );
    }

    /// Section 4's three metrics on hand-picked numbers.
    #[test]
    fn rfc6349_4_transfer_time_ratio_efficiency_and_buffer_delay() {
        let m = compute(&Inputs {
            bytes: 10_000_000,
            bottleneck: 20e6,
            mtu: 1500,
            overhead: 14,
            baseline_rtt: 0.020,
            transfer_time: 5.0,
            transmitted: 10_100_000,
            retransmitted: 100_000,
            rtts: vec![0.024, 0.026],
        });
        // 20 Mbit/s × 1460 / 1514 = 19.2867... Mbit/s; 80 Mbit take 4.1479 s.
        let matt = 20e6 * 1460.0 / 1514.0;
        assert!((m.max_throughput - matt).abs() < 1e-6);
        assert!((m.ideal_time - 80e6 / matt).abs() < 1e-9);
        assert!((m.transfer_time_ratio - 5.0 / (80e6 / matt)).abs() < 1e-9);
        assert_eq!(format!("{:.3}", m.transfer_time_ratio), "1.205");
        assert!((m.efficiency.unwrap() - 10_000_000.0 / 10_100_000.0).abs() < 1e-12);
        assert!((m.transfer_rtt.unwrap() - 0.025).abs() < 1e-12);
        // (25 − 20) / 20 = 25 %.
        assert!((m.buffer_delay.unwrap() - 0.25).abs() < 1e-12);
    }
}
