//! Scenario files: parsing, validation with spans, matrix expansion.
