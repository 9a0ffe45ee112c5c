//! Command arguments with placeholders: `--bind={addr:server}`.
//!
//! An argument is literal text with `{addr:NODE}` placeholders that the
//! runner expands once the lab has given every node its address, and
//! `{netproof}`, the path of the running netproof binary (to start its own
//! responders, e.g. `{netproof} probe serve`). `{{` and
//! `}}` are literal braces. Any other `{...}` is an error rather than
//! literal text, so a typo such as `{adr:server}` cannot reach a command
//! line unexpanded. This module only splits the text; whether the node
//! exists is the validator's question.

use std::ops::Range;

use crate::model::{Arg, ArgPart};

/// A placeholder naming a node, with the byte range of the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeRef {
    pub name: String,
    pub range: Range<usize>,
}

/// Why an argument could not be split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArgError {
    /// Byte range in the argument.
    pub range: Range<usize>,
    pub message: String,
    pub label: &'static str,
    pub hint: String,
}

const BRACES_HINT: &str = "the placeholders are `{addr:NODE}` and `{netproof}` (this netproof binary); write `{{` and `}}` for literal braces";

/// Splits one argument into text and placeholders.
pub(crate) fn parse_arg(s: &str) -> Result<(Arg, Vec<NodeRef>), ArgError> {
    let mut parts: Vec<ArgPart> = Vec::new();
    let mut refs = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    let bytes = s.as_bytes();
    while i < bytes.len() {
        match bytes[i] {
            b'{' if bytes.get(i + 1) == Some(&b'{') => {
                text.push('{');
                i += 2;
            }
            b'}' if bytes.get(i + 1) == Some(&b'}') => {
                text.push('}');
                i += 2;
            }
            b'{' => {
                let Some(len) = s[i + 1..].find('}') else {
                    return Err(ArgError {
                        range: i..s.len(),
                        message: format!("unclosed `{{` in argument `{s}`"),
                        label: "unclosed `{`",
                        hint: BRACES_HINT.to_string(),
                    });
                };
                let inner_start = i + 1;
                let inner = &s[inner_start..inner_start + len];
                let end = inner_start + len + 1;
                if inner == "netproof" {
                    if !text.is_empty() {
                        parts.push(ArgPart::Text(std::mem::take(&mut text)));
                    }
                    parts.push(ArgPart::Netproof);
                    i = end;
                    continue;
                }
                match inner.strip_prefix("addr:") {
                    Some(node) if !node.is_empty() => {
                        if !text.is_empty() {
                            parts.push(ArgPart::Text(std::mem::take(&mut text)));
                        }
                        parts.push(ArgPart::Addr(node.to_string()));
                        let name_start = inner_start + "addr:".len();
                        refs.push(NodeRef {
                            name: node.to_string(),
                            range: name_start..name_start + node.len(),
                        });
                    }
                    _ => {
                        return Err(ArgError {
                            range: i..end,
                            message: format!("unknown placeholder `{{{inner}}}` in argument `{s}`"),
                            label: "unknown placeholder",
                            hint: BRACES_HINT.to_string(),
                        });
                    }
                }
                i = end;
            }
            b'}' => {
                return Err(ArgError {
                    range: i..i + 1,
                    message: format!("unmatched `}}` in argument `{s}`"),
                    label: "unmatched `}`",
                    hint: BRACES_HINT.to_string(),
                });
            }
            _ => {
                // Copy the whole UTF-8 character; braces are ASCII, so any
                // other byte run up to the next brace is plain text.
                let next = s[i..].find(['{', '}']).map_or(s.len(), |n| i + n);
                text.push_str(&s[i..next]);
                i = next;
            }
        }
    }
    if !text.is_empty() || parts.is_empty() {
        parts.push(ArgPart::Text(text));
    }
    Ok((Arg(parts), refs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> ArgPart {
        ArgPart::Text(s.to_string())
    }

    #[test]
    fn splits_placeholders() {
        let (arg, refs) = parse_arg("--bind={addr:server}:80").unwrap();
        assert_eq!(
            arg,
            Arg(vec![
                text("--bind="),
                ArgPart::Addr("server".into()),
                text(":80")
            ])
        );
        assert_eq!(refs[0].range, 13..19);
        assert_eq!(parse_arg("plain").unwrap().0, Arg::literal("plain"));
        assert_eq!(parse_arg("").unwrap().0, Arg::literal(""));
        assert_eq!(parse_arg("{{x}}").unwrap().0, Arg::literal("{x}"));
        assert_eq!(parse_arg("µ{{").unwrap().0, Arg::literal("µ{"));
        let (arg, _) = parse_arg("{addr:a}{addr:b}").unwrap();
        assert_eq!(arg.0.len(), 2);
        assert_eq!(arg.expand(|n| format!("<{n}>")), "<a><b>");
    }

    #[test]
    fn rejects_other_braces() {
        assert_eq!(parse_arg("${HOME}").unwrap_err().range, 1..7);
        assert_eq!(
            parse_arg("{addr:}").unwrap_err().label,
            "unknown placeholder"
        );
        assert_eq!(parse_arg("a{b").unwrap_err().range, 1..3);
        assert_eq!(parse_arg("a}b").unwrap_err().range, 1..2);
    }
}
