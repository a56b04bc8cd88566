//! Reports, built only from run events or results: terminal, JUnit, JSON, HTML;
//! merging and comparing the JSON results of runs.

pub mod json;
pub mod junit;
pub mod terminal;

pub mod compare;
pub mod compare_hosts;
pub mod facts;
pub mod history;
pub mod html;
pub mod html_matrix;
pub mod html_text;
pub mod merge;
pub mod output;
#[cfg(test)]
pub(crate) mod sample;
pub mod shard;

pub use output::{Outputs, ReportError, RunData, write_all};
