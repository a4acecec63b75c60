//! Formatting shared by the pages: ages the way kubectl prints them, and numbers with units.

/// `n` and a unit, then `rest` of a smaller unit unless it is 0: `2m`, `2m5s`.
fn two_units(n: i64, unit: &str, rest: i64, rest_unit: &str) -> String {
    if rest == 0 {
        format!("{n}{unit}")
    } else {
        format!("{n}{unit}{rest}{rest_unit}")
    }
}

/// An age as kubectl's AGE column prints it (apimachinery's `HumanDuration`): `45s`, `2m5s`,
/// `12m`, `5h20m`, `20h`, `3d4h`, `40d`, `2y30d`.
pub fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    let (minutes, hours, days) = (s / 60, s / 3600, s / 86_400);
    match s {
        s if s < 120 => format!("{s}s"),
        s if s < 600 => two_units(minutes, "m", s % 60, "s"),
        s if s < 3 * 3600 => format!("{minutes}m"),
        s if s < 8 * 3600 => two_units(hours, "h", minutes % 60, "m"),
        s if s < 48 * 3600 => format!("{hours}h"),
        s if s < 8 * 86_400 => two_units(days, "d", hours % 24, "h"),
        s if s < 2 * 365 * 86_400 => format!("{days}d"),
        s if s < 8 * 365 * 86_400 => two_units(days / 365, "y", days % 365, "d"),
        _ => format!("{}y", days / 365),
    }
}

/// A duration as kubeadm's `ShortHumanDuration` prints it (the TTL of `kubeadm token list`):
/// one unit, rounded down: `0s` (also for up to a second in the past), `59s`, `59m`, `23h`, `364d`, `2y`.
pub fn short_duration(seconds: i64) -> String {
    match seconds {
        s if s < 0 => "0s".into(),
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
    fn ages_read_as_kubectl_prints_them() {
        for (seconds, printed) in [
            (-3, "0s"),
            (5, "5s"),
            (119, "119s"),
            (120, "2m"),
            (125, "2m5s"),
            (15 * 60, "15m"),
            (3 * 3600 + 20 * 60, "3h20m"),
            (7 * 3600, "7h"),
            (20 * 3600 + 59, "20h"),
            (3 * 86_400 + 4 * 3600, "3d4h"),
            (40 * 86_400, "40d"),
            (3 * 365 * 86_400 + 30 * 86_400, "3y30d"),
            (9 * 365 * 86_400, "9y"),
        ] {
            assert_eq!(super::age(seconds), printed, "{seconds} s");
        }
    }
}
