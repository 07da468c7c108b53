//! The first fenced code block of a reply, for `auto_run_code_on_code_block`.

/// A fenced block: its language tag (lowercased, possibly empty) and its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CodeBlock {
    pub language: String,
    pub code: String,
}

impl CodeBlock {
    /// `exec_python` for no language, `py` or `python`; `exec_code` otherwise (contract §2.5).
    pub(crate) fn tool_name(&self) -> &'static str {
        match self.language.as_str() {
            "" | "py" | "python" | "python3" => "exec_python",
            _ => "exec_code",
        }
    }
}

/// The first ```-fenced block in `text`, if it has a closing fence.
pub(crate) fn first_block(text: &str) -> Option<CodeBlock> {
    let start = text.find("```")?;
    let after = &text[start + 3..];
    let newline = after.find('\n')?;
    let language = after[..newline].trim().to_ascii_lowercase();
    // A tag is one word; "```print(1)```" on one line has no tag line and no block.
    if language.contains(char::is_whitespace) {
        return None;
    }
    let body = &after[newline + 1..];
    let end = body.find("```")?;
    let code = body[..end].trim_end_matches(['\n', '\r']).to_owned();
    Some(CodeBlock { language, code })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_block_and_its_language() {
        let text = "Here:\n```python\nprint(1)\n```\nand\n```js\nx\n```";
        assert_eq!(first_block(text), Some(CodeBlock { language: "python".into(), code: "print(1)".into() }));
        let b = first_block("```\nprint(2)\n```").expect("untagged");
        assert_eq!((b.language.as_str(), b.tool_name()), ("", "exec_python"));
        assert_eq!(first_block("```JS\nconsole.log(1)\n```").map(|b| b.tool_name()), Some("exec_code"));
        assert_eq!(first_block("```python\nunterminated"), None);
        assert_eq!(first_block("no code here"), None);
    }
}
