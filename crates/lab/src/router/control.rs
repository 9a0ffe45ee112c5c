//! Clients of the daemons' control sockets: BIRD's (`bird -s`) and FRR's
//! per-daemon vty sockets (`--vty_socket`), spoken directly.
//!
//! Readiness asks every router every round; starting `birdc` or `vtysh`
//! for each question costs 2-25 ms of CPU, a socket exchange a fraction of
//! a millisecond, and on two cores that difference is time taken from the
//! daemons being measured. Both protocols are line or NUL framed:
//!
//! - BIRD greets with `0001 BIRD x.y ready.`; a reply is lines `NNNN-text`
//!   or ` text` (continuation), ended by the first line `NNNN text` (a
//!   space after the code); codes 8000 and up are errors. The text is
//!   returned as `birdc` prints it.
//! - FRR takes a command ended by NUL and answers its output followed by
//!   three NULs and a status byte (0 is success), as `vtysh` reads it.

use std::io;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

/// How long one exchange may take.
const EXCHANGE: Duration = Duration::from_secs(2);

/// Most bytes of one reply kept (a full routing table is not asked for).
const REPLY_LIMIT: usize = 4 << 20;

/// Sends `command` to the BIRD control socket at `socket` and returns the
/// reply's text.
pub async fn bird(socket: &Path, command: &str) -> io::Result<String> {
    tokio::time::timeout(EXCHANGE, async {
        let stream = UnixStream::connect(socket).await?;
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let greeting = lines.next_line().await?.unwrap_or_default();
        if !greeting.starts_with("0001 ") {
            return Err(io::Error::other(format!(
                "not a BIRD control socket (greeting `{greeting}`)"
            )));
        }
        write.write_all(command.as_bytes()).await?;
        write.write_all(b"\n").await?;
        let mut text = String::new();
        while let Some(line) = lines.next_line().await? {
            match bird_line(&line) {
                BirdLine::More(t) => {
                    text.push_str(t);
                    text.push('\n');
                }
                BirdLine::Last { code, text: t } => {
                    if code >= 8000 {
                        return Err(io::Error::other(format!("BIRD: {t}")));
                    }
                    if code != 0 {
                        text.push_str(t);
                        text.push('\n');
                    }
                    return Ok(text);
                }
            }
            if text.len() > REPLY_LIMIT {
                return Err(io::Error::other("BIRD's reply is too long"));
            }
        }
        Err(io::Error::from(io::ErrorKind::UnexpectedEof))
    })
    .await
    .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))?
}

/// One line of a BIRD reply.
#[derive(Debug, PartialEq, Eq)]
enum BirdLine<'a> {
    /// Part of the reply, more to come.
    More(&'a str),
    /// The reply's last line.
    Last { code: u16, text: &'a str },
}

fn bird_line(line: &str) -> BirdLine<'_> {
    let b = line.as_bytes();
    if b.len() >= 5 && b[..4].iter().all(u8::is_ascii_digit) {
        let code = line[..4].parse().unwrap_or(0);
        let text = &line[5..];
        return if b[4] == b' ' {
            BirdLine::Last { code, text }
        } else {
            BirdLine::More(text)
        };
    }
    BirdLine::More(line.strip_prefix(' ').unwrap_or(line))
}

/// Sends `command` to the FRR daemon whose vty socket is `socket` and
/// returns its output.
pub async fn frr(socket: &Path, command: &str) -> io::Result<String> {
    frr_commands(socket, &[command]).await
}

/// As [`frr`], for a command the daemon takes only in enable mode (bfdd's
/// `show bfd peers`): `enable` first, on the same connection.
pub async fn frr_enabled(socket: &Path, command: &str) -> io::Result<String> {
    frr_commands(socket, &["enable", command]).await
}

/// Sends `commands` one after the other on one connection; the output of
/// the last, or the first failure.
async fn frr_commands(socket: &Path, commands: &[&str]) -> io::Result<String> {
    tokio::time::timeout(EXCHANGE, async {
        let mut stream = UnixStream::connect(socket).await?;
        let mut out = String::new();
        for command in commands {
            stream.write_all(command.as_bytes()).await?;
            stream.write_all(b"\0").await?;
            let mut reply = Vec::new();
            let mut buf = [0u8; 16 * 1024];
            out = loop {
                let n = stream.read(&mut buf).await?;
                if n == 0 {
                    return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
                }
                reply.extend_from_slice(&buf[..n]);
                if let Some(result) = frr_reply(&reply) {
                    break result?;
                }
                if reply.len() > REPLY_LIMIT {
                    return Err(io::Error::other("FRR's reply is too long"));
                }
            };
        }
        Ok(out)
    })
    .await
    .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))?
}

/// A complete FRR reply (`None` while the end marker has not arrived).
fn frr_reply(reply: &[u8]) -> Option<io::Result<String>> {
    let n = reply.len();
    if n < 4 || reply[n - 4..n - 1] != [0, 0, 0] {
        return None;
    }
    let text = String::from_utf8_lossy(&reply[..n - 4]).into_owned();
    Some(match reply[n - 1] {
        0 => Ok(text),
        status => Err(io::Error::other(format!(
            "FRR (status {status}): {}",
            text.trim()
        ))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bird_lines_are_told_apart_by_the_character_after_the_code() {
        assert_eq!(bird_line("1013-o4:"), BirdLine::More("o4:"));
        assert_eq!(
            bird_line(" Router ID\tPri"),
            BirdLine::More("Router ID\tPri")
        );
        assert_eq!(bird_line("0000 "), BirdLine::Last { code: 0, text: "" });
        assert_eq!(
            bird_line("9001 syntax error, unexpected CF_SYM_UNDEFINED"),
            BirdLine::Last {
                code: 9001,
                text: "syntax error, unexpected CF_SYM_UNDEFINED"
            }
        );
    }

    #[test]
    fn frr_replies_end_with_three_nuls_and_a_status() {
        assert!(frr_reply(b"{\n").is_none());
        assert_eq!(frr_reply(b"{\n}\n\0\0\0\0").unwrap().unwrap(), "{\n}\n");
        let err = frr_reply(b"% [OSPF] Unknown command: show bogus\n\0\0\0\x02")
            .unwrap()
            .unwrap_err();
        assert!(err.to_string().contains("Unknown command"), "{err}");
    }

    #[tokio::test]
    async fn both_clients_speak_to_a_socket_that_answers_as_the_daemons_do() {
        let dir = tempfile::tempdir().unwrap();
        let bird_path = dir.path().join("bird.ctl");
        let frr_path = dir.path().join("ospfd.vty");
        let bird_listener = tokio::net::UnixListener::bind(&bird_path).unwrap();
        let frr_listener = tokio::net::UnixListener::bind(&frr_path).unwrap();
        tokio::spawn(async move {
            let (mut s, _) = bird_listener.accept().await.unwrap();
            s.write_all(b"0001 BIRD 2.0.12 ready.\n").await.unwrap();
            let mut cmd = [0u8; 64];
            let _ = s.read(&mut cmd).await.unwrap();
            s.write_all(b"1013-o4:\n Router ID\n0000 \n").await.unwrap();
        });
        tokio::spawn(async move {
            let (mut s, _) = frr_listener.accept().await.unwrap();
            let mut cmd = [0u8; 64];
            let _ = s.read(&mut cmd).await.unwrap();
            s.write_all(b"{\"neighbors\":{}}\n\0\0\0\0").await.unwrap();
        });
        assert_eq!(
            bird(&bird_path, "show ospf neighbors").await.unwrap(),
            "o4:\nRouter ID\n"
        );
        assert_eq!(
            frr(&frr_path, "show ip ospf neighbor json").await.unwrap(),
            "{\"neighbors\":{}}\n"
        );
    }

    #[tokio::test]
    async fn an_enable_only_command_is_sent_after_enable_on_one_connection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bfdd.vty");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        // As bfdd does: `show bfd peers` is unknown until `enable`.
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut s = BufReader::new(s);
                    let mut enabled = false;
                    loop {
                        let mut cmd = Vec::new();
                        if s.read_until(0, &mut cmd).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let reply: &[u8] = match (&cmd[..cmd.len() - 1], enabled) {
                            (b"enable", _) => {
                                enabled = true;
                                b"\0\0\0\0"
                            }
                            (b"show bfd peers json", true) => b"[]\n\0\0\0\0",
                            _ => b"% [BFD] Unknown command: show bfd peers json\n\0\0\0\x02",
                        };
                        s.get_mut().write_all(reply).await.unwrap();
                    }
                });
            }
        });
        let err = frr(&path, "show bfd peers json").await.unwrap_err();
        assert!(err.to_string().contains("Unknown command"), "{err}");
        assert_eq!(
            frr_enabled(&path, "show bfd peers json").await.unwrap(),
            "[]\n"
        );
    }
}
