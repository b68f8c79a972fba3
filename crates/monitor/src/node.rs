//! The `node` item: this node's identity, computed from what the binary
//! knows at start and the time now.

use shoal_adapter::ItemEvent;
use std::time::{SystemTime, UNIX_EPOCH};

/// What the `node` item tells, fixed at start.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// The server's name, as the first listener's `SERVNAME`.
    pub name: String,
    pub version: String,
    pub pid: u32,
    pub started: SystemTime,
    /// One entry per listener, e.g. `Shoal HTTP=0.0.0.0:8080 (http)`.
    pub listeners: Vec<String>,
    /// `<control_link_address>`, if any.
    pub control_link: Option<String>,
    /// Where this node's console is reached, ending with `/`
    /// (`<shoal_console_url>`, or derived from the listeners).
    pub console_url: String,
}

impl NodeInfo {
    /// The item's event at `now`.
    pub fn event(&self, now: SystemTime) -> ItemEvent {
        let uptime = now.duration_since(self.started).unwrap_or_default();
        ItemEvent::new()
            .with("name", self.name.as_str())
            .with("version", self.version.as_str())
            .with("pid", self.pid.to_string())
            .with("started", rfc3339(self.started))
            .with("uptime_s", uptime.as_secs().to_string())
            .with("listeners", self.listeners.join(", "))
            .with(
                "control_link",
                self.control_link.clone().unwrap_or_default(),
            )
    }
}

/// `t` as an RFC 3339 UTC time to the second, e.g. `2024-05-06T07:08:09Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rest = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01, by
/// counting 400-year eras (146 097 days each) from 0000-03-01, so that
/// the leap day falls at the end of each counted year.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // Both are in range by construction (1..=31, 1..=12).
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(at(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(at(1_709_251_199)), "2024-02-29T23:59:59Z");
        assert_eq!(rfc3339(at(1_735_689_600)), "2025-01-01T00:00:00Z");
        assert_eq!(rfc3339(at(4_107_542_400)), "2100-03-01T00:00:00Z");
    }

    #[test]
    fn the_event_counts_uptime_from_start() {
        let node = NodeInfo {
            name: "Shoal".into(),
            version: "0.1.0".into(),
            pid: 42,
            started: at(1_000),
            listeners: vec![
                "A=0.0.0.0:8080 (http)".into(),
                "B=127.0.0.1:8443 (https)".into(),
            ],
            control_link: None,
            console_url: String::new(),
        };
        let ev = node.event(at(1_090));
        assert_eq!(ev.get("uptime_s"), Some(Some("90")));
        assert_eq!(ev.get("started"), Some(Some("1970-01-01T00:16:40Z")));
        assert_eq!(
            ev.get("listeners"),
            Some(Some("A=0.0.0.0:8080 (http), B=127.0.0.1:8443 (https)"))
        );
        assert_eq!(ev.get("control_link"), Some(Some("")));
        assert_eq!(ev.get("pid"), Some(Some("42")));
    }
}
