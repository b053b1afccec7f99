//! Splitting a YAML stream into documents and deserializing each with source locations.
//!
//! Each document is deserialized straight into its target type by serde-saphyr, so a plain
//! scalar becomes what the target field wants (`name: n` stays the string `"n"`, `version:
//! 0206` the string `"0206"`), as `kubectl` does; errors carry the line and column in the file.

use serde::de::DeserializeOwned;
use serde_saphyr::{SnippetMode, render_options};

use super::error::YamlError;

/// One document's text and where it starts in the file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Chunk<'a> {
    /// The text, from its `---` marker (if any) to the next marker.
    pub(crate) text: &'a str,
    /// 1-based line of the first line of `text` in the file.
    pub(crate) first_line: usize,
    /// 1-based line of the document's first content line (after its `---` marker, if bare).
    pub(crate) line: usize,
}

/// Whether `line` is a document marker (`---` or `...` at column 0, followed by nothing, a
/// space or a tab). The YAML spec forbids these at column 0 inside any content, so a
/// line-based split is exact.
fn marker(line: &str, m: &str) -> bool {
    line.strip_prefix(m).is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r']))
}

/// Whether a chunk holds nothing but blank lines, comments, directives and bare markers.
fn is_blank(text: &str) -> bool {
    text.lines().all(|line| {
        let rest = if marker(line, "---") { &line[3..] } else { line };
        let t = rest.trim();
        t.is_empty() || t.starts_with('#') || (line.starts_with('%') && !marker(line, "---"))
    })
}

/// Splits a YAML stream into non-blank document chunks.
pub(crate) fn split(text: &str) -> Vec<Chunk<'_>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    let mut offset = 0;
    let mut push = |from: usize, to: usize, line: usize| {
        let t = &text[from..to];
        if !is_blank(t) {
            let content = t.lines().position(|l| !is_blank(l)).unwrap_or(0);
            chunks.push(Chunk { text: t, first_line: line, line: line + content });
        }
    };
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let line_no = i + 1;
        let bare = line.trim_end_matches(['\n', '\r']);
        if marker(bare, "---") {
            push(start, offset, start_line);
            start = offset;
            start_line = line_no;
        } else if marker(bare, "...") {
            push(start, offset, start_line);
            start = offset + line.len();
            start_line = line_no + 1;
        }
        offset += line.len();
    }
    push(start, text.len(), start_line);
    chunks
}

fn yaml_error(err: &serde_saphyr::Error, chunk: &Chunk<'_>, source: &str) -> YamlError {
    let line_offset = (chunk.first_line - 1) as u64;
    let message = err.render_with_options(render_options! { snippets: SnippetMode::Off, line_offset: line_offset });
    let snippet = err.render_with_options(render_options! { line_offset: line_offset, source_name: Some(source) });
    let location = err.location();
    // Quote the offending line: serde's messages name the expected type, not the field.
    let quoted = location
        .and_then(|l| chunk.text.lines().nth(usize::try_from(l.line()).ok()?.checked_sub(1)?))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            if l.chars().count() > 80 {
                format!("{}...", l.chars().take(77).collect::<String>())
            } else {
                l.to_string()
            }
        });
    let message = match quoted {
        Some(q) => format!("{message}: `{q}`"),
        None => message,
    };
    YamlError { line: location.map(|l| l.line() + line_offset), column: location.map(|l| l.column()), message, snippet }
}

/// Deserializes the chunk's document into `T`; `None` when the document is null (e.g. `--- ~`).
pub(crate) fn parse<T: DeserializeOwned>(chunk: &Chunk<'_>, source: &str) -> Result<Option<T>, YamlError> {
    match serde_saphyr::from_multiple::<T>(chunk.text) {
        Ok(docs) => Ok(docs.into_iter().next()),
        Err(err) => Err(yaml_error(&err, chunk, source)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_markers_only() {
        let text =
            "# header\n---\na: 1\nb: |\n  --- not a marker\n---\n# nothing\n--- {c: 3}\n...\n%YAML 1.2\n---\nd: 4\n";
        let chunks = split(text);
        let got: Vec<(usize, &str)> = chunks.iter().map(|c| (c.first_line, c.text)).collect();
        assert_eq!(got, vec![(2, "---\na: 1\nb: |\n  --- not a marker\n"), (8, "--- {c: 3}\n"), (11, "---\nd: 4\n"),]);
        assert_eq!(split("a: 1").len(), 1);
        assert!(split("").is_empty());
        assert!(split("---\n---\n# c\n").is_empty());
    }

    #[test]
    fn errors_carry_file_lines() {
        let text = "a: 1\n---\nx: 1\ny: [1, 2\nz: 3\n";
        let chunks = split(text);
        let err = parse::<serde_json::Value>(&chunks[1], "f.yaml").unwrap_err();
        assert_eq!(err.line, Some(5), "{err}");
        assert!(err.snippet.contains("f.yaml:5"), "{}", err.snippet);
    }
}
