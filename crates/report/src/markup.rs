//! Escaping text for HTML, XML and Markdown.
//!
//! Everything a report shows comes from a plan or a command's output and is
//! untrusted: a plan summary may contain `<script>`, stdout may contain
//! terminal escapes. [`escape`] makes any text safe as HTML or XML content or
//! as a quoted attribute value, and replaces control characters (which XML
//! 1.0 forbids even as references) by their visible Unicode pictures
//! (`␛` for ESC), so the output stays well-formed. The Markdown helpers keep
//! wiki renderers from reading text as markup or raw HTML.

/// Escapes `s` for HTML/XML text and double- or single-quoted attributes.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {
                out.push(char::from_u32(0x2400 + c as u32).unwrap_or('\u{FFFD}'))
            }
            '\u{7f}' => out.push('\u{2421}'),
            // Not characters in XML 1.0.
            '\u{FFFE}' | '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Whether an artifact of this media type is text a report can include.
pub(crate) fn is_text_media(media_type: &str) -> bool {
    let m = media_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    m.starts_with("text/")
        || matches!(
            m.as_str(),
            "application/json" | "application/xml" | "application/x-ndjson" | "application/toml"
        )
        || m.ends_with("+json")
        || m.ends_with("+xml")
}

/// Text for Markdown prose or a table cell: markup characters are
/// backslash-escaped (so `<script>` stays text), line breaks become spaces.
pub(crate) fn md_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '&' | '#' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// `s` as an inline code span that is safe inside a Markdown table cell.
pub(crate) fn md_code(s: &str) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    // GFM splits table cells on `|` even inside code spans unless escaped.
    let flat = flat.replace('|', "\\|");
    let longest = flat.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if flat.starts_with('`') || flat.ends_with('`') || flat.is_empty() {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{flat}{pad}{fence}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup_and_control_characters() {
        assert_eq!(
            escape("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
        assert_eq!(escape("\u{1b}[31mred\u{0}"), "\u{241b}[31mred\u{2400}");
        assert_eq!(escape("a\tb\nc"), "a\tb\nc");
    }

    #[test]
    fn markdown_text_cannot_open_tags_or_cells() {
        assert_eq!(md_text("<b>|x_y"), "\\<b\\>\\|x\\_y");
        assert_eq!(md_text("two\nlines"), "two lines");
    }

    #[test]
    fn code_spans_grow_their_fence() {
        assert_eq!(md_code("p99(a) < 5ms"), "`p99(a) < 5ms`");
        assert_eq!(md_code("a`b"), "``a`b``");
        assert_eq!(md_code("`x"), "`` `x ``");
        assert_eq!(md_code("a|b"), "`a\\|b`");
    }

    #[test]
    fn text_media_types() {
        assert!(is_text_media("text/plain; charset=utf-8"));
        assert!(is_text_media("application/json"));
        assert!(!is_text_media("application/octet-stream"));
        assert!(!is_text_media("application/vnd.tcpdump.pcap"));
    }
}
