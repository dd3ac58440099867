//! Figures as a person reads them in evidence lines.

/// `850 ms`, `5.5 s`, `2 min`.
pub fn ms(v: f64) -> String {
    if v < 1_000.0 {
        format!("{v:.0} ms")
    } else if v < 120_000.0 {
        format!("{:.1} s", v / 1_000.0)
    } else {
        format!("{:.0} min", v / 60_000.0)
    }
}

/// `512 B`, `3.2 MiB`, `1.5 GiB`.
pub fn bytes(v: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut x = v as f64;
    let mut unit = 0;
    while x >= 1024.0 && unit + 1 < UNITS.len() {
        x /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{v} B")
    } else {
        format!("{x:.1} {}", UNITS[unit])
    }
}

/// `12.5%`.
pub fn pct(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// `1h`, `90m`, `2d` for a window length.
pub fn window(len_ms: i64) -> String {
    const MIN: i64 = 60_000;
    if len_ms % (24 * 60 * MIN) == 0 {
        format!("{}d", len_ms / (24 * 60 * MIN))
    } else if len_ms % (60 * MIN) == 0 {
        format!("{}h", len_ms / (60 * MIN))
    } else {
        format!("{}m", len_ms / MIN)
    }
}

/// A value that may be missing: the name of the unknown instead.
pub fn key(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "(unknown)".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_well() {
        assert_eq!(ms(850.4), "850 ms");
        assert_eq!(ms(5_500.0), "5.5 s");
        assert_eq!(ms(300_000.0), "5 min");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3 * 1024 * 1024 + 200 * 1024), "3.2 MiB");
        assert_eq!(pct(0.125), "12.5%");
        assert_eq!(window(3_600_000), "1h");
        assert_eq!(window(5_400_000), "90m");
        assert_eq!(window(2 * 86_400_000), "2d");
    }
}
