//! Text for the HTML page: escaping (terminal sequences and control characters
//! removed first) and the outcome badges. A leaf module, so that the page and its
//! parts (`html`, `html_matrix`) share it without depending on each other.

use crate::events::Outcome;

pub fn class_outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::Passed => "outcome-passed",
        Outcome::Failed => "outcome-failed",
        Outcome::Error => "outcome-error",
        Outcome::Skipped => "outcome-skipped",
        Outcome::KnownFailure => "outcome-known-failure",
    }
}

pub fn badge(o: Outcome) -> String {
    let text = match o {
        Outcome::Passed => "PASS",
        Outcome::Failed => "FAIL",
        Outcome::Error => "ERROR",
        Outcome::Skipped => "SKIP",
        Outcome::KnownFailure => "KNOWN",
    };
    format!("<span class=\"badge {}\">{text}</span>", class_outcome(o))
}

/// Text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in strip_terminal(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Removes terminal escape sequences (CSI such as colours and `ESC [2J`, OSC
/// titles, two-byte escapes) and every control character but newline and tab.
pub fn strip_terminal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.peek().copied() {
                // CSI: parameters and intermediates (0x20..=0x3f), then a final byte.
                Some('[') => {
                    chars.next();
                    while let Some(&d) = chars.peek() {
                        if ('\u{20}'..='\u{3f}').contains(&d) {
                            chars.next();
                        } else {
                            if ('\u{40}'..='\u{7e}').contains(&d) {
                                chars.next();
                            }
                            break;
                        }
                    }
                }
                // OSC, DCS, SOS, PM, APC: a string ended by BEL or ESC \.
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    chars.next();
                    while let Some(d) = chars.next() {
                        if d == '\u{7}' {
                            break;
                        }
                        if d == '\u{1b}' {
                            if chars.peek() == Some(&'\\') {
                                chars.next();
                            }
                            break;
                        }
                    }
                }
                // Charset designation: ESC ( B and friends.
                Some('(' | ')' | '*' | '+' | '-' | '.' | '/' | '#' | '%') => {
                    chars.next();
                    chars.next();
                }
                Some(d) if !d.is_control() => {
                    chars.next();
                }
                _ => {}
            },
            '\n' | '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_sequences_and_control_characters_go() {
        assert_eq!(strip_terminal("a\u{1b}[31mred\u{1b}[0m b"), "ared b");
        assert_eq!(strip_terminal("SeaBIOS \u{1b}[2J\u{1b}[1;1Hx"), "SeaBIOS x");
        assert_eq!(strip_terminal("\u{1b}]0;title\u{7}text"), "text");
        assert_eq!(strip_terminal("\u{1b}]0;title\u{1b}\\text"), "text");
        assert_eq!(strip_terminal("\u{1b}(Bplain\u{1b}c"), "plain");
        assert_eq!(strip_terminal("line\r\nnext\u{0}\u{8}\u{7f}\u{9b}\tend"), "line\nnext\tend");
        assert_eq!(strip_terminal("trailing \u{1b}"), "trailing ");
        assert_eq!(strip_terminal("\u{1b}[31"), "");
        assert_eq!(strip_terminal("über ✓"), "über ✓");
    }

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(esc("\u{1b}[1m<b>\u{1b}[0m"), "&lt;b&gt;");
    }
}
