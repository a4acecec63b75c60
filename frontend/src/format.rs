//! Formatting shared by the pages: ages the way kubectl prints them.

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

#[cfg(test)]
mod tests {
    #[test]
    fn ages() {
        assert_eq!(super::age(5), "5s");
        assert_eq!(super::age(125), "2m");
        assert_eq!(super::age(7200), "2h");
        assert_eq!(super::age(3 * 86_400), "3d");
        assert_eq!(super::age(-3), "0s");
    }
}
