//! "Did you mean ...?" for misspelt keys, references and values.

/// The candidate closest to `input`, if any is close enough to be a typo.
pub(crate) fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .filter(|c| *c != input)
        .map(|c| (strsim::jaro_winkler(input, c), strsim::levenshtein(input, c), c))
        .filter(|&(jw, lev, c)| jw > 0.8 || (lev <= 2 && lev < c.chars().count().max(input.chars().count())))
        .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)))
        .map(|(_, _, c)| c)
}

/// `did you mean `x`?` when something is close.
pub(crate) fn did_you_mean<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    closest(input, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// `a, b, c` for "expected one of ..." messages.
pub(crate) fn list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    items.into_iter().collect::<Vec<_>>().join(", ")
}

/// `did you mean ...?` if something is close, otherwise "expected one of ...".
pub(crate) fn help_for(input: &str, candidates: &[&str], what: &str) -> Option<String> {
    if candidates.is_empty() {
        return None;
    }
    did_you_mean(input, candidates.iter().copied())
        .or_else(|| Some(format!("{what}: {}", list(candidates.iter().copied()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(closest("memroy_mib", ["memory_mib", "vcpus"]), Some("memory_mib"));
        assert_eq!(closest("tyny", ["tiny", "custom"]), Some("tiny"));
        assert_eq!(closest("xen-pvm", ["kvm", "xen-pv", "xen-pvh", "xen-pvhvm", "xen-hvm"]), Some("xen-pv"));
        assert_eq!(closest("zzz", ["memory_mib", "vcpus"]), None);
        assert_eq!(closest("ab", ["xy"]), None);
    }
}
