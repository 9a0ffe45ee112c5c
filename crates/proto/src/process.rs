//! A process's identity and liveness, from its `/proc/PID/stat` line.
//!
//! Two records name processes that may have died since: a lab registry
//! entry (its owner and the services it started) and a run's owner in the
//! results database. Both identify a process by pid **and** start time
//! (field 22 of the stat line, clock ticks since boot), because a pid alone
//! may by now belong to an unrelated process. Both then ask the same
//! question, "is that process still alive?", and [`Stat::is_alive_as`] is
//! the one answer.
//!
//! A zombie (state `Z`, or the transient `X` of a process being reaped)
//! counts as **gone**: it has exited, runs no code, holds no namespace or
//! lock and will never write another sample; only its parent has not yet
//! collected its status. A run whose owner is a zombie has crashed and a
//! lab whose owner is a zombie is garbage, so both callers must treat it
//! as dead (they used to disagree: the registry said gone, the store
//! alive).
//!
//! [`parse`] is pure and never panics on any input; [`read`] is the one
//! file read in this crate, kept beside the parser so both callers read
//! the same file the same way.

use std::io;

use thiserror::Error;

/// What netproof needs from one `/proc/PID/stat` line: its identity and
/// liveness (registry, run owner) and what it costs (the lab's per-service
/// resource collector).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Field 3, the state letter (`R`, `S`, `D`, `Z`, `T`, `t`, `X`, `I`, ...).
    pub state: char,
    /// Field 5, the process group.
    pub pgrp: u32,
    /// Fields 14 and 15, user and system time in clock ticks.
    pub utime: u64,
    /// System time in clock ticks (field 15).
    pub stime: u64,
    /// Fields 16 and 17, the user and system time of reaped children, in
    /// clock ticks (signed in the kernel's format; a negative value, which
    /// the kernel never writes, reads as 0).
    pub cutime: u64,
    /// Reaped children's system time in clock ticks (field 17).
    pub cstime: u64,
    /// Field 22, the start time in clock ticks since boot.
    pub start_time: u64,
    /// Field 24, resident pages.
    pub rss_pages: u64,
}

impl Stat {
    /// Whether the process has exited: a zombie (`Z`) waiting to be reaped,
    /// or one being reaped (`X`, `x` on old kernels).
    pub fn has_exited(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }

    /// Whether this line describes the process recorded as starting at
    /// `start_time`, still alive: the start time matches (so the pid was not
    /// reused) and it has not exited (a zombie is gone, see the module docs).
    pub fn is_alive_as(&self, start_time: u64) -> bool {
        self.start_time == start_time && !self.has_exited()
    }
}

/// A stat line that does not have the shape the kernel writes.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StatError {
    /// No `)` closing the command name (field 2).
    #[error("no `(command)` field in the stat line `{0}`")]
    NoCommand(String),
    /// The line ends before the field.
    #[error("the stat line ends before field {field} ({name})")]
    Missing {
        /// The field's number, as proc(5) counts them.
        field: u8,
        /// The field's name in proc(5).
        name: &'static str,
    },
    /// The field is there but not what proc(5) says it holds.
    #[error("field {field} ({name}) of the stat line is `{value}`, not {expected}")]
    Invalid {
        /// The field's number, as proc(5) counts them.
        field: u8,
        /// The field's name in proc(5).
        name: &'static str,
        /// The text found.
        value: String,
        /// What was expected there.
        expected: &'static str,
    },
}

/// Parses a `/proc/PID/stat` line into its state and start time.
///
/// Field 2 is the command name in parentheses and may itself hold spaces
/// and parentheses (a process may name itself `a) R (b`), so the fields
/// are counted from the line's *last* `)`.
pub fn parse(line: &str) -> Result<Stat, StatError> {
    let close = line
        .rfind(')')
        .ok_or_else(|| StatError::NoCommand(shorten(line)))?;
    // fields[0] is field 3.
    let fields: Vec<&str> = line[close + 1..].split_whitespace().collect();
    let text = |field: u8, name: &'static str| -> Result<&str, StatError> {
        fields
            .get(usize::from(field) - 3)
            .copied()
            .ok_or(StatError::Missing { field, name })
    };
    let state_text = text(3, "state")?;
    let mut letters = state_text.chars();
    let state = match (letters.next(), letters.next()) {
        (Some(c), None) if c.is_ascii_alphabetic() => c,
        _ => {
            return Err(StatError::Invalid {
                field: 3,
                name: "state",
                value: shorten(state_text),
                expected: "one letter",
            });
        }
    };
    let number = |field: u8, name: &'static str| -> Result<u64, StatError> {
        let t = text(field, name)?;
        // Signed fields (cutime, cstime, rss) are never negative in
        // practice; a negative one counts as nothing rather than failing.
        t.parse::<u64>()
            .or_else(|_| t.parse::<i64>().map(|v| v.max(0).unsigned_abs()))
            .map_err(|_| StatError::Invalid {
                field,
                name,
                value: shorten(t),
                expected: "a number",
            })
    };
    let pgrp = number(5, "pgrp")?;
    Ok(Stat {
        state,
        pgrp: u32::try_from(pgrp).map_err(|_| StatError::Invalid {
            field: 5,
            name: "pgrp",
            value: pgrp.to_string(),
            expected: "a process group id",
        })?,
        utime: number(14, "utime")?,
        stime: number(15, "stime")?,
        cutime: number(16, "cutime")?,
        cstime: number(17, "cstime")?,
        start_time: number(22, "starttime")?,
        rss_pages: number(24, "rss")?,
    })
}

/// Reads and parses `/proc/PID/stat`.
///
/// A process that does not exist is an error of kind
/// [`io::ErrorKind::NotFound`] (or `ESRCH` when it exits between open and
/// read); a line that does not parse is [`io::ErrorKind::InvalidData`]
/// carrying the [`StatError`].
pub fn read(pid: u32) -> io::Result<Stat> {
    let line = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse(&line).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// At most 40 characters of `text`, for an error message.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shaped like `cat /proc/self/stat`, with a command name holding spaces
    // and a `)` followed by what looks like a state, to trip a naive split.
    static TRICKY: &str = "4242 (we ird) R (x) S 1 4242 4242 0 -1 4194560 113 0 0 0 0 0 0 0 20 0 1 0 987654 2732032 165 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
    static ZOMBIE: &str = "77 (true) Z 76 77 76 0 -1 4228164 97 0 0 0 0 0 0 0 20 0 1 0 123456 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0";

    #[test]
    fn fields_are_counted_after_the_last_paren() {
        let s = parse(TRICKY).unwrap();
        assert_eq!(
            s,
            Stat {
                state: 'S',
                pgrp: 4242,
                utime: 0,
                stime: 0,
                cutime: 0,
                cstime: 0,
                start_time: 987_654,
                rss_pages: 165,
            }
        );
        assert!(s.is_alive_as(987_654));
    }

    #[test]
    fn a_zombie_has_exited_and_is_not_alive() {
        let s = parse(ZOMBIE).unwrap();
        assert_eq!(s.state, 'Z');
        assert_eq!(s.start_time, 123_456);
        assert!(s.has_exited());
        assert!(!s.is_alive_as(123_456));
    }

    #[test]
    fn another_start_time_is_another_process() {
        let s = parse(TRICKY).unwrap();
        assert!(!s.is_alive_as(987_655));
        assert!(!s.is_alive_as(0));
    }

    #[test]
    fn malformed_lines_say_what_is_wrong() {
        assert_eq!(parse(""), Err(StatError::NoCommand(String::new())));
        assert!(matches!(parse("garbage"), Err(StatError::NoCommand(_))));
        assert_eq!(
            parse("42 (x)"),
            Err(StatError::Missing {
                field: 3,
                name: "state"
            })
        );
        assert_eq!(
            parse("42 (x) S 1 2 3"),
            Err(StatError::Missing {
                field: 14,
                name: "utime"
            })
        );
        // Cut short of the start time (field 22).
        let upto21: Vec<&str> = TRICKY.split(' ').take(23).collect();
        assert_eq!(
            parse(&upto21.join(" ")),
            Err(StatError::Missing {
                field: 22,
                name: "starttime"
            })
        );
        assert!(matches!(
            parse("42 (x) SS 1 2"),
            Err(StatError::Invalid { field: 3, .. })
        ));
        let e = parse(&TRICKY.replace("987654", "98x")).unwrap_err();
        assert!(matches!(e, StatError::Invalid { field: 22, .. }), "{e}");
        assert_eq!(
            e.to_string(),
            "field 22 (starttime) of the stat line is `98x`, not a number"
        );
    }

    #[test]
    fn every_prefix_of_a_line_parses_or_errs_without_panicking() {
        for end in 0..=TRICKY.len() {
            let _ = parse(&TRICKY[..end]);
        }
        assert!(parse(&"\u{e9})".repeat(50)).is_err());
    }

    #[test]
    fn this_process_reads_as_alive() {
        let me = read(std::process::id()).unwrap();
        assert!(!me.has_exited());
        assert!(me.start_time > 0);
        assert!(me.is_alive_as(me.start_time));
    }

    #[test]
    fn a_missing_process_reads_as_not_found() {
        // Above the kernel's pid_max limit (2^22), so no process has it.
        let e = read(u32::MAX).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }
}
