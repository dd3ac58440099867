//! Where exported rows go: JSON lines or CSV, to a file or standard output.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context;
use serde_json::Value;

use super::Format;

pub struct Sink {
    out: Out,
    rows: u64,
}

enum Out {
    Jsonl(BufWriter<Box<dyn Write>>),
    Csv {
        writer: Box<csv::Writer<Box<dyn Write>>>,
        columns: Vec<&'static str>,
    },
}

impl Sink {
    /// Opens `path` (standard output when `None` or `-`); a CSV gets its header row now.
    pub fn open(
        format: Format,
        path: Option<&Path>,
        columns: Vec<&'static str>,
    ) -> anyhow::Result<Sink> {
        let dest: Box<dyn Write> = match path {
            Some(p) if p != Path::new("-") => {
                Box::new(File::create(p).with_context(|| format!("cannot create {}", p.display()))?)
            }
            _ => Box::new(std::io::stdout().lock()),
        };
        let out = match format {
            Format::Jsonl => Out::Jsonl(BufWriter::with_capacity(64 * 1024, dest)),
            Format::Csv => {
                let mut writer = Box::new(csv::Writer::from_writer(dest));
                writer.write_record(&columns)?;
                Out::Csv { writer, columns }
            }
        };
        Ok(Sink { out, rows: 0 })
    }

    /// Writes one trace.
    pub fn row(&mut self, row: &Value) -> anyhow::Result<()> {
        match &mut self.out {
            Out::Jsonl(w) => {
                serde_json::to_writer(&mut *w, row)?;
                w.write_all(b"\n")?;
            }
            Out::Csv { writer, columns } => {
                writer.write_record(columns.iter().map(|c| cell(row.get(*c)).into_owned()))?;
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Flushes everything written.
    pub fn finish(self) -> anyhow::Result<()> {
        match self.out {
            Out::Jsonl(mut w) => w.flush()?,
            Out::Csv { mut writer, .. } => writer.flush()?,
        }
        Ok(())
    }
}

/// A CSV cell: text as it is, numbers and booleans as JSON writes them, null
/// or missing as empty, objects and arrays (metadata, bodies) as JSON text.
fn cell(v: Option<&Value>) -> Cow<'_, str> {
    match v {
        None | Some(Value::Null) => Cow::Borrowed(""),
        Some(Value::String(s)) => Cow::Borrowed(s),
        Some(other) => Cow::Owned(other.to_string()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cells_are_text_numbers_or_json() {
        assert_eq!(cell(None), "");
        assert_eq!(cell(Some(&Value::Null)), "");
        assert_eq!(cell(Some(&json!("a,\"b\""))), "a,\"b\"");
        assert_eq!(cell(Some(&json!(12.5))), "12.5");
        assert_eq!(cell(Some(&json!(true))), "true");
        assert_eq!(cell(Some(&json!({"team": "x"}))), r#"{"team":"x"}"#);
    }

    #[test]
    fn csv_rows_are_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        let mut sink = Sink::open(Format::Csv, Some(&path), vec!["id", "metadata"]).unwrap();
        sink.row(&json!({"id": "a\nb", "metadata": {"k": "v,w"}}))
            .unwrap();
        sink.row(&json!({"id": "c"})).unwrap();
        assert_eq!(sink.rows(), 2);
        sink.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "id,metadata\n\"a\nb\",\"{\"\"k\"\":\"\"v,w\"\"}\"\nc,\n"
        );
    }
}
