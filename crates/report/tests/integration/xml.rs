//! A small well-formedness check for XML (enough for JUnit output): tags
//! balance, attributes are quoted, entity references are known, no raw `<`
//! or `&` in text, no characters XML 1.0 forbids, one root element.

/// Checks `doc`, returning the element names in document order.
pub fn check(doc: &str) -> Result<Vec<String>, String> {
    if let Some(c) = doc
        .chars()
        .find(|&c| (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(format!("forbidden character U+{:04X}", c as u32));
    }
    let mut rest = doc;
    if let Some(r) = rest.strip_prefix("<?xml") {
        let end = r.find("?>").ok_or("unterminated XML declaration")?;
        rest = &r[end + 2..];
    }
    let mut stack: Vec<String> = Vec::new();
    let mut names = Vec::new();
    let mut roots = 0;
    while !rest.is_empty() {
        let lt = rest.find('<').unwrap_or(rest.len());
        let text = &rest[..lt];
        if stack.is_empty() && !text.trim().is_empty() {
            return Err(format!("text outside the root element: {text:?}"));
        }
        check_text(text)?;
        rest = &rest[lt..];
        if rest.is_empty() {
            break;
        }
        if let Some(r) = rest.strip_prefix("<!--") {
            let end = r.find("-->").ok_or("unterminated comment")?;
            rest = &r[end + 3..];
        } else if let Some(r) = rest.strip_prefix("</") {
            let end = r.find('>').ok_or("unterminated end tag")?;
            let name = r[..end].trim();
            match stack.pop() {
                Some(open) if open == name => {}
                other => return Err(format!("</{name}> closes {other:?}")),
            }
            rest = &r[end + 1..];
        } else {
            let r = &rest[1..];
            let name_end = r
                .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .ok_or("unterminated start tag")?;
            let name = &r[..name_end];
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_alphanumeric() || "-_:.".contains(c))
            {
                return Err(format!("bad element name {name:?}"));
            }
            let mut r = &r[name_end..];
            let self_closing;
            loop {
                r = r.trim_start();
                if let Some(x) = r.strip_prefix("/>") {
                    self_closing = true;
                    r = x;
                    break;
                }
                if let Some(x) = r.strip_prefix('>') {
                    self_closing = false;
                    r = x;
                    break;
                }
                let eq = r
                    .find('=')
                    .ok_or(format!("attribute without value in <{name}>"))?;
                let attr = r[..eq].trim();
                if attr.is_empty() || attr.contains(char::is_whitespace) {
                    return Err(format!("bad attribute {attr:?} in <{name}>"));
                }
                r = r[eq + 1..].trim_start();
                let quote = r.chars().next().ok_or("unterminated attribute")?;
                if quote != '"' && quote != '\'' {
                    return Err(format!("unquoted attribute {attr} in <{name}>"));
                }
                let close = r[1..].find(quote).ok_or("unterminated attribute value")?;
                let value = &r[1..1 + close];
                if value.contains('<') {
                    return Err(format!("raw < in attribute {attr} of <{name}>"));
                }
                check_text(value)?;
                r = &r[close + 2..];
            }
            if stack.is_empty() {
                roots += 1;
            }
            names.push(name.to_string());
            if !self_closing {
                stack.push(name.to_string());
            }
            rest = r;
        }
    }
    if !stack.is_empty() {
        return Err(format!("unclosed elements: {stack:?}"));
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    Ok(names)
}

fn check_text(text: &str) -> Result<(), String> {
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        let r = &rest[i + 1..];
        let end = r.find(';').ok_or("unterminated entity reference")?;
        let entity = &r[..end];
        let known = matches!(entity, "lt" | "gt" | "amp" | "quot" | "apos")
            || entity
                .strip_prefix('#')
                .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty());
        if !known {
            return Err(format!("unknown entity &{entity};"));
        }
        rest = &r[end + 1..];
    }
    Ok(())
}

#[test]
fn the_checker_rejects_broken_documents() {
    assert!(check("<a><b/></a>").is_ok());
    assert!(check("<a x=\"1\">t &amp; u</a>").is_ok());
    assert!(check("<a><b></a>").is_err());
    assert!(check("<a>x < y</a>").is_err());
    assert!(check("<a>AT&T</a>").is_err());
    assert!(check("<a x=1/>").is_err());
    assert!(check("<a/><b/>").is_err());
    assert!(check("<a>\u{1b}</a>").is_err());
}
