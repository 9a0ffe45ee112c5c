//! The transfer: write `bytes` on a connected TCP socket, sample the
//! sender's `TCP_INFO` every 10 ms, and stop the clock when the peer has
//! acknowledged the last byte (RFC 6349 times the transfer to the end of
//! delivery, not to the last write into the send buffer).

use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// What the transfer measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// From the first byte written to the last acknowledged.
    pub transfer_time: Duration,
    /// Bytes transmitted, retransmissions included (`tcpi_bytes_sent`).
    pub transmitted: u64,
    /// Bytes retransmitted (`tcpi_bytes_retrans`).
    pub retransmitted: u64,
    /// The smoothed RTT every 10 ms while data was in flight.
    pub rtts: Vec<Duration>,
    /// The path MTU the connection used (`tcpi_pmtu`).
    pub pmtu: u32,
}

/// The `TCP_INFO` fields this test reads.
#[derive(Debug, Clone, Copy, Default)]
struct Info {
    rtt_us: u32,
    pmtu: u32,
    bytes_acked: u64,
    bytes_sent: u64,
    bytes_retrans: u64,
}

fn info(s: &impl AsRawFd) -> io::Result<Info> {
    // SAFETY: tcp_info is plain old data (zero is valid for every field);
    // the kernel writes at most `len` bytes into it, which outlives the call.
    let mut i: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: as above; a bad fd is an error return, not UB.
    let rc = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&raw mut i).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Info {
        rtt_us: i.tcpi_rtt,
        pmtu: i.tcpi_pmtu,
        bytes_acked: i.tcpi_bytes_acked,
        bytes_sent: i.tcpi_bytes_sent,
        bytes_retrans: i.tcpi_bytes_retrans,
    })
}

/// Sends `bytes` on `stream` and waits for their acknowledgement; bounded
/// by `deadline`.
pub async fn send(mut stream: TcpStream, bytes: u64, deadline: Instant) -> io::Result<Outcome> {
    let block = vec![0x36u8; 128 * 1024];
    let before = info(&stream)?;
    let start = Instant::now();
    let mut rtts = Vec::new();
    let mut written = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let timed_out = || {
        io::Error::new(
            io::ErrorKind::TimedOut,
            "the transfer did not finish within the step's timeout",
        )
    };
    while written < bytes {
        let n = (bytes - written).min(block.len() as u64) as usize;
        tokio::select! {
            r = stream.write(&block[..n]) => written += r? as u64,
            _ = tick.tick() => {
                let i = info(&stream)?;
                if i.rtt_us > 0 {
                    rtts.push(Duration::from_micros(u64::from(i.rtt_us)));
                }
            }
            () = tokio::time::sleep_until(deadline) => return Err(timed_out()),
        }
    }
    // Delivery ends when the peer has acknowledged every byte.
    let end = loop {
        let i = info(&stream)?;
        if i.bytes_acked.saturating_sub(before.bytes_acked) >= bytes {
            break start.elapsed();
        }
        if Instant::now() >= deadline {
            return Err(timed_out());
        }
        tokio::select! {
            _ = tick.tick() => {
                if i.rtt_us > 0 {
                    rtts.push(Duration::from_micros(u64::from(i.rtt_us)));
                }
            }
            () = tokio::time::sleep(Duration::from_millis(1)) => {}
        }
    };
    let last = info(&stream)?;
    let _ = stream.shutdown().await;
    Ok(Outcome {
        transfer_time: end,
        transmitted: last.bytes_sent.saturating_sub(before.bytes_sent),
        retransmitted: last.bytes_retrans.saturating_sub(before.bytes_retrans),
        rtts,
        pmtu: last.pmtu,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn a_loopback_transfer_is_timed_to_its_acknowledgement() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let sink = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = vec![0u8; 65536];
            let mut n = 0u64;
            loop {
                match s.read(&mut buf).await.unwrap() {
                    0 => return n,
                    k => n += k as u64,
                }
            }
        });
        let c = TcpStream::connect(addr).await.unwrap();
        let out = send(c, 20_000_000, Instant::now() + Duration::from_secs(20))
            .await
            .unwrap();
        assert_eq!(sink.await.unwrap(), 20_000_000);
        // What TCP sent counts each retransmission again (a busy host's
        // loopback can drop): new bytes are exactly the transfer's.
        assert_eq!(out.transmitted - out.retransmitted, 20_000_000, "{out:?}");
        assert!(out.transfer_time > Duration::ZERO);
        assert_eq!(out.pmtu, 65535);
    }
}
