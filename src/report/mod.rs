//! Reports, built only from run events: terminal, JUnit, JSON.

pub mod json;
pub mod junit;
pub mod terminal;
