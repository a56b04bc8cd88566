//! `virtsmoke merge`: the results of several runs (the shards of one nightly run)
//! as one document.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::events::CaseReport;
use crate::report::json::Document;

/// One input document and where it came from (for messages).
pub struct Input {
    pub path: PathBuf,
    pub doc: Document,
}

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("case {case} is in {} and in {} with different results ({field} differ)", .first.display(), .second.display())]
    Conflict { case: String, first: PathBuf, second: PathBuf, field: &'static str },
}

/// Every case of every input, in input order. A case found twice with the same
/// content is kept once; with different content it is an error, except for the
/// run-level checks (scenario `virtsmoke`, no host, e.g. `virtsmoke/leak-check`),
/// which every shard may report for itself: a later one is renamed `NAME@RUN_ID`.
///
/// The merged run id is `run_id` if given, else the inputs' common run id, else
/// their distinct run ids joined with `+`.
pub fn merge(inputs: &[Input], run_id: Option<&str>) -> Result<Document, MergeError> {
    let mut cases: Vec<CaseReport> = Vec::new();
    let mut seen: HashMap<String, (usize, usize)> = HashMap::new(); // name -> (index in cases, input)
    for (i, input) in inputs.iter().enumerate() {
        for case in &input.doc.cases {
            let mut case = case.clone();
            if let Some(&(at, _)) = seen.get(&case.name) {
                if cases[at] == case {
                    continue;
                }
                if is_run_level(&case) {
                    case.name = format!("{}@{}", case.name, input.doc.run_id);
                }
            }
            if let Some(&(at, from)) = seen.get(&case.name) {
                if cases[at] == case {
                    continue;
                }
                return Err(MergeError::Conflict {
                    case: case.name.clone(),
                    first: inputs[from].path.clone(),
                    second: input.path.clone(),
                    field: first_difference(&cases[at], &case),
                });
            }
            seen.insert(case.name.clone(), (cases.len(), i));
            cases.push(case);
        }
    }
    let run_id = match run_id {
        Some(id) => id.to_string(),
        None => {
            let mut ids: Vec<&str> = Vec::new();
            for input in inputs {
                if !ids.contains(&input.doc.run_id.as_str()) {
                    ids.push(&input.doc.run_id);
                }
            }
            ids.join("+")
        }
    };
    Ok(Document { run_id, cases })
}

fn is_run_level(case: &CaseReport) -> bool {
    case.scenario == "virtsmoke" && case.host.is_empty()
}

fn first_difference(a: &CaseReport, b: &CaseReport) -> &'static str {
    if a.outcome != b.outcome {
        "outcomes"
    } else if a.steps != b.steps {
        "steps"
    } else if a.properties != b.properties {
        "properties"
    } else if a.started != b.started || a.duration != b.duration {
        "times"
    } else if a.host != b.host || a.scenario != b.scenario {
        "hosts or scenarios"
    } else if a.consoles != b.consoles {
        "consoles"
    } else if a.artifacts != b.artifacts {
        "artifacts"
    } else {
        "kept guests"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Outcome;
    use crate::report::sample;

    fn input(path: &str, run_id: &str, cases: Vec<CaseReport>) -> Input {
        Input { path: path.into(), doc: Document { run_id: run_id.into(), cases } }
    }

    fn names(doc: &Document) -> Vec<&str> {
        doc.cases.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn keeps_every_case_in_input_order() {
        let a = sample::case("s/a", "h1", Outcome::Passed, &[]);
        let b = sample::case("s/b", "h2", Outcome::Failed, &[]);
        let c = sample::case("s/c", "h1", Outcome::Passed, &[]);
        let doc = merge(&[input("1.json", "r1", vec![b, a]), input("2.json", "r2", vec![c])], None).unwrap();
        assert_eq!(names(&doc), ["s/b", "s/a", "s/c"]);
        assert_eq!(doc.run_id, "r1+r2");
    }

    #[test]
    fn identical_duplicates_collapse_and_the_run_id_stays() {
        let a = sample::case("s/a", "h1", Outcome::Passed, &[]);
        let doc = merge(&[input("1.json", "r", vec![a.clone()]), input("2.json", "r", vec![a])], None).unwrap();
        assert_eq!(names(&doc), ["s/a"]);
        assert_eq!(doc.run_id, "r");
        let doc = merge(&[input("1.json", "r", vec![])], Some("nightly-42")).unwrap();
        assert_eq!(doc.run_id, "nightly-42");
    }

    #[test]
    fn differing_duplicates_are_an_error_naming_both_files() {
        let a = sample::case("s/a", "h1", Outcome::Passed, &[]);
        let b = sample::case("s/a", "h1", Outcome::Failed, &[]);
        let e = merge(&[input("1.json", "r1", vec![a.clone()]), input("2.json", "r2", vec![b])], None).unwrap_err();
        assert_eq!(e.to_string(), "case s/a is in 1.json and in 2.json with different results (outcomes differ)");
        let mut c = a.clone();
        c.properties.push(("boot_ms".into(), "1".into()));
        let e = merge(&[input("1.json", "r1", vec![a]), input("2.json", "r2", vec![c])], None).unwrap_err();
        assert!(e.to_string().ends_with("(properties differ)"), "{e}");
    }

    #[test]
    fn run_level_checks_of_each_shard_are_all_kept() {
        let leak = |run: &str| sample::case("virtsmoke/leak-check", "", Outcome::Failed, &[("run_id", run)]);
        let doc =
            merge(&[input("1.json", "r1", vec![leak("r1")]), input("2.json", "r2", vec![leak("r2")])], None).unwrap();
        assert_eq!(names(&doc), ["virtsmoke/leak-check", "virtsmoke/leak-check@r2"]);
    }
}
