//! The report as text a person acts on: findings first (most urgent first,
//! each with its evidence and what to do), then each section's figures.

use std::fmt::Write;

use tracegate_server::diagnostics::format::{bytes, key, ms, pct};
use tracegate_server::diagnostics::latency::Compared;
use tracegate_server::diagnostics::{Report, Source};
use tracegate_store::health::BackendHealth;

/// Columns padded to their widest cell, two spaces apart.
fn table(out: &mut String, rows: &[Vec<String>]) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let mut line = String::from("  ");
        for (c, cell) in r.iter().enumerate() {
            let pad = widths[c].saturating_sub(cell.chars().count());
            line.push_str(cell);
            if c + 1 < r.len() {
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

fn opt_ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), ms)
}

/// The whole report.
pub fn text(r: &Report, origin: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "tracegate diagnose: {origin}, last {} ({} to {})",
        r.since,
        r.from.format("%Y-%m-%d %H:%M:%S UTC"),
        r.to.format("%Y-%m-%d %H:%M:%S UTC")
    );
    let verdict = if r.is_failing() {
        "a P0/P1 finding is present (exit status 1)"
    } else {
        "no P0/P1 finding (exit status 0)"
    };
    let _ = writeln!(o, "worst: {}: {verdict}", r.worst);

    let _ = writeln!(o, "\nFINDINGS");
    if r.findings.is_empty() {
        let _ = writeln!(o, "  nothing to report");
    }
    for f in &r.findings {
        let _ = writeln!(o, "  [{}] {}", f.severity, f.finding);
        for e in &f.evidence {
            let _ = writeln!(o, "       - {e}");
        }
        let _ = writeln!(o, "       > {}", f.recommendation);
    }

    let _ = writeln!(o, "\nSLO (last {})", r.since);
    let mut rows = vec![vec![
        "metric".to_owned(),
        "value".to_owned(),
        "target".to_owned(),
        "status".to_owned(),
    ]];
    for s in &r.slo {
        let shown = |v: Option<f64>| match (v, s.unit.as_str()) {
            (None, _) => "-".to_owned(),
            (Some(v), "ms") => ms(v),
            (Some(v), "share") => pct(v),
            (Some(v), unit) => format!("{v:.2} {unit}"),
        };
        let status = match (s.met, s.severity) {
            (_, Some(sev)) => format!("missed ({sev})"),
            (Some(true), None) => "ok".to_owned(),
            _ => "-".to_owned(),
        };
        rows.push(vec![
            s.metric.clone(),
            shown(s.value),
            shown(s.target),
            status,
        ]);
    }
    table(&mut o, &rows);

    if let Some(s) = &r.slowest {
        let _ = writeln!(
            o,
            "\nSLOWEST (by p95 duration; previous = the {} before)",
            r.since
        );
        let mut rows = vec![[
            "", "name", "requests", "p50", "p95", "p99", "errors", "prev p95", "change",
        ]
        .map(str::to_owned)
        .to_vec()];
        let mut add = |kind: &str, list: &[Compared]| {
            for c in list {
                rows.push(vec![
                    kind.to_owned(),
                    key(&c.key),
                    c.requests.to_string(),
                    opt_ms(c.duration_ms.p50),
                    opt_ms(c.duration_ms.p95),
                    opt_ms(c.duration_ms.p99),
                    pct(c.error_rate),
                    opt_ms(c.previous_p95_ms),
                    c.p95_change.map_or_else(
                        || "-".to_owned(),
                        |x| format!("{}{}", if x >= 0.0 { "+" } else { "" }, pct(x)),
                    ),
                ]);
            }
        };
        add("upstream", &s.upstreams);
        add("model", &s.models);
        add("endpoint", &s.endpoints);
        table(&mut o, &rows);
    }

    if let Some(i) = &r.inflight {
        let _ = writeln!(
            o,
            "\nIN FLIGHT: {} now, {} stuck (in flight over {})",
            i.in_flight,
            i.stuck_count,
            ms(i.stuck_after_ms)
        );
        for s in &i.stuck {
            let _ = writeln!(
                o,
                "  {}  {}  {} {} {}",
                s.trace_id,
                ms(s.elapsed_ms),
                key(&s.upstream),
                key(&s.model),
                key(&s.account)
            );
        }
    }

    if let Some(a) = &r.accounts {
        let _ = writeln!(o, "\nTOP ACCOUNTS (tokens)");
        let mut rows = vec![["window", "account", "tokens", "requests", "cost"]
            .map(str::to_owned)
            .to_vec()];
        for (window, list) in [("5h", &a.last_5h), ("24h", &a.last_24h)] {
            for u in list {
                rows.push(vec![
                    window.to_owned(),
                    key(&u.account),
                    u.usage.total_tokens.to_string(),
                    u.usage.requests.to_string(),
                    format!("${:.4}", u.usage.cost_usd),
                ]);
            }
        }
        table(&mut o, &rows);
    }

    if let Some(errors) = &r.errors {
        let _ = writeln!(o, "\nERRORS BY UPSTREAM AND STATUS (last {})", r.since);
        if errors.is_empty() {
            let _ = writeln!(o, "  none");
        } else {
            let mut rows = vec![["upstream", "status", "outcome", "requests"]
                .map(str::to_owned)
                .to_vec()];
            for e in errors {
                rows.push(vec![
                    key(&e.upstream),
                    e.status.map_or_else(|| "-".to_owned(), |s| s.to_string()),
                    e.outcome.clone(),
                    e.count.to_string(),
                ]);
            }
            table(&mut o, &rows);
        }
    }

    if let Some(rec) = &r.recorder {
        let _ = writeln!(o, "\nRECORDER");
        let _ = writeln!(
            o,
            "  queue {} of {} traces, {} of {}; written {}; lost {} (queue full) + {} (store errors)",
            rec.waiting,
            rec.queue_capacity,
            bytes(rec.queue_bytes),
            bytes(rec.queue_bytes_limit),
            rec.written,
            rec.dropped_queue_full,
            rec.dropped_store_error
        );
        let _ = writeln!(
            o,
            "  batch write latency: last {}, mean {}, longest {}",
            ms(rec.last_batch_ms),
            ms(rec.avg_batch_ms),
            ms(rec.max_batch_ms)
        );
    }

    if let Some(h) = &r.store {
        let _ = writeln!(o, "\nSTORE ({} at {})", h.backend, h.location);
        let BackendHealth::Sqlite(s) = &h.details;
        let _ = writeln!(
            o,
            "  file {}, WAL {}; {} pages of {} B, {} free ({}); journal {}, auto_vacuum {}",
            bytes(s.file_bytes),
            bytes(s.wal_bytes),
            s.page_count,
            s.page_size,
            s.freelist_count,
            h.free_ratio.map_or_else(|| "-".to_owned(), pct),
            s.journal_mode,
            s.auto_vacuum
        );
        let _ = writeln!(
            o,
            "  checkpoint due: {}; VACUUM due: {}; page cache hit rate: {}",
            if h.checkpoint_due { "yes" } else { "no" },
            if h.vacuum_due { "yes" } else { "no" },
            h.cache_hit_rate
                .map_or_else(|| "not measured".to_owned(), pct)
        );
        for n in &h.notes {
            let _ = writeln!(o, "  note: {n}");
        }
    }

    if let Some(q) = &r.queries {
        let _ = writeln!(
            o,
            "\nSTORE QUERIES (recent durations per class; slow above {})",
            ms(r.slow_query_ms)
        );
        if q.is_empty() {
            let _ = writeln!(o, "  none timed yet");
        } else {
            let mut rows = vec![["class", "count", "p50", "p95", "max"]
                .map(str::to_owned)
                .to_vec()];
            for c in q {
                rows.push(vec![
                    c.class.clone(),
                    c.count.to_string(),
                    ms(c.p50_ms),
                    ms(c.p95_ms),
                    ms(c.max_ms),
                ]);
            }
            table(&mut o, &rows);
        }
    }

    let h = &r.host;
    let _ = writeln!(o, "\nHOST");
    let _ = writeln!(
        o,
        "  load {:.2} / {:.2} / {:.2} on {} core(s); memory {} available of {}",
        h.load_1m,
        h.load_5m,
        h.load_15m,
        h.cores,
        bytes(h.memory_available_bytes),
        bytes(h.memory_total_bytes)
    );
    if let Some(p) = &h.process {
        let n = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
        let _ = writeln!(
            o,
            "  gateway process: resident {}, {} of {} file descriptors open",
            p.rss_bytes.map_or_else(|| "-".to_owned(), bytes),
            n(p.open_files),
            n(p.open_files_limit)
        );
    }
    if let Some(d) = &h.disk {
        let _ = writeln!(
            o,
            "  disk of the store ({}): {} free of {}",
            d.mount_point,
            bytes(d.available_bytes),
            bytes(d.total_bytes)
        );
    }

    if !r.unavailable.is_empty() {
        let what = match r.source {
            Source::Store => "NOT IN THIS REPORT (read from the store file)",
            Source::Gateway => "NOT IN THIS REPORT",
        };
        let _ = writeln!(o, "\n{what}");
        for u in &r.unavailable {
            let section = format!("{:?}", u.section).to_lowercase();
            let _ = writeln!(o, "  {section}: {}", u.reason);
        }
    }
    o
}
