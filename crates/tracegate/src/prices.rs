//! `tracegate prices`: the price table in effect, built-in list prices and configured
//! overrides, in USD per million tokens.

#![allow(clippy::print_stdout)]

use std::path::PathBuf;

use clap::Args;
use tracegate_core::pricing::{PriceEntry, PriceSource, PriceTable};

#[derive(Debug, Args)]
pub struct PricesArgs {
    /// TOML configuration file whose `[prices."model"]` overrides are applied.
    #[arg(long, env = "TRACEGATE_CONFIG")]
    config: Option<PathBuf>,
    /// Print JSON (an array of rows) instead of a text table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: PricesArgs) -> anyhow::Result<()> {
    let config = crate::serve::load(args.config, Default::default())?;
    let table = PriceTable::builtin().with_overrides(config.prices);
    let rows = table.entries();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print!("{}", render(&rows));
    }
    Ok(())
}

/// An aligned text table: one row per model, prices right-aligned, overrides marked.
fn render(rows: &[PriceEntry]) -> String {
    let header = [
        "model",
        "input",
        "output",
        "cache read",
        "cache write",
        "source",
    ];
    let mut lines: Vec<[String; 6]> = vec![header.map(str::to_owned)];
    for r in rows {
        let p = &r.price;
        lines.push([
            r.model.clone(),
            money(Some(p.input)),
            money(Some(p.output)),
            money(p.cache_read),
            money(p.cache_write),
            match r.source {
                PriceSource::Builtin => "built-in".to_owned(),
                PriceSource::Override => "config override".to_owned(),
            },
        ]);
    }
    let mut widths = [0usize; 6];
    for line in &lines {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::from(
        "USD per million tokens; a missing cache price (-) means plain input price.\n",
    );
    for line in &lines {
        let mut text = format!("{:<w$}", line[0], w = widths[0]);
        for (cell, w) in line[1..5].iter().zip(&widths[1..5]) {
            text.push_str(&format!("  {cell:>w$}"));
        }
        text.push_str(&format!("  {}", line[5]));
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

fn money(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use tracegate_core::pricing::ModelPrice;

    #[test]
    fn the_table_is_aligned_and_marks_overrides() {
        let mine = ModelPrice {
            input: 1.5,
            output: 2.0,
            cache_read: None,
            cache_write: None,
        };
        let table = PriceTable::builtin().with_overrides([("my-model".to_owned(), mine)]);
        let text = render(&table.entries());
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[1].starts_with("model"), "{text}");
        let mine = lines.iter().find(|l| l.starts_with("my-model ")).unwrap();
        assert!(mine.ends_with("config override"), "{mine}");
        assert!(mine.contains("1.500") && mine.contains("2.000"), "{mine}");
        let opus = lines
            .iter()
            .find(|l| l.starts_with("claude-opus-4-5 "))
            .unwrap();
        assert!(opus.ends_with("built-in"), "{opus}");
        // Every row's input column ends at the same place as the header's.
        let end = lines[1].find("input").unwrap() + "input".len();
        for l in &lines[2..] {
            let head = &l[..end];
            assert!(head.ends_with(|c: char| c.is_ascii_digit()), "{l}");
        }
    }
}
