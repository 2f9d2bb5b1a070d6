//! Text from repositories, people and services made safe for Markdown comments (GitHub and
//! GitLab): the one escaping every comment, reply, check summary and plan uses.
//!
//! [`escape`] is for prose and table cells, [`code`] for names and values shown as code. What
//! comes out cannot open HTML, end a `<details>`, start a comment marker, mention someone,
//! start a workflow command or break a table row.

/// Longest piece of outside text shown inline before it is shortened.
pub const LONGEST_VALUE: usize = 1_000;

/// Escapes repository or user text for Markdown prose and table cells: HTML-significant
/// characters become entities, Markdown punctuation is backslash-escaped, `@` cannot mention,
/// line breaks become spaces, and very long text is shortened.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (count, c) in text.chars().enumerate() {
        if count == LONGEST_VALUE {
            out.push('…');
            break;
        }
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '@' => out.push_str("&#64;"),
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            // Punctuation Markdown gives a meaning to; `:`, `/` or `,` are left readable.
            c if "\\`*_[](){}#+-.!|~$".contains(c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Repository or user text shown as code (`<code>` with escaped content; a backtick span could
/// be ended by the text itself).
pub fn code(text: &str) -> String {
    format!("<code>{}</code>", escape(text))
}
