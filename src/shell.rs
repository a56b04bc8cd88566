//! Quoting values for a POSIX shell: a command string sent over SSH (or to
//! `sh -c`) must carry a value as one word, whatever it holds.

/// `s` as one POSIX shell word: in single quotes, each `'` written as `'\''`;
/// the empty string is `''`. NUL cannot be passed to a shell at all.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str(r"'\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// `s` as one shell word for a line a human pastes: as it is when nothing in
/// it means anything to a shell (so the usual line stays easy to read),
/// otherwise quoted with [`crate::shell::quote`].
pub fn word(s: &str) -> std::borrow::Cow<'_, str> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_./:@%=+,-".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        std::borrow::Cow::Borrowed(s)
    } else {
        std::borrow::Cow::Owned(quote(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quotes_are_escaped_and_empty_is_two_quotes() {
        assert_eq!(quote(""), "''");
        assert_eq!(quote("plain"), "'plain'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("$(rm -rf /); `x` \"y\" \\ *"), "'$(rm -rf /); `x` \"y\" \\ *'");
    }

    /// What `sh -c "printf %s WORD"` prints.
    fn through_sh(word: &str) -> String {
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("printf %s {word}"))
            .output()
            .expect("spawn /bin/sh");
        assert!(out.status.success(), "sh failed on {word:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("sh printed what it was given: UTF-8")
    }

    #[test]
    fn shell_metacharacters_survive_sh() {
        for s in ["", "'", "''", "a b", "$HOME", "`id`", "$(id)", "\\", "\n", "a'b\"c", "*", "-n", "%s", "~", "#x"] {
            assert_eq!(through_sh(&quote(s)), s);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn any_string_without_nul_survives_sh(s in "[^\u{0}]{0,40}") {
            prop_assert_eq!(through_sh(&quote(&s)), s);
        }
    }
}
