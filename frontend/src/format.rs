//! Formatting shared by the pages: ages the way kubectl prints them, and numbers with units.

/// `45s`, `12m`, `5h`, `3d`, `2y`.
pub fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s if s < 365 * 86_400 => format!("{}d", s / 86_400),
        s => format!("{}y", s / (365 * 86_400)),
    }
}

/// Bytes as GiB with one decimal: `10.5 GiB`.
pub fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1024.0 * 1024.0 * 1024.0))
}

/// An optional value with a unit, or an em dash when the GPU does not report it.
pub fn with_unit(value: Option<f64>, unit: &str) -> String {
    match value {
        Some(v) => format!("{v:.0} {unit}"),
        None => "—".into(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn units() {
        assert_eq!(
            super::gib(11 * 1024 * 1024 * 1024 + 512 * 1024 * 1024),
            "11.5 GiB"
        );
        assert_eq!(super::with_unit(Some(97.4), "%"), "97 %");
        assert_eq!(super::with_unit(None, "W"), "—");
    }

    #[test]
    fn ages() {
        assert_eq!(super::age(5), "5s");
        assert_eq!(super::age(125), "2m");
        assert_eq!(super::age(7200), "2h");
        assert_eq!(super::age(3 * 86_400), "3d");
        assert_eq!(super::age(-3), "0s");
    }
}
