//! Rate limits with the kernel's token bucket filter: [`Netlink::set_rate`]
//! and [`Netlink::clear_rate`].
//!
//! A plan's `rate` alone on a veth link is shaped by a `tbf` root qdisc on
//! the sending end (one per direction). `tbf` is present on this kernel
//! (netem, fq and friends are not).
//!
//! Why netlink and not `tc qdisc replace ... tbf`: rtnetlink has no typed
//! tbf options, but the kernel needs little: `TCA_TBF_PARMS` (a 36-byte
//! `struct tc_tbf_qopt`) with the link layer set to Ethernet, so no rate
//! table is needed (the kernel computes transmission times itself since
//! 3.x), `TCA_TBF_BURST` in bytes, and `TCA_TBF_RATE64` for rates of
//! 2^32 bytes/s and more. That is a dozen lines of encoding (unit-tested
//! below and read back through `tc qdisc show` in the namespace tests)
//! against a fork and exec of `tc` per link, and it needs no `tc` binary,
//! which matters for the rootless mode to come. Rates are bits per second
//! as everywhere in netproof (unlike tc's `mbps`, which means megabytes).

use std::time::Duration;

use futures::StreamExt;
use rtnetlink::packet_core::DefaultNla;
use rtnetlink::packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_REPLACE, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload,
};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::packet_route::tc::{TcAttribute, TcHandle, TcMessage, TcOption};

use super::{Netlink, NetnsError};

// From <linux/pkt_sched.h>.
const TCA_TBF_PARMS: u16 = 1;
const TCA_TBF_RATE64: u16 = 4;
const TCA_TBF_BURST: u16 = 6;
const TC_LINKLAYER_ETHERNET: u8 = 1;
/// The kernel's scheduler tick is 64 ns (`PSCHED_SHIFT` 6).
const PSCHED_TICK_NS: u128 = 64;

/// The burst `set_rate` uses when the caller gives none: 5 ms worth of
/// bytes at the rate, and never less than ten full 1514-byte frames, so
/// TCP at line rate is not starved by timer granularity at high rates and
/// a single frame always fits at low ones.
pub fn default_burst(bits_per_second: u64) -> u32 {
    let five_ms = bits_per_second / 8 / 200;
    u32::try_from(five_ms).unwrap_or(u32::MAX).max(10 * 1514)
}

impl Netlink {
    /// Shapes what `ifname` sends to `bits_per_second` with a `tbf` root
    /// qdisc (replacing any root qdisc there), with a bucket of
    /// `burst_bytes` ([`default_burst`] if `None`) and a queue that holds
    /// `latency` worth of packets at the rate (tc's `latency`: the longest
    /// a packet may wait; beyond that, packets are dropped).
    pub async fn set_rate(
        &self,
        ifname: &str,
        bits_per_second: u64,
        burst_bytes: Option<u32>,
        latency: Duration,
    ) -> Result<(), NetnsError> {
        let burst = burst_bytes.unwrap_or_else(|| default_burst(bits_per_second));
        let op = format!(
            "limit interface `{ifname}` to {bits_per_second} bit/s (tbf, burst {burst} B, latency {latency:?})"
        );
        if bits_per_second < 8 {
            return Err(self.invalid(&op, "the rate must be at least 8 bit/s".into()));
        }
        if burst == 0 {
            return Err(self.invalid(&op, "the burst must be at least one byte".into()));
        }
        let index = self.lookup(ifname, &op).await?;
        let index = i32::try_from(index)
            .map_err(|_| self.invalid(&op, format!("interface index {index} is out of range")))?;

        let mut message = TcMessage::with_index(index);
        message.header.parent = TcHandle::ROOT;
        message.attributes.push(TcAttribute::Kind("tbf".into()));
        message.attributes.push(TcAttribute::Options(tbf_options(
            bits_per_second / 8,
            burst,
            latency,
        )));
        let mut request = NetlinkMessage::from(RouteNetlinkMessage::NewQueueDiscipline(message));
        // Like `tc qdisc replace`: create, or replace what is there.
        request.header.flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
        let mut handle = self.handle().clone();
        let mut responses = handle
            .request(request)
            .map_err(|e| self.netlink_error(Some(ifname), &op, e))?;
        while let Some(response) = responses.next().await {
            if let NetlinkPayload::Error(e) = response.payload {
                return Err(self.netlink_error(
                    Some(ifname),
                    &op,
                    rtnetlink::Error::NetlinkError(e),
                ));
            }
        }
        Ok(())
    }

    /// Removes the root qdisc of `ifname`, restoring the device's default.
    /// Clearing an interface that has no rate is not an error.
    pub async fn clear_rate(&self, ifname: &str) -> Result<(), NetnsError> {
        let op = format!("remove the rate limit of interface `{ifname}`");
        let index = self.lookup(ifname, &op).await?;
        let index = i32::try_from(index)
            .map_err(|_| self.invalid(&op, format!("interface index {index} is out of range")))?;
        let mut request = self.handle().qdisc().del(index);
        request.message_mut().header.parent = TcHandle::ROOT;
        match request.execute().await {
            Ok(()) => Ok(()),
            // The kernel answers ENOENT ("Cannot delete qdisc with handle
            // of zero") when the root is the device's default qdisc.
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ENOENT => Ok(()),
            Err(e) => Err(self.netlink_error(Some(ifname), &op, e)),
        }
    }
}

/// The TCA_OPTIONS of a tbf qdisc at `rate` bytes/s.
fn tbf_options(rate: u64, burst: u32, latency: Duration) -> Vec<TcOption> {
    let mut options = vec![
        TcOption::Other(DefaultNla::new(
            TCA_TBF_PARMS,
            tbf_qopt(rate, burst, latency).to_vec(),
        )),
        TcOption::Other(DefaultNla::new(TCA_TBF_BURST, burst.to_ne_bytes().to_vec())),
    ];
    if rate > u64::from(u32::MAX) {
        options.push(TcOption::Other(DefaultNla::new(
            TCA_TBF_RATE64,
            rate.to_ne_bytes().to_vec(),
        )));
    }
    options
}

/// `struct tc_tbf_qopt` in native byte order:
///
/// ```text
/// struct tc_ratespec { u8 cell_log; u8 linklayer; u16 overhead; i16 cell_align; u16 mpu; u32 rate; }
/// struct tc_tbf_qopt { tc_ratespec rate, peakrate; u32 limit, buffer, mtu; }
/// ```
///
/// `limit` (bytes the queue holds) is computed as tc does: the bytes sent
/// at the rate during `latency`, plus the burst. `buffer` (the bucket in
/// scheduler ticks) is filled in for completeness; the kernel derives it
/// from `TCA_TBF_BURST`. The peak rate stays zero (none).
fn tbf_qopt(rate: u64, burst: u32, latency: Duration) -> [u8; 36] {
    let mut q = [0u8; 36];
    q[1] = TC_LINKLAYER_ETHERNET;
    // Rates that do not fit travel in TCA_TBF_RATE64; the kernel takes the
    // larger of the two.
    let rate32 = u32::try_from(rate).unwrap_or(u32::MAX);
    q[8..12].copy_from_slice(&rate32.to_ne_bytes());
    let queued = u128::from(rate) * latency.as_nanos() / 1_000_000_000 + u128::from(burst);
    let limit = u32::try_from(queued).unwrap_or(u32::MAX);
    q[24..28].copy_from_slice(&limit.to_ne_bytes());
    let buffer_ns = u128::from(burst) * 1_000_000_000 / u128::from(rate.max(1));
    let buffer = u32::try_from(buffer_ns / PSCHED_TICK_NS).unwrap_or(u32::MAX);
    q[28..32].copy_from_slice(&buffer.to_ne_bytes());
    q
}

#[cfg(test)]
mod unit {
    use super::*;

    fn u32_at(q: &[u8; 36], at: usize) -> u32 {
        let mut b = [0u8; 4];
        b.copy_from_slice(&q[at..at + 4]);
        u32::from_ne_bytes(b)
    }

    #[test]
    fn netns_tbf_qopt_at_10mbit() {
        // 10 Mbit/s = 1_250_000 B/s; 50 ms of it is 62_500 B.
        let q = tbf_qopt(1_250_000, 15_140, Duration::from_millis(50));
        assert_eq!(q[0], 0, "cell_log");
        assert_eq!(q[1], TC_LINKLAYER_ETHERNET);
        assert_eq!(u32_at(&q, 8), 1_250_000, "rate");
        assert_eq!(&q[12..24], &[0u8; 12], "no peak rate");
        assert_eq!(u32_at(&q, 24), 62_500 + 15_140, "limit");
        // 15_140 B at 1.25 MB/s = 12.112 ms = 189_250 ticks of 64 ns.
        assert_eq!(u32_at(&q, 28), 189_250, "buffer");
        assert_eq!(u32_at(&q, 32), 0, "mtu");
    }

    #[test]
    fn netns_tbf_rates_above_32_bits_use_rate64() {
        let rate = 100_000_000_000u64 / 8; // 100 Gbit/s
        let opts = tbf_options(
            rate,
            default_burst(100_000_000_000),
            Duration::from_millis(1),
        );
        assert_eq!(opts.len(), 3);
        let q = tbf_qopt(rate, 1 << 20, Duration::ZERO);
        assert_eq!(u32_at(&q, 8), u32::MAX);
        let small = tbf_options(1_250_000, 15_140, Duration::from_millis(1));
        assert_eq!(small.len(), 2);
    }

    #[test]
    fn netns_default_burst_scales_with_the_rate() {
        assert_eq!(default_burst(1_000_000), 15_140);
        assert_eq!(default_burst(1_000_000_000), 625_000);
        assert_eq!(default_burst(u64::MAX), u32::MAX);
    }
}
