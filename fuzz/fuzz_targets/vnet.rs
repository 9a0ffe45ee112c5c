//! The link emulator's view of a frame read from a TAP device: the
//! virtio-net header, Ethernet (with one VLAN tag), IPv4 or IPv6, TCP or
//! UDP, and a TCP super-frame's wire segments; then every way the
//! emulator writes it back: whole, one segment at a time, split in two,
//! marked ECN CE, with a bit flipped. The bytes come from the kernel, but
//! a node's programs choose most of them (raw sockets, odd headers), so
//! nothing in them may make the emulator panic.
//!
//! Input: one control byte (bit 0: mark CE; bit 1: corrupt; the rest is
//! the corruption's random value), then the frame, virtio-net header
//! first. Each piece written has the length its segments say.

#![no_main]

use std::io;

use libfuzzer_sys::fuzz_target;
use netproof_link::vnet::{FrameInfo, Piece, VNET_HDR_LEN, emit};

fuzz_target!(|data: &[u8]| {
    let Some((&control, frame)) = data.split_first() else {
        return;
    };
    let Some(info) = FrameInfo::parse(frame) else {
        assert!(
            frame.len() < VNET_HDR_LEN,
            "a frame with its header refused"
        );
        return;
    };
    let segs = info.segs;
    assert!(segs.count >= 1);
    let ce = control & 1 != 0;
    let corrupt = (control & 2 != 0).then_some(u64::from(control >> 2) * 0x9e37_79b9);
    let mut scratch = Vec::new();
    let mut write = |first: u32, count: u32, corrupt: Option<u64>| {
        let piece = Piece {
            first,
            count,
            ce,
            corrupt,
        };
        let mut written = 0usize;
        emit(frame, &info, piece, &mut scratch, |bufs: &[&[u8]]| {
            written = bufs.iter().map(|b| b.len()).sum();
            Ok::<bool, io::Error>(true)
        })
        .expect("the writer does not fail");
        written
    };
    // Whole, as the emulator writes a frame every segment of which fared alike.
    assert_eq!(write(0, segs.count, None), frame.len(), "the whole frame");
    if segs.count > 1 {
        // One segment at a time (the one a loss or a corruption singles out).
        for i in 0..segs.count.min(64) {
            let len = write(i, 1, corrupt);
            assert_eq!(
                len - VNET_HDR_LEN,
                segs.len_of(i) as usize,
                "segment {i} of {segs:?}"
            );
        }
        // Two runs, as after a drop in the middle.
        let mid = segs.count / 2;
        let a = write(0, mid, None) - VNET_HDR_LEN - info.payload;
        let b = write(mid, segs.count - mid, None) - VNET_HDR_LEN - info.payload;
        assert_eq!(
            a + b,
            frame.len() - VNET_HDR_LEN - info.payload,
            "the payload split in two"
        );
    } else if corrupt.is_some() || ce {
        assert_eq!(write(0, 1, corrupt), frame.len(), "one segment, marked");
    }
});
