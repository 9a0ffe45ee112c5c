//! The kernel's view of a TCP connection (`TCP_INFO`): smoothed RTT,
//! congestion window, retransmits and bytes acknowledged.
//!
//! Read on the sending side: that is where the congestion window and
//! retransmits live, and where bytes acknowledged by the peer measure what
//! was delivered rather than what was queued.

use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

/// A snapshot of `TCP_INFO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpInfo {
    /// Smoothed round-trip time.
    pub rtt: Duration,
    /// Congestion window in bytes (segments × sender MSS).
    pub cwnd_bytes: u64,
    /// Segments retransmitted over the connection's life.
    pub retransmits: u64,
    /// Payload bytes the peer has acknowledged.
    pub bytes_acked: u64,
}

/// Reads `TCP_INFO` from a connected TCP socket.
pub fn read(socket: &impl AsRawFd) -> io::Result<TcpInfo> {
    // SAFETY: tcp_info is plain old data; zero is a valid value of every
    // field, and the kernel writes at most `len` bytes into it.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: the pointer and length describe `info`, which outlives the
    // call; an invalid fd is reported as an error, not undefined behaviour.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&raw mut info).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(TcpInfo {
        rtt: Duration::from_micros(u64::from(info.tcpi_rtt)),
        cwnd_bytes: u64::from(info.tcpi_snd_cwnd) * u64::from(info.tcpi_snd_mss),
        retransmits: u64::from(info.tcpi_total_retrans),
        bytes_acked: info.tcpi_bytes_acked,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_a_loopback_connection() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (_s, _) = l.accept().unwrap();
        c.write_all(&[7u8; 1000]).unwrap();
        // Loopback acknowledges at once; give the ACK a moment at most.
        let mut info = read(&c).unwrap();
        for _ in 0..100 {
            if info.bytes_acked >= 1000 {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
            info = read(&c).unwrap();
        }
        assert!(info.bytes_acked >= 1000, "{info:?}");
        assert!(info.cwnd_bytes > 0, "{info:?}");
    }

    #[test]
    fn a_udp_socket_is_an_error_not_a_zero() {
        let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(read(&u).is_err());
    }
}
