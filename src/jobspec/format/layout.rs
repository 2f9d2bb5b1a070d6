//! The canonical layout of a token stream: indentation, spacing between tokens, and the
//! vertical alignment of `=` and trailing comments, as `nomad fmt` (`hclwrite.Format`) does.
//!
//! Only the spaces *between* tokens change; every token's text, line breaks included, is
//! written back unchanged, so comments, strings and heredoc bodies are never touched. The
//! rules work line by line. Each line is split into up to three cells: the *lead* (everything
//! up to an attribute's `=`), the *assign* cell (the `=` and a value that closes every bracket
//! it opens on that line) and a trailing *comment*. Indentation follows the net count of
//! brackets each line opens; `=` signs line up across consecutive lines that all have an
//! assign cell, and trailing comments line up across consecutive lines that all have one.
//! Anything else (a blank line, a comment on its own line, a block header, a value spread over
//! several lines) ends such a run.

use super::lexer::{Kind, Token};

/// A line's token ranges (indices into the token list).
#[derive(Debug, Clone, Copy)]
struct Line {
    start: usize,
    /// End of the lead cell (exclusive): the assign cell's `=`, the comment, or the line end.
    lead_end: usize,
    /// The `=` that starts the assign cell.
    assign: Option<usize>,
    /// End of the assign cell (exclusive).
    assign_end: usize,
    /// The trailing comment token.
    comment: Option<usize>,
}

impl Line {
    fn lead(&self) -> std::ops::Range<usize> {
        self.start..self.lead_end
    }
}

/// Lays out `tokens` of `source` and returns the formatted text.
pub(super) fn lay_out(source: &str, tokens: &[Token]) -> String {
    let lines = split_lines(source, tokens);
    let mut spaces = vec![0usize; tokens.len()];
    indent(&lines, tokens, &mut spaces);
    space_within_cells(&lines, source, tokens, &mut spaces);
    align(&lines, source, tokens, &mut spaces);

    let mut out = String::with_capacity(source.len() + source.len() / 8);
    for (token, spaces) in tokens.iter().zip(&spaces) {
        out.extend(std::iter::repeat_n(' ', *spaces));
        out.push_str(&source[token.start..token.end]);
    }
    out
}

fn ends_line(source: &str, token: &Token) -> bool {
    match token.kind {
        Kind::Newline => true,
        // Line comments own the line break that ends them.
        Kind::Comment => source[token.start..token.end].ends_with('\n'),
        _ => false,
    }
}

fn split_lines(source: &str, tokens: &[Token]) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut start = 0;
    for (at, token) in tokens.iter().enumerate() {
        if ends_line(source, token) {
            lines.push(cells(tokens, start, at + 1));
            start = at + 1;
        }
    }
    if start < tokens.len() {
        lines.push(cells(tokens, start, tokens.len()));
    }
    lines
}

/// Splits the line `start..end` into its lead, assign and comment cells.
fn cells(tokens: &[Token], start: usize, end: usize) -> Line {
    let mut line = Line { start, lead_end: end, assign: None, assign_end: end, comment: None };
    if end - start > 1 && tokens[end - 1].kind == Kind::Comment {
        line.comment = Some(end - 1);
        line.lead_end = end - 1;
        line.assign_end = end - 1;
    }
    let equal = (start + 1..line.lead_end).find(|at| tokens[*at].kind == Kind::Equal);
    if let Some(equal) = equal {
        // A value that leaves a bracket open continues on the next lines: not a one-line
        // attribute, so it takes no part in alignment.
        let net: i32 = tokens[equal..line.lead_end].iter().map(|t| t.kind.bracket_change()).sum();
        if net == 0 {
            line.assign = Some(equal);
            line.lead_end = equal;
        }
    }
    line
}

fn indent(lines: &[Line], tokens: &[Token], spaces: &mut [usize]) {
    // Each entry is the number of brackets one line opened; a line that closes brackets
    // pops entries until it has accounted for all of them, so lopsided lines (`}, {`)
    // neither drift right nor left.
    let mut levels: Vec<i32> = Vec::new();
    for line in lines {
        if line.lead().is_empty() {
            continue;
        }
        if tokens[line.start].kind == Kind::Newline {
            spaces[line.start] = 0;
            continue;
        }
        let mut net = 0;
        for token in &tokens[line.lead()] {
            net += token.kind.bracket_change();
            if token.kind == Kind::OHeredoc {
                break;
            }
        }
        if let Some(assign) = line.assign {
            net += tokens[assign..line.assign_end]
                .iter()
                .map(|t| t.kind.bracket_change())
                .sum::<i32>();
        }
        if net > 0 {
            spaces[line.start] = 2 * levels.len();
            levels.push(net);
            continue;
        }
        let mut closed = -net;
        while closed > 0 {
            let Some(top) = levels.last_mut() else { break };
            if closed >= *top {
                closed -= *top;
                levels.pop();
            } else {
                *top -= closed;
                closed = 0;
            }
        }
        spaces[line.start] = 2 * levels.len();
    }
}

fn space_within_cells(lines: &[Line], source: &str, tokens: &[Token], spaces: &mut [usize]) {
    for line in lines {
        space_run(line.start, line.lead_end, source, tokens, spaces);
        if let Some(assign) = line.assign {
            spaces[assign] = 1;
            space_run(assign, line.assign_end, source, tokens, spaces);
        }
    }
}

/// Sets the spaces before every token of `start..end` but the first.
fn space_run(start: usize, end: usize, source: &str, tokens: &[Token], spaces: &mut [usize]) {
    for at in start..end.saturating_sub(1) {
        let before = if at > start { Some(&tokens[at - 1]) } else { None };
        let space = space_after(source, &tokens[at], before, &tokens[at + 1]);
        spaces[at + 1] = usize::from(space);
    }
}

/// Whether `subject` is followed by a space, given its neighbours on the same cell.
fn space_after(source: &str, subject: &Token, before: Option<&Token>, after: &Token) -> bool {
    use Kind::*;
    let (s, a) = (subject.kind, after.kind);
    let before = before.map(|t| t.kind);
    match () {
        _ if a == Newline => false,
        _ if s == Ident && a == OParen => false,
        _ if (s == Ident && a == DoubleColon) || (s == DoubleColon && a == Ident) => false,
        _ if s == Dot || a == Dot => false,
        _ if a == Comma || a == Ellipsis => false,
        _ if s == Comma => true,
        // Inside templates the text is the value: never add or remove anything there.
        _ if matches!(s, QuotedLit | StringLit | OQuote | OHeredoc)
            || matches!(a, QuotedLit | StringLit | CQuote | CHeredoc) =>
        {
            false
        }
        // `for x in [a]`: `in` is a keyword there, not a value being indexed.
        _ if s == Ident && &source[subject.start..subject.end] == "in" && before == Some(Ident) => {
            true
        }
        _ if a == OBrack && (s == Ident || s == NumberLit || s.bracket_change() < 0) => false,
        _ if s == Bang => false,
        // A minus after something that cannot end an operand is a negation: `-1`, `(-x)`.
        _ if s == Minus => !matches!(
            before,
            None | Some(
                OParen
                    | OBrace
                    | OBrack
                    | Equal
                    | Colon
                    | Comma
                    | Question
                    | Plus
                    | Star
                    | Slash
                    | Percent
                    | Minus
                    | EqualOp
                    | NotEqual
                    | GreaterThan
                    | GreaterThanEq
                    | LessThan
                    | LessThanEq
                    | And
                    | Or
                    | Bang
            )
        ),
        // Braces keep a space inside (`{ a = 1 }`), except an empty pair (`{}`).
        _ if s == OBrace || a == CBrace => !(s == OBrace && a == CBrace),
        _ if matches!(s, TemplateInterp | TemplateControl) && a == OBrace => true,
        _ if s == CBrace && a == TemplateSeqEnd => true,
        _ if s == TemplateSeqEnd && matches!(a, TemplateInterp | TemplateControl) => false,
        _ if s.bracket_change() > 0 => false,
        _ if a.bracket_change() < 0 => false,
        _ => true,
    }
}

/// Width of a token run as it will be printed: spaces plus characters.
fn columns(
    source: &str,
    tokens: &[Token],
    spaces: &[usize],
    range: std::ops::Range<usize>,
) -> usize {
    range.map(|at| spaces[at] + source[tokens[at].start..tokens[at].end].chars().count()).sum()
}

fn align(lines: &[Line], source: &str, tokens: &[Token], spaces: &mut [usize]) {
    // `=` first: moving it moves the trailing comments too.
    for run in runs(lines, |line| line.assign.is_some()) {
        let width = |line: &Line, spaces: &[usize]| columns(source, tokens, spaces, line.lead());
        let widest = run.iter().map(|line| width(line, spaces)).max().unwrap_or(0);
        for line in run {
            if let Some(assign) = line.assign {
                spaces[assign] = widest - width(line, spaces) + 1;
            }
        }
    }
    for run in runs(lines, |line| line.comment.is_some()) {
        let width = |line: &Line, spaces: &[usize]| {
            columns(source, tokens, spaces, line.start..line.assign_end)
        };
        let widest = run.iter().map(|line| width(line, spaces)).max().unwrap_or(0);
        for line in run {
            if let Some(comment) = line.comment {
                spaces[comment] = widest - width(line, spaces) + 1;
            }
        }
    }
}

/// Maximal runs of consecutive lines that all satisfy `member`.
fn runs(lines: &[Line], member: fn(&Line) -> bool) -> impl Iterator<Item = &[Line]> {
    lines.chunk_by(move |a, b| member(a) == member(b)).filter(move |run| member(&run[0]))
}
