//! Whole-module tests: bad inputs with their exact messages, good inputs with
//! their expansion, and inputs that must not crash.

use std::path::Path;

use super::*;

fn errors(text: &str) -> String {
    match load_str(Path::new("x.yaml"), text) {
        Ok(plan) => panic!("expected errors, got a plan with {} cases", plan.cases.len()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn scratch() {
    let inputs = std::env::var("SCRATCH").unwrap_or_default();
    for f in inputs.split(',').filter(|s| !s.is_empty()) {
        let text = std::fs::read_to_string(f).unwrap();
        println!("=== {f}\n{}", match load_str(Path::new("x.yaml"), &text) { Ok(p) => format!("{p:#?}"), Err(e) => e.to_string() });
    }
}
