//! Splits HCL native syntax into the tokens the formatter lays out.
//!
//! The token kinds and the boundaries between them follow HashiCorp's `hclsyntax` scanner,
//! because the layout rules (`nomad fmt` is `hclwrite.Format`) are written in terms of those
//! tokens: a heredoc body is a run of string-literal tokens, a line comment carries its line
//! break, `${` and `%{` open a nested expression that `}` or `~}` closes. The lexer is a loop
//! over an explicit mode stack, never recursion, so nesting depth cannot exhaust the stack.
//! It owns the errors a token stream can show (unterminated strings, heredocs and comments,
//! stray or mismatched brackets, characters HCL does not allow); the grammar is checked
//! elsewhere.

/// What a token is, in the terms the layout rules need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    OBrace,
    CBrace,
    OBrack,
    CBrack,
    OParen,
    CParen,
    /// `"` opening a quoted template.
    OQuote,
    /// `"` closing a quoted template.
    CQuote,
    /// `<<EOF` or `<<-EOF` with its line break.
    OHeredoc,
    /// The heredoc's closing marker line, without its line break.
    CHeredoc,
    /// `${` or `${~`.
    TemplateInterp,
    /// `%{` or `%{~`.
    TemplateControl,
    /// `}` or `~}` closing an interpolation or directive.
    TemplateSeqEnd,
    /// Literal text inside a quoted template.
    QuotedLit,
    /// Literal text inside a heredoc (may end with its line break).
    StringLit,
    NumberLit,
    Ident,
    /// `#`, `//` (with the line break that ends it) or `/* */`.
    Comment,
    Newline,
    Equal,
    Dot,
    Comma,
    Ellipsis,
    Colon,
    DoubleColon,
    Question,
    FatArrow,
    Minus,
    Plus,
    Star,
    Slash,
    Percent,
    Bang,
    EqualOp,
    NotEqual,
    GreaterThan,
    GreaterThanEq,
    LessThan,
    LessThanEq,
    And,
    Or,
    /// Characters the scanner knows but the grammar never accepts (`&`, `|`, `^`, `;`, ...).
    Other,
}

impl Kind {
    /// +1 for tokens that open a nesting level, -1 for those that close one.
    pub(super) fn bracket_change(self) -> i32 {
        match self {
            Kind::OBrace
            | Kind::OBrack
            | Kind::OParen
            | Kind::TemplateInterp
            | Kind::TemplateControl => 1,
            Kind::CBrace | Kind::CBrack | Kind::CParen | Kind::TemplateSeqEnd => -1,
            _ => 0,
        }
    }
}

/// One token: its kind and where its text is in the source.
#[derive(Debug, Clone, Copy)]
pub(super) struct Token {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

/// A lexing failure at a byte offset of the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LexError {
    pub offset: usize,
    pub message: String,
}

impl LexError {
    fn new(offset: usize, message: impl Into<String>) -> Self {
        LexError { offset, message: message.into() }
    }
}

/// What the lexer is inside of.
#[derive(Debug)]
enum Mode {
    /// Expressions and structure: the file itself, or the inside of a `${ }` / `%{ }`.
    Main,
    /// A quoted template opened at `start`.
    Quoted { start: usize },
    /// A heredoc opened at `start` whose closing line is `marker` (a range of the source).
    Heredoc { start: usize, marker: (usize, usize), start_of_line: bool },
}

/// An open bracket waiting for its partner, for error messages.
#[derive(Debug)]
struct Opener {
    kind: Kind,
    offset: usize,
}

/// Splits `source` into tokens, or says where it stops making sense.
pub(super) fn tokenize(source: &str) -> Result<Vec<Token>, LexError> {
    Lexer::new(source).run()
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    tokens: Vec<Token>,
    modes: Vec<Mode>,
    /// Open brackets of every kind, including `${` and `%{`, innermost last.
    openers: Vec<Opener>,
}

impl<'a> Lexer<'a> {
    fn new(src: &'a str) -> Self {
        Lexer {
            src,
            bytes: src.as_bytes(),
            pos: 0,
            tokens: Vec::with_capacity(src.len() / 4),
            modes: vec![Mode::Main],
            openers: Vec::new(),
        }
    }

    fn run(mut self) -> Result<Vec<Token>, LexError> {
        while self.pos < self.bytes.len() {
            match self.modes.last() {
                Some(Mode::Main) | None => self.main()?,
                Some(Mode::Quoted { .. }) => self.quoted()?,
                Some(Mode::Heredoc { .. }) => self.heredoc()?,
            }
        }
        match self.modes.last() {
            Some(Mode::Quoted { start }) => {
                return Err(LexError::new(*start, "unterminated string: this `\"` is never closed"))
            }
            Some(Mode::Heredoc { start, marker, .. }) => {
                let marker = &self.src[marker.0..marker.1];
                return Err(LexError::new(
                    *start,
                    format!(
                        "unterminated heredoc: no line with only `{marker}` closes this `<<{marker}`"
                    ),
                ));
            }
            _ => {}
        }
        if let Some(opener) = self.openers.last() {
            return Err(LexError::new(
                opener.offset,
                format!("{} is never closed", describe(opener.kind)),
            ));
        }
        Ok(self.tokens)
    }

    fn emit(&mut self, kind: Kind, start: usize, end: usize) {
        self.tokens.push(Token { kind, start, end });
        self.pos = end;
    }

    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    fn open(&mut self, kind: Kind, len: usize) {
        self.openers.push(Opener { kind, offset: self.pos });
        self.emit(kind, self.pos, self.pos + len);
    }

    /// Closes the innermost bracket; `kind` is the closing token's kind.
    fn close(&mut self, kind: Kind, len: usize) -> Result<(), LexError> {
        let expected = match kind {
            Kind::CBrace => Kind::OBrace,
            Kind::CBrack => Kind::OBrack,
            Kind::CParen => Kind::OParen,
            _ => Kind::TemplateInterp,
        };
        let text = &self.src[self.pos..self.pos + len];
        match self.openers.pop() {
            None => {
                return Err(LexError::new(
                    self.pos,
                    format!("unexpected `{text}`: nothing is open here to close"),
                ))
            }
            Some(opener) => {
                let matches = match expected {
                    Kind::TemplateInterp => {
                        matches!(opener.kind, Kind::TemplateInterp | Kind::TemplateControl)
                    }
                    _ => opener.kind == expected,
                };
                if !matches {
                    let (line, column) = line_column(self.src, opener.offset);
                    return Err(LexError::new(
                        self.pos,
                        format!(
                            "unexpected `{text}`: {} opened at line {line}, column {column} is \
                             still open",
                            describe(opener.kind)
                        ),
                    ));
                }
            }
        }
        let start = self.pos;
        self.emit(kind, start, start + len);
        Ok(())
    }

    /// True when the innermost open bracket is the `${`/`%{` that started the current
    /// template sequence, so a `}` ends the sequence rather than an object.
    fn closes_sequence(&self) -> bool {
        matches!(
            self.openers.last(),
            Some(Opener { kind: Kind::TemplateInterp | Kind::TemplateControl, .. })
        )
    }

    fn main(&mut self) -> Result<(), LexError> {
        let start = self.pos;
        let c = self.bytes[start];
        match c {
            b' ' | b'\t' => {
                self.pos += 1;
            }
            b'\n' => self.emit(Kind::Newline, start, start + 1),
            b'\r' if self.peek(1) == Some(b'\n') => self.emit(Kind::Newline, start, start + 2),
            b'#' => self.line_comment(),
            b'/' if self.peek(1) == Some(b'/') => self.line_comment(),
            b'/' if self.peek(1) == Some(b'*') => match self.src[start + 2..].find("*/") {
                Some(at) => self.emit(Kind::Comment, start, start + 2 + at + 2),
                None => {
                    return Err(LexError::new(
                        start,
                        "unterminated comment: this `/*` has no closing `*/`",
                    ))
                }
            },
            b'0'..=b'9' => {
                let end = self.number_end(start);
                self.emit(Kind::NumberLit, start, end);
            }
            b'"' => {
                self.emit(Kind::OQuote, start, start + 1);
                self.modes.push(Mode::Quoted { start });
            }
            b'<' if self.peek(1) == Some(b'<') => {
                if !self.heredoc_start(start) {
                    self.emit(Kind::LessThan, start, start + 1);
                }
            }
            b'{' => self.open(Kind::OBrace, 1),
            b'}' => {
                if self.closes_sequence() {
                    self.close(Kind::TemplateSeqEnd, 1)?;
                    self.modes.pop();
                } else {
                    self.close(Kind::CBrace, 1)?;
                }
            }
            b'~' if self.peek(1) == Some(b'}') => {
                if !self.closes_sequence() {
                    return Err(LexError::new(
                        start,
                        "unexpected `~}`: it may only end a `${` or `%{` sequence",
                    ));
                }
                self.close(Kind::TemplateSeqEnd, 2)?;
                self.modes.pop();
            }
            b'[' => self.open(Kind::OBrack, 1),
            b']' => self.close(Kind::CBrack, 1)?,
            b'(' => self.open(Kind::OParen, 1),
            b')' => self.close(Kind::CParen, 1)?,
            _ => {
                if let Some((kind, len)) = operator(&self.bytes[start..]) {
                    self.emit(kind, start, start + len);
                } else if let Some(end) = self.ident_end(start) {
                    self.emit(Kind::Ident, start, end);
                } else {
                    let ch = self.src[start..].chars().next().unwrap_or('\u{fffd}');
                    return Err(LexError::new(
                        start,
                        format!("unexpected character {ch:?}: HCL does not allow it here"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn line_comment(&mut self) {
        let start = self.pos;
        let end = match self.src[start..].find('\n') {
            Some(at) => start + at + 1,
            None => self.bytes.len(),
        };
        self.emit(Kind::Comment, start, end);
    }

    /// A number literal: digits, dots and exponents, never ending in a dot.
    fn number_end(&self, start: usize) -> usize {
        let b = self.bytes;
        let mut end = start;
        loop {
            match b.get(end) {
                Some(c) if c.is_ascii_digit() || *c == b'.' => end += 1,
                Some(b'e' | b'E') => {
                    let mut next = end + 1;
                    if matches!(b.get(next), Some(b'+' | b'-')) {
                        next += 1;
                    }
                    if b.get(next).is_some_and(u8::is_ascii_digit) {
                        end = next + 1;
                    } else {
                        break;
                    }
                }
                _ => break,
            }
        }
        while end > start + 1 && b[end - 1] == b'.' {
            end -= 1;
        }
        end
    }

    /// An identifier: a letter or `_`, then letters, digits, `_` and `-`.
    fn ident_end(&self, start: usize) -> Option<usize> {
        let mut chars = self.src[start..].char_indices();
        let (_, first) = chars.next()?;
        if !(first == '_' || first.is_alphabetic()) {
            return None;
        }
        let mut end = start + first.len_utf8();
        for (at, ch) in chars {
            if ch == '_' || ch == '-' || ch.is_alphanumeric() {
                end = start + at + ch.len_utf8();
            } else {
                break;
            }
        }
        Some(end)
    }

    /// `<<EOF` or `<<-EOF` directly followed by a line break starts a heredoc.
    fn heredoc_start(&mut self, start: usize) -> bool {
        let mut at = start + 2;
        if self.bytes.get(at) == Some(&b'-') {
            at += 1;
        }
        let Some(marker_end) = self.ident_end(at) else {
            return false;
        };
        let end = match (self.bytes.get(marker_end), self.bytes.get(marker_end + 1)) {
            (Some(b'\n'), _) => marker_end + 1,
            (Some(b'\r'), Some(b'\n')) => marker_end + 2,
            _ => return false,
        };
        self.emit(Kind::OHeredoc, start, end);
        self.modes.push(Mode::Heredoc { start, marker: (at, marker_end), start_of_line: true });
        true
    }

    /// `${`, `${~`, `%{` or `%{~` at the current position, as (kind, length).
    fn sequence_start(&self) -> Option<(Kind, usize)> {
        let kind = match (self.peek(0), self.peek(1)) {
            (Some(b'$'), Some(b'{')) => Kind::TemplateInterp,
            (Some(b'%'), Some(b'{')) => Kind::TemplateControl,
            _ => return None,
        };
        let len = if self.peek(2) == Some(b'~') { 3 } else { 2 };
        Some((kind, len))
    }

    fn enter_sequence(&mut self, kind: Kind, len: usize) {
        if let Some(Mode::Heredoc { start_of_line, .. }) = self.modes.last_mut() {
            *start_of_line = false;
        }
        self.open(kind, len);
        self.modes.push(Mode::Main);
    }

    /// Length of an escaped `$${`, `$${~`, `%%{` or `%%{~` at the current position, if any.
    fn escaped_sequence(&self) -> Option<usize> {
        match (self.peek(0), self.peek(1), self.peek(2)) {
            (Some(b'$'), Some(b'$'), Some(b'{')) | (Some(b'%'), Some(b'%'), Some(b'{')) => {
                Some(if self.peek(3) == Some(b'~') { 4 } else { 3 })
            }
            _ => None,
        }
    }

    fn quoted(&mut self) -> Result<(), LexError> {
        if let Some((kind, len)) = self.sequence_start() {
            self.enter_sequence(kind, len);
            return Ok(());
        }
        let start = self.pos;
        if self.bytes[start] == b'"' {
            self.emit(Kind::CQuote, start, start + 1);
            self.modes.pop();
            return Ok(());
        }
        let mut end = start;
        while end < self.bytes.len() {
            self.pos = end;
            match self.bytes[end] {
                b'"' => break,
                b'\n' | b'\r' => {
                    let open = match self.modes.last() {
                        Some(Mode::Quoted { start }) => *start,
                        _ => end,
                    };
                    return Err(LexError::new(
                        open,
                        "unterminated string: this `\"` is not closed on its line (use a heredoc \
                         for text over several lines)",
                    ));
                }
                b'\\' => {
                    end += 1;
                    if let Some(ch) = self.src.get(end..).and_then(|rest| rest.chars().next()) {
                        if ch != '\n' && ch != '\r' {
                            end += ch.len_utf8();
                        }
                    }
                }
                b'$' | b'%' => {
                    if let Some(len) = self.escaped_sequence() {
                        end += len;
                    } else if self.sequence_start().is_some() {
                        break;
                    } else {
                        end += 1;
                    }
                }
                _ => end += 1,
            }
        }
        // Stop on a character boundary even if an escape consumed a partial character.
        while !self.src.is_char_boundary(end) {
            end += 1;
        }
        self.emit(Kind::QuotedLit, start, end);
        Ok(())
    }

    fn heredoc(&mut self) -> Result<(), LexError> {
        if let Some((kind, len)) = self.sequence_start() {
            self.enter_sequence(kind, len);
            return Ok(());
        }
        let start = self.pos;
        let mut end = start;
        let mut line_end = None;
        while end < self.bytes.len() {
            self.pos = end;
            match self.bytes[end] {
                b'\n' => {
                    line_end = Some(end + 1);
                    break;
                }
                b'$' | b'%' => {
                    if let Some(len) = self.escaped_sequence() {
                        end += len;
                    } else if self.sequence_start().is_some() {
                        break;
                    } else {
                        end += 1;
                    }
                }
                _ => end += 1,
            }
        }
        let Some(Mode::Heredoc { marker, start_of_line, .. }) = self.modes.last_mut() else {
            return Ok(());
        };
        match line_end {
            Some(line_end) => {
                let text = &self.src[start..line_end];
                let is_marker = *start_of_line && text.trim() == &self.src[marker.0..marker.1];
                if is_marker {
                    let newline_len = if text.ends_with("\r\n") { 2 } else { 1 };
                    let marker_end = line_end - newline_len;
                    self.modes.pop();
                    self.emit(Kind::CHeredoc, start, marker_end);
                    self.emit(Kind::Newline, marker_end, line_end);
                } else {
                    *start_of_line = true;
                    self.emit(Kind::StringLit, start, line_end);
                }
            }
            None => {
                *start_of_line = false;
                if end == start {
                    // Unreachable by construction; refuse rather than loop forever.
                    return Err(LexError::new(start, "cannot read the heredoc text here"));
                }
                self.emit(Kind::StringLit, start, end);
            }
        }
        Ok(())
    }
}

/// Operators and punctuation other than brackets, longest first.
fn operator(rest: &[u8]) -> Option<(Kind, usize)> {
    let two = |a: u8, b: u8| rest.first() == Some(&a) && rest.get(1) == Some(&b);
    if rest.starts_with(b"...") {
        return Some((Kind::Ellipsis, 3));
    }
    let pairs = [
        (b'=', b'=', Kind::EqualOp),
        (b'!', b'=', Kind::NotEqual),
        (b'>', b'=', Kind::GreaterThanEq),
        (b'<', b'=', Kind::LessThanEq),
        (b'&', b'&', Kind::And),
        (b'|', b'|', Kind::Or),
        (b':', b':', Kind::DoubleColon),
        (b'=', b'>', Kind::FatArrow),
    ];
    for (a, b, kind) in pairs {
        if two(a, b) {
            return Some((kind, 2));
        }
    }
    let kind = match rest.first()? {
        b'.' => Kind::Dot,
        b',' => Kind::Comma,
        b'*' => Kind::Star,
        b'/' => Kind::Slash,
        b'%' => Kind::Percent,
        b'+' => Kind::Plus,
        b'-' => Kind::Minus,
        b'=' => Kind::Equal,
        b'<' => Kind::LessThan,
        b'>' => Kind::GreaterThan,
        b'!' => Kind::Bang,
        b'?' => Kind::Question,
        b':' => Kind::Colon,
        b'&' | b'|' | b'~' | b'^' | b';' | b'`' | b'\'' => Kind::Other,
        _ => return None,
    };
    Some((kind, 1))
}

fn describe(kind: Kind) -> &'static str {
    match kind {
        Kind::OBrace => "the `{`",
        Kind::OBrack => "the `[`",
        Kind::OParen => "the `(`",
        Kind::TemplateInterp => "the interpolation `${`",
        Kind::TemplateControl => "the directive `%{`",
        _ => "a bracket",
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(super) fn line_column(source: &str, offset: usize) -> (u32, u32) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.bytes().filter(|b| *b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    let column = before[line_start..].chars().count() + 1;
    (to_u32(line), to_u32(column))
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
