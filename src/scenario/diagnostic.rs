//! Scenario errors and their rustc-like rendering.

use std::fmt;
use std::path::PathBuf;

use super::yaml::{self, Node};

/// One problem in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based; 0 when the problem has no position (e.g. an unreadable file).
    pub line: usize,
    /// 1-based, in characters; 0 when unknown.
    pub column: usize,
    pub message: String,
    pub help: Option<String>,
    /// The source line and how far to underline, when known.
    pub snippet: Option<Snippet>,
}

/// The offending source line, for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    pub text: String,
    /// Characters to underline from `column`.
    pub width: usize,
}

/// Every problem found in the scenario files, in file order then position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioErrors {
    pub diagnostics: Vec<Diagnostic>,
}

impl Diagnostic {
    /// A diagnostic without a position.
    pub(crate) fn whole_file(file: impl Into<PathBuf>, message: impl Into<String>) -> Diagnostic {
        Diagnostic { file: file.into(), line: 0, column: 0, message: message.into(), help: None, snippet: None }
    }

    /// A diagnostic at `line`/`column` (1-based) of `text`.
    pub(crate) fn at_position(
        file: impl Into<PathBuf>,
        text: &str,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> Diagnostic {
        let snippet = line
            .checked_sub(1)
            .and_then(|i| text.lines().nth(i))
            .map(|l| Snippet { width: yaml::token_width(l, column.saturating_sub(1)), text: l.to_owned() });
        Diagnostic { file: file.into(), line, column, message: message.into(), help: None, snippet }
    }

    /// A diagnostic pointing at `node` in `text`.
    pub(crate) fn at_node(file: impl Into<PathBuf>, text: &str, node: &Node, message: impl Into<String>) -> Diagnostic {
        match yaml::locate(text, &node.path) {
            Some((line, column)) => Diagnostic::at_position(file, text, line, column, message),
            None => Diagnostic::whole_file(file, message),
        }
    }

    pub(crate) fn with_help(mut self, help: Option<String>) -> Diagnostic {
        self.help = help;
        self
    }
}

const TAB: &str = "    ";

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        let number = self.line.to_string();
        let pad = " ".repeat(number.len());
        write!(f, "{pad}--> {}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        writeln!(f)?;
        if let Some(snippet) = self.snippet.as_ref().filter(|_| self.line > 0) {
            let shown = snippet.text.replace('\t', TAB);
            let lead: usize = snippet
                .text
                .chars()
                .take(self.column.saturating_sub(1))
                .map(|c| if c == '\t' { TAB.len() } else { 1 })
                .sum();
            writeln!(f, "{pad} |")?;
            writeln!(f, "{number} | {}", shown.trim_end())?;
            let carets: usize = snippet
                .text
                .chars()
                .skip(self.column.saturating_sub(1))
                .take(snippet.width)
                .map(|c| if c == '\t' { TAB.len() } else { 1 })
                .sum();
            writeln!(f, "{pad} | {}{}", " ".repeat(lead), "^".repeat(carets.max(1)))?;
        }
        if let Some(help) = &self.help {
            writeln!(f, "{pad} = help: {help}")?;
        }
        Ok(())
    }
}

impl fmt::Display for ScenarioErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_rustc() {
        let text = "guests:\n  tiny:\n    memroy_mib: 512\n";
        let d = Diagnostic::at_position("scenarios/x.yaml", text, 3, 5, "unknown key `memroy_mib` in guest `tiny`")
            .with_help(Some("did you mean `memory_mib`?".into()));
        assert_eq!(
            d.to_string(),
            "error: unknown key `memroy_mib` in guest `tiny`\n \
             --> scenarios/x.yaml:3:5\n  \
             |\n\
             3 |     memroy_mib: 512\n  \
             |     ^^^^^^^^^^\n  \
             = help: did you mean `memory_mib`?\n"
        );
    }

    #[test]
    fn renders_tabs_and_missing_positions() {
        let d = Diagnostic::at_position("a.yaml", "a:\n\tb: 1\n", 2, 2, "bad");
        assert!(d.to_string().contains("2 |     b: 1\n  |     ^"), "{d}");
        let d = Diagnostic::whole_file("a.yaml", "cannot read");
        assert_eq!(d.to_string(), "error: cannot read\n --> a.yaml\n");
        let d = Diagnostic::at_position("a.yaml", "x", 7, 1, "past the end");
        assert_eq!(d.to_string(), "error: past the end\n --> a.yaml:7:1\n");
    }
}
