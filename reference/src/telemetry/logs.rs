//! Where log lines go: stderr, **one line per event**, with nothing secret in it.
//!
//! Upstream text ends up in logs (a provider's error body, a tool's stderr): a newline in it would
//! forge a second log line, and a reflected key would be written to disk. So each event is held
//! until the formatter is done with it, then control characters inside it are escaped (`\n`, `\r`,
//! `\u{…}`; tab and the terminal's colour escape stay) and every known secret is redacted
//! ([`crate::secret`]) before the line is written in one `write`.

use std::io::Write;

/// A `MakeWriter` for the fmt layer: a fresh [`LineWriter`] per event.
#[derive(Debug, Clone, Copy, Default)]
pub struct OneLine;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for OneLine {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(Vec::with_capacity(256))
    }
}

/// One event's bytes, written to stderr when dropped.
#[derive(Debug)]
pub struct LineWriter(Vec<u8>);

impl Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let line = one_line(&String::from_utf8_lossy(&self.0));
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

/// `event` as exactly one line (ending in `\n`), escaped and redacted.
pub(crate) fn one_line(event: &str) -> String {
    let body = event.strip_suffix('\n').unwrap_or(event);
    let mut out = String::with_capacity(body.len() + 1);
    for c in body.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' | '\u{1b}' => out.push(c),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    let mut out = crate::secret::redact(&out).into_owned();
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_text_cannot_forge_a_line_or_leak_a_key() {
        let key = crate::secret::Secret::new("sk-logged-by-mistake-991");
        let forged = format!("provider said: bad\nINFO admin logged in\r\u{7}{} end\n", key.expose());
        let line = one_line(&forged);
        assert_eq!(line, "provider said: bad\\nINFO admin logged in\\r\\u{7}*** end\n");
        assert_eq!(line.matches('\n').count(), 1);
        assert_eq!(one_line("\u{1b}[32mINFO\u{1b}[0m\tok\n"), "\u{1b}[32mINFO\u{1b}[0m\tok\n", "colours stay");
    }
}
