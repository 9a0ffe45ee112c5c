//! Value types shared by the plan language and the code that acts on it.
//!
//! A plan string is parsed once, at `netproof check`, into one of these
//! types; the validated plan holds them and everything below the executor
//! (the lab, the link emulator, the probes) takes them as they are, so no
//! crate parses a plan string a second time. Nothing here does I/O, holds
//! a socket or reads a clock: each module is a codec or a small validated
//! value, and none panics on what a user wrote. (One exception, named:
//! [`process::read`] reads a `/proc/PID/stat` file, so the lab registry and
//! the results store read it the same way.)
//!
//! - [`link`]: what an emulated link does per direction (netem's meanings)
//!   and the Mahimahi trace format.
//! - [`url`]: the part of an `http(s)://` URL a probe needs, with where
//!   each part sits in the text.
//! - [`range`]: byte ranges asked for (`Range`) and answered
//!   (`Content-Range`).
//! - [`prefix`]: network prefixes (the `ipnet` crate's types) as a user
//!   writes them, and the lab's address ranges.
//! - [`dns`]: DNS names and record types.
//! - [`process`]: a process's identity (pid and start time) and whether it
//!   is still alive, from `/proc/PID/stat`.
//! - [`cdn`]: the reference CDN's origin and edge configuration, as
//!   `netproof cdn ... --config FILE` reads it.
//! - [`content`]: the reference CDN's synthetic file bytes, a function of
//!   (title, file, offset) any client can check a body against.
//! - [`steering`]: what edges report to the CDN's steering service, and
//!   its configuration.
//! - [`seed`]: deriving independent, reproducible seeds from a run's seed.

pub mod cdn;
pub mod content;
pub mod dns;
pub mod link;
pub mod prefix;
pub mod process;
pub mod range;
pub mod seed;
pub mod steering;
pub mod url;
