//! Wall-clock helpers. Times are UTC: the demo has no time-zone database and
//! a server's local zone means little to remote clients anyway.

use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch (0 if the clock is before 1970).
pub(crate) fn unix_micros() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros())
}

/// The current UTC time of day as `HH:MM:SS`.
pub(crate) fn hh_mm_ss() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_time_of_day(secs)
}

fn format_time_of_day(unix_secs: u64) -> String {
    let of_day = unix_secs % 86_400;
    format!(
        "{:02}:{:02}:{:02}",
        of_day / 3600,
        (of_day / 60) % 60,
        of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_of_day() {
        assert_eq!(format_time_of_day(0), "00:00:00");
        // 2021-01-01T13:05:09Z
        assert_eq!(format_time_of_day(1_609_506_309), "13:05:09");
        assert_eq!(format_time_of_day(86_399), "23:59:59");
    }

    #[test]
    fn now_is_well_formed() {
        let t = hh_mm_ss();
        assert_eq!(t.len(), 8);
        assert!(unix_micros() > 1_600_000_000_000_000);
    }
}
