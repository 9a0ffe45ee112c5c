//! How plan problems are presented: miette diagnostics, rendered text and
//! JSON-ready records.
//!
//! Validation records each problem as a [`Finding`]: a message, the byte
//! span it is about, a short label, an optional hint and optional secondary
//! spans ("first defined here"). Only this module turns byte offsets into
//! line and column, once, when a problem is shown: [`PlanError::render`] for
//! people and [`PlanError::problems`] for `netproof check --json`.
//!
//! Findings carry no source text of their own; the [`PlanError`] that holds
//! them carries the plan as a [`NamedSource`], and miette lends it to each
//! related diagnostic when rendering, so the text is stored once.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode,
};

use crate::model::Span;

/// One problem found in a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    message: String,
    span: Span,
    label: String,
    hint: Option<String>,
    also: Vec<(Span, String)>,
}

impl Finding {
    /// A problem at `span`, labelled `label` there.
    pub fn new(span: Span, message: impl Into<String>, label: impl Into<String>) -> Self {
        Finding {
            message: message.into(),
            span,
            label: label.into(),
            hint: None,
            also: Vec::new(),
        }
    }

    /// Adds a hint (what to do about it).
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a hint when there is one.
    pub fn maybe_hint(mut self, hint: Option<String>) -> Self {
        if hint.is_some() {
            self.hint = hint;
        }
        self
    }

    /// Adds a secondary label, e.g. where a duplicate was first defined.
    pub fn also(mut self, span: Span, label: impl Into<String>) -> Self {
        self.also.push((span, label.into()));
        self
    }

    /// The problem, as a sentence.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Where the problem is, in bytes of the plan text.
    pub fn span(&self) -> Span {
        self.span
    }

    /// What to do about it, if guessable.
    pub fn hint_text(&self) -> Option<&str> {
        self.hint.as_deref()
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Finding {}

impl Diagnostic for Finding {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.hint
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let primary =
            LabeledSpan::new_primary_with_span(Some(self.label.clone()), to_miette(self.span));
        let also = self
            .also
            .iter()
            .map(|(span, label)| LabeledSpan::new_with_span(Some(label.clone()), to_miette(*span)));
        Some(Box::new(std::iter::once(primary).chain(also)))
    }
}

fn to_miette(span: Span) -> miette::SourceSpan {
    (span.start, span.end.saturating_sub(span.start)).into()
}

/// A plan that failed to parse or validate: every finding, with the source.
#[derive(Debug)]
pub struct InvalidPlan {
    path: PathBuf,
    source: NamedSource<Arc<str>>,
    text: Arc<str>,
    findings: Vec<Finding>,
}

impl InvalidPlan {
    /// Collects findings for the plan at `path`, sorted by position so the
    /// output reads top to bottom whatever order validation ran in.
    pub(crate) fn new(path: &Path, text: &str, mut findings: Vec<Finding>) -> Self {
        findings.sort_by(|a, b| {
            (a.span.start, a.span.end, &a.message).cmp(&(b.span.start, b.span.end, &b.message))
        });
        findings.dedup();
        let text: Arc<str> = Arc::from(text);
        InvalidPlan {
            path: path.to_path_buf(),
            source: NamedSource::new(path.display().to_string(), Arc::clone(&text)),
            text,
            findings,
        }
    }

    /// The plan's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every problem, in source order.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }
}

/// A plan that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The file could not be read.
    #[error("cannot read plan `{}`: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML. Parsing stops at the first syntax
    /// error, so there is exactly one finding.
    #[error("plan `{}` is not valid TOML", .0.path.display())]
    Syntax(Box<InvalidPlan>),
    /// The file is valid TOML but not a valid plan; every problem is listed.
    #[error("plan `{}` has {}", .0.path.display(), count(.0.findings.len()))]
    Invalid(Box<InvalidPlan>),
}

fn count(n: usize) -> String {
    if n == 1 {
        "1 problem".to_string()
    } else {
        format!("{n} problems")
    }
}

impl PlanError {
    /// The findings, empty for an I/O error.
    pub fn findings(&self) -> &[Finding] {
        match self {
            PlanError::Io { .. } => &[],
            PlanError::Syntax(p) | PlanError::Invalid(p) => &p.findings,
        }
    }

    /// Renders the error as miette's graphical report: with ANSI colours
    /// when `color`, otherwise plain Unicode (for logs and snapshots),
    /// wrapped at `width` columns.
    pub fn render(&self, color: bool, width: usize) -> String {
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme)
            .with_width(width)
            .with_links(false)
            .without_syntax_highlighting();
        let mut out = String::new();
        // Writing to a String cannot fail; miette's own errors (a span out
        // of range) would show as a truncated report, never a panic.
        let _ = handler.render_report(&mut out, self);
        out
    }

    /// Every problem as a plain record for JSON output, in source order.
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            PlanError::Io { path, source } => vec![Problem {
                path: path.display().to_string(),
                line: 0,
                column: 0,
                message: self.to_string(),
                hint: io_hint(source),
                snippet: String::new(),
            }],
            PlanError::Syntax(p) | PlanError::Invalid(p) => {
                let lines = LineIndex::new(&p.text);
                p.findings
                    .iter()
                    .map(|f| {
                        let (line, column) = lines.line_col(&p.text, f.span.start);
                        Problem {
                            path: p.path.display().to_string(),
                            line,
                            column,
                            message: f.message.clone(),
                            hint: f.hint.clone(),
                            snippet: lines.line_text(&p.text, line).to_string(),
                        }
                    })
                    .collect()
            }
        }
    }
}

fn io_hint(e: &std::io::Error) -> Option<String> {
    match e.kind() {
        std::io::ErrorKind::NotFound => {
            Some("check the path; bundled plans live in `plans/`".to_string())
        }
        std::io::ErrorKind::InvalidData => Some("a plan must be UTF-8 text".to_string()),
        _ => None,
    }
}

impl Diagnostic for PlanError {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        match self {
            PlanError::Io { source, .. } => {
                io_hint(source).map(|h| Box::new(h) as Box<dyn fmt::Display>)
            }
            _ => None,
        }
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        match self {
            PlanError::Io { .. } => None,
            PlanError::Syntax(p) | PlanError::Invalid(p) => Some(&p.source),
        }
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        match self {
            PlanError::Io { .. } => None,
            PlanError::Syntax(p) | PlanError::Invalid(p) => {
                Some(Box::new(p.findings.iter().map(|f| f as &dyn Diagnostic)))
            }
        }
    }
}

/// One problem as a plain record, for `netproof check --json`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// The plan file, as given.
    pub path: String,
    /// 1-based line of the problem's start; 0 when it has no position (an
    /// unreadable file).
    pub line: usize,
    /// 1-based column in characters; 0 when it has no position.
    pub column: usize,
    /// The problem, as a sentence.
    pub message: String,
    /// What to do about it, if guessable.
    pub hint: Option<String>,
    /// The source line the problem starts on, without its line break.
    pub snippet: String,
}

/// Byte offsets of line starts, to turn offsets into line:column.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    /// 1-based line and character column of byte `offset` (clamped to the
    /// text, and to a character boundary, so any span is safe).
    fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self
            .starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(0);
        let column = text.get(start..offset).map_or(0, |s| s.chars().count()) + 1;
        (line.max(1), column)
    }

    /// The text of 1-based `line`, without its line break.
    fn line_text<'t>(&self, text: &'t str, line: usize) -> &'t str {
        let Some(&start) = self.starts.get(line.saturating_sub(1)) else {
            return "";
        };
        let end = self
            .starts
            .get(line)
            .map_or(text.len(), |&s| s.saturating_sub(1));
        text.get(start..end.max(start))
            .unwrap_or("")
            .trim_end_matches('\r')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let text = "a = 1\nµ = \"x\"\n\nlast";
        let idx = LineIndex::new(text);
        assert_eq!(idx.line_col(text, 0), (1, 1));
        assert_eq!(idx.line_col(text, 4), (1, 5));
        assert_eq!(idx.line_col(text, 6), (2, 1));
        // `µ` is two bytes but one column.
        assert_eq!(idx.line_col(text, 8), (2, 2));
        assert_eq!(idx.line_col(text, 7), (2, 1));
        assert_eq!(idx.line_col(text, text.len()), (4, 5));
        assert_eq!(idx.line_col(text, 10_000), (4, 5));
        assert_eq!(idx.line_text(text, 2), "µ = \"x\"");
        assert_eq!(idx.line_text(text, 3), "");
        assert_eq!(idx.line_text(text, 4), "last");
        assert_eq!(idx.line_text(text, 9), "");
    }

    #[test]
    fn findings_sort_and_count() {
        let findings = vec![
            Finding::new(Span::new(10, 12), "second", "here"),
            Finding::new(Span::new(0, 1), "first", "here").hint("do this"),
            Finding::new(Span::new(0, 1), "first", "here").hint("do this"),
        ];
        let err = PlanError::Invalid(Box::new(InvalidPlan::new(
            Path::new("p.toml"),
            "a = 1\nbb = 2\n",
            findings,
        )));
        assert_eq!(err.to_string(), "plan `p.toml` has 2 problems");
        let problems = err.problems();
        assert_eq!(problems.len(), 2);
        assert_eq!((problems[0].line, problems[0].column), (1, 1));
        assert_eq!((problems[1].line, problems[1].column), (2, 5));
        assert_eq!(problems[1].snippet, "bb = 2");
        assert_eq!(problems[0].hint.as_deref(), Some("do this"));
        let text = err.render(false, 80);
        assert!(text.contains("p.toml:1:1"), "{text}");
        assert!(text.contains("do this"), "{text}");
    }
}
