//! Escaping for the hand-written HTML of the consumer page.
//!
//! Every value that comes from a record, a request or the store is untrusted
//! and goes into the page through [`Esc`] (text and attribute values) or
//! [`path_segment`] (a code inside a URL path). Only literal markup written in
//! this module's callers is emitted as is.

use std::fmt::{self, Display, Write as _};

/// Displays a string with the five HTML-significant characters escaped, safe
/// in element content and in quoted attribute values.
#[derive(Debug, Clone, Copy)]
pub struct Esc<'a>(pub &'a str);

impl Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            let entity = match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            };
            f.write_str(entity)?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

/// Escapes `text` for HTML into a new string.
pub fn escape(text: &str) -> String {
    Esc(text).to_string()
}

/// Percent-encodes `text` as one URL path segment or query value: every byte
/// outside the RFC 3986 unreserved set becomes `%XX`.
pub fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(escape("plain 文字"), "plain 文字");
        assert_eq!(escape(""), "");
    }

    #[test]
    fn percent_encodes_path_segments() {
        assert_eq!(path_segment("AB-12_x.y~"), "AB-12_x.y~");
        assert_eq!(path_segment("a/b c?é"), "a%2Fb%20c%3F%C3%A9");
    }
}
