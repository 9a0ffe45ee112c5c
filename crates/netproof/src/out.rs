//! Standard output that never panics.
//!
//! `println!` panics when stdout is a pipe whose reader has gone
//! (`netproof runs | head -1`). Output here is best effort instead: a
//! write that fails (a closed pipe, a full disk) is dropped and the
//! command goes on, so a lab still comes down and the exit code still
//! says how the run went.

use std::fmt;
use std::io::Write;

/// Writes `args` to stdout, ignoring errors.
pub fn write(args: fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_fmt(args);
}

/// Writes `args` and a newline to stdout, ignoring errors.
pub fn line(args: fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_fmt(args).and_then(|()| out.write_all(b"\n"));
}

/// `print!` that never panics (see the module documentation).
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::out::write(format_args!($($arg)*))
    };
}

/// `println!` that never panics (see the module documentation).
macro_rules! outln {
    () => {
        $crate::out::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::out::line(format_args!($($arg)*))
    };
}
