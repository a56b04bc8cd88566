//! Shell-style patterns for `--only`: `*` any run of characters, `?` one character.

pub fn matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn globs() {
        assert!(matches("local-kvm/*", "local-kvm/tiny@lab1"));
        assert!(matches("*@lab1", "local-kvm/tiny@lab1"));
        assert!(matches("*tiny?lab1", "local-kvm/tiny@lab1"));
        assert!(matches("local-kvm/tiny@lab1", "local-kvm/tiny@lab1"));
        assert!(!matches("local-kvm/tiny", "local-kvm/tiny@lab1"));
        assert!(!matches("*@lab2", "local-kvm/tiny@lab1"));
        assert!(matches("*", ""));
    }
}
