//! TAP devices with virtio-net headers and offloads.
//!
//! A TAP device lives in the network namespace of the thread that creates
//! it, for as long as its file descriptor is open: closing the descriptor
//! removes the device, so an emulator that dies takes its devices with it.
//! Create each TAP from a thread that has entered its node's namespace:
//! creating a device in place costs about 0.1 ms, moving one between
//! namespaces an RCU grace period (about 33 ms here).
//!
//! With `IFF_VNET_HDR` every frame read or written starts with a
//! [`crate::vnet::VnetHdr`], and `TUNSETOFFLOAD` lets the kernel hand over
//! TCP super-frames of up to 64 KiB with their checksums left to do, which
//! is what makes a userspace link fast.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const TUNSETOFFLOAD: libc::c_ulong = 0x4004_54d0;
const TUNSETCARRIER: libc::c_ulong = 0x4004_54e2;

const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
const IFF_VNET_HDR: libc::c_short = 0x4000;

const TUN_F_CSUM: libc::c_uint = 0x01;
const TUN_F_TSO4: libc::c_uint = 0x02;
const TUN_F_TSO6: libc::c_uint = 0x04;
const TUN_F_TSO_ECN: libc::c_uint = 0x08;

/// The largest frame a TAP device hands over: a 64 KiB IP super-frame, its
/// Ethernet and VLAN headers, and the virtio-net header.
pub const MAX_FRAME: usize = crate::vnet::VNET_HDR_LEN + 18 + 65_535;

#[repr(C)]
struct IfReqFlags {
    name: [libc::c_char; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// One TAP device, open non-blocking, with virtio-net headers and TCP
/// segmentation offload on.
#[derive(Debug)]
pub struct Tap {
    file: File,
    name: String,
}

impl Tap {
    /// Creates the TAP device `name` in the calling thread's network
    /// namespace. Fails with a message that says what to change when
    /// /dev/net/tun cannot be opened.
    pub fn create(name: &str) -> io::Result<Tap> {
        if name.is_empty() || name.len() >= libc::IFNAMSIZ {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("`{name}` is not a valid interface name (1 to 15 bytes)"),
            ));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open("/dev/net/tun")
            .map_err(|e| {
                if e.kind() == io::ErrorKind::PermissionDenied {
                    io::Error::new(
                        e.kind(),
                        "cannot open /dev/net/tun: permission denied; emulated links need it \
                         usable by this user (run as root, or `chmod 0666 /dev/net/tun`, as most \
                         distributions ship it)",
                    )
                } else {
                    io::Error::new(e.kind(), format!("cannot open /dev/net/tun: {e}"))
                }
            })?;
        let mut req = IfReqFlags {
            name: [0; libc::IFNAMSIZ],
            flags: IFF_TAP | IFF_NO_PI | IFF_VNET_HDR,
            _pad: [0; 22],
        };
        for (dst, src) in req.name.iter_mut().zip(name.bytes()) {
            *dst = src as libc::c_char;
        }
        // SAFETY: TUNSETIFF reads and writes a `struct ifreq`, which
        // `IfReqFlags` lays out (name, then the flags of the union, padded
        // to the union's 24 bytes); the fd is open.
        let rc = unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF, &mut req) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(
                e.kind(),
                format!("cannot create TAP device `{name}`: {e}"),
            ));
        }
        let offload = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
        // SAFETY: TUNSETOFFLOAD takes its argument by value.
        let rc = unsafe { libc::ioctl(file.as_raw_fd(), TUNSETOFFLOAD, offload as libc::c_ulong) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(
                e.kind(),
                format!("cannot turn on offloads on TAP device `{name}`: {e}"),
            ));
        }
        Ok(Tap {
            file,
            name: name.to_owned(),
        })
    }

    /// The device's name in its namespace.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The device's Ethernet address.
    pub fn hw_addr(&self) -> io::Result<[u8; 6]> {
        #[repr(C)]
        struct IfReqAddr {
            name: [libc::c_char; libc::IFNAMSIZ],
            addr: libc::sockaddr,
            _pad: [u8; 8],
        }
        // SAFETY: all-zero is a valid ifreq.
        let mut req: IfReqAddr = unsafe { std::mem::zeroed() };
        // SAFETY: the TAP fd answers SIOCGIFHWADDR with a `struct ifreq`,
        // which `IfReqAddr` lays out (name, then a sockaddr, padded to 40).
        let rc = unsafe { libc::ioctl(self.file.as_raw_fd(), libc::SIOCGIFHWADDR, &mut req) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut mac = [0u8; 6];
        for (m, b) in mac.iter_mut().zip(req.addr.sa_data.iter()) {
            *m = *b as u8;
        }
        Ok(mac)
    }

    /// Sets the carrier: off withdraws the device's routes, as a pulled
    /// cable does.
    pub fn set_carrier(&self, on: bool) -> io::Result<()> {
        let mut v: libc::c_int = on.into();
        // SAFETY: TUNSETCARRIER reads an int through the pointer.
        let rc = unsafe { libc::ioctl(self.file.as_raw_fd(), TUNSETCARRIER, &mut v) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Reads one frame (virtio-net header first) into `buf`; `Ok(None)` when
    /// nothing is waiting.
    pub fn read_frame(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        // SAFETY: the buffer is valid for writes of its length.
        let n = unsafe { libc::read(self.file.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(e),
            };
        }
        Ok(Some(n as usize))
    }

    /// Writes one frame given as up to four pieces (virtio-net header first). The
    /// kernel takes or drops it whole; a full receive backlog is a drop,
    /// reported as `Ok(false)`.
    pub fn write_frame(&self, parts: &[&[u8]]) -> io::Result<bool> {
        let mut iov = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; 4];
        assert!(
            parts.len() <= iov.len(),
            "a frame is written in at most 4 parts"
        );
        for (v, p) in iov.iter_mut().zip(parts) {
            v.iov_base = p.as_ptr() as *mut libc::c_void;
            v.iov_len = p.len();
        }
        loop {
            // SAFETY: every iovec points into a live slice of its length,
            // which the kernel only reads.
            let n = unsafe {
                libc::writev(
                    self.file.as_raw_fd(),
                    iov.as_ptr(),
                    parts.len() as libc::c_int,
                )
            };
            if n >= 0 {
                return Ok(true);
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => return Ok(false),
                _ => return Err(e),
            }
        }
    }
}

impl AsFd for Tap {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl AsRawFd for Tap {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}
