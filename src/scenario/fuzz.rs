//! Property tests of the loader: whatever the bytes, `load_str` answers with a
//! plan or with errors that point inside the file, and never panics. Bounded
//! (a fixed number of cases per property) so that they run in every `cargo test`.

use std::path::Path;

use proptest::prelude::*;

use super::load_str;

/// Valid scenarios the mutations start from.
const SEEDS: &[&str] = &[
    include_str!("../../scenarios/local-kvm.yaml"),
    include_str!("../../scenarios/local-xen.yaml"),
    include_str!("../../scenarios/local-migration.yaml"),
    include_str!("../../scenarios/local-network.yaml"),
    include_str!("../../scenarios/local-debian.yaml"),
    include_str!("../../scenarios/local-kvm-and-xen.yaml"),
];

/// Characters that mean something to YAML, and some that mean trouble.
const SPECIAL: &[char] = &[
    ':', '-', '{', '}', '[', ']', '\n', '\t', ' ', '\'', '"', '#', '&', '*', '!', '|', '>', '%', '@', '`', ',', '?',
    '\0', '\u{feff}', 'é', '0', '9',
];

/// Fragments that are plausible scenario text in the wrong place.
const TOKENS: &[&str] = &[
    "memroy_mib: 12\n",
    "kind: xen-pv",
    " count: 0",
    "host: any",
    "host: { labels: { a: b } }",
    "- boot\n",
    "!!str ",
    "<<: *x\n",
    "&a ",
    "*a",
    "~",
    "null",
    "1e99",
    "-1",
    "18446744073709551616",
    "timeouts: { case: 0s }",
    "matrix: {}",
    "---\n",
    "  ",
    "\n\n",
    "checks: [migrate]",
    "firmware: uefi",
    "cluster: [tiny, tiny]",
];

#[derive(Debug, Clone)]
enum Edit {
    DeleteChar(usize),
    Insert(usize, char),
    InsertToken(usize, usize),
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::DeleteChar),
        (any::<usize>(), proptest::sample::select(SPECIAL)).prop_map(|(i, c)| Edit::Insert(i, c)),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(i, t)| Edit::InsertToken(i, t)),
        any::<usize>().prop_map(Edit::DeleteLine),
        any::<usize>().prop_map(Edit::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for e in edits {
        let n = chars.len().max(1);
        match *e {
            Edit::DeleteChar(i) if !chars.is_empty() => {
                chars.remove(i % n);
            }
            Edit::Insert(i, c) => chars.insert(i % (chars.len() + 1), c),
            Edit::InsertToken(i, t) => {
                let at = i % (chars.len() + 1);
                chars.splice(at..at, TOKENS[t].chars());
            }
            Edit::Truncate(i) => chars.truncate(i % n),
            Edit::DeleteLine(_) | Edit::DuplicateLine(_) | Edit::SwapLines(..) => {
                let s: String = chars.iter().collect();
                let mut lines: Vec<&str> = s.split('\n').collect();
                let m = lines.len();
                match *e {
                    Edit::DeleteLine(i) => {
                        lines.remove(i % m);
                    }
                    Edit::DuplicateLine(i) => lines.insert(i % m, lines[i % m]),
                    Edit::SwapLines(a, b) => lines.swap(a % m, b % m),
                    _ => {}
                }
                chars = lines.join("\n").chars().collect();
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

/// The loader's answer is a plan, or errors that point at lines of the text.
fn check(text: &str) -> Result<(), TestCaseError> {
    let lines = text.split('\n').count() + 1;
    if let Err(e) = load_str(Path::new("fuzz.yaml"), text) {
        prop_assert!(!e.diagnostics.is_empty(), "an error without a diagnostic");
        for d in &e.diagnostics {
            prop_assert!(d.line <= lines, "line {} of a {}-line text: {}", d.line, lines, d.message);
            prop_assert!(!d.message.is_empty());
        }
        // Rendering never panics either.
        let _ = e.to_string();
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_scenarios_never_panic(seed in 0..SEEDS.len(), edits in proptest::collection::vec(edit(), 1..12)) {
        check(&apply(SEEDS[seed], &edits))?;
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        check(&text)?;
    }

    #[test]
    fn yaml_shaped_noise_never_panics(parts in proptest::collection::vec((0..TOKENS.len(), proptest::sample::select(SPECIAL)), 0..60)) {
        let text: String = parts.iter().map(|(t, c)| format!("{}{c}", TOKENS[*t])).collect();
        check(&text)?;
    }
}
