//! Kernel receive timestamps, as `ping` uses them: the time a reply
//! reached the socket, not the time the probe's task woke up to read it,
//! so a busy host does not add its scheduling delay to every round trip.

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

use netproof_sample::Timestamp;

/// Asks the kernel to stamp each datagram received on `fd`
/// (`SO_TIMESTAMPNS`).
pub(crate) fn enable(fd: RawFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: SO_TIMESTAMPNS reads an int through the pointer, which
    // outlives the call.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Receives one datagram without blocking; returns its length and, when
/// the kernel stamped it, the wall-clock time it arrived.
pub(crate) fn recv(fd: RawFd, buf: &mut [u8]) -> io::Result<(usize, Option<Timestamp>)> {
    // Room for one timespec control message, aligned for cmsghdr.
    let mut control = [0u64; 8];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: an all-zero msghdr is valid; the pointers set below point at
    // live buffers for the duration of the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: `msg` describes buffers we own; MSG_DONTWAIT keeps it
    // non-blocking whatever the descriptor's mode.
    let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut stamp = None;
    // SAFETY: walking the control messages the kernel wrote into
    // `control`, with the libc macros that bound each step by
    // `msg_controllen`.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const libc::timespec);
                stamp = Some(Timestamp(
                    (ts.tv_sec as i64).saturating_mul(1_000_000_000) + ts.tv_nsec as i64,
                ));
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok((n as usize, stamp))
}

/// The offset of `stamp` from a series' start (`wall_start` on the wall
/// clock, `now` its monotonic elapsed time when the datagram was read),
/// never later than `now`: a stamp from a wall clock that stepped is
/// ignored in favour of `now`.
pub(crate) fn offset(stamp: Option<Timestamp>, wall_start: Timestamp, now: Duration) -> Duration {
    match stamp {
        Some(t) if t.0 >= wall_start.0 => {
            let d = Duration::from_nanos((t.0 - wall_start.0) as u64);
            if d <= now { d } else { now }
        }
        _ => now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loopback_datagram_carries_its_arrival_time() {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        use std::os::fd::AsRawFd;
        enable(rx.as_raw_fd()).unwrap();
        // The kernel turns stamping on from a work queue: until then it
        // stamps at read time. Give it a moment.
        std::thread::sleep(Duration::from_millis(50));
        let before = Timestamp::now();
        tx.send_to(b"hello", rx.local_addr().unwrap()).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let mut buf = [0u8; 16];
        let (n, stamp) = recv(rx.as_raw_fd(), &mut buf).unwrap();
        let after = Timestamp::now();
        assert_eq!(&buf[..n], b"hello");
        let stamp = stamp.expect("the kernel stamped it");
        assert!(stamp.0 >= before.0 && stamp.0 <= after.0);
        // Read 20 ms after it arrived: the stamp is the arrival.
        assert!(after.0 - stamp.0 >= 15_000_000);
        assert_eq!(
            offset(Some(stamp), before, Duration::from_secs(1)),
            Duration::from_nanos((stamp.0 - before.0) as u64)
        );
        assert_eq!(
            offset(None, before, Duration::from_millis(3)),
            Duration::from_millis(3)
        );
        assert!(
            recv(rx.as_raw_fd(), &mut buf).is_err(),
            "nothing more to read"
        );
    }
}
