//! Parsers of the /proc text formats, apart from the files so that they
//! can be tested on fixed text.

/// The fields of a /proc/PID/stat line after the command name. The name
/// (field 2) is in parentheses and may itself hold spaces or parentheses,
/// so fields are counted after its closing parenthesis: the first one
/// returned is field 3 (state).
fn after_name(stat: &str) -> Option<std::str::SplitAsciiWhitespace<'_>> {
    Some(stat.get(stat.rfind(')')? + 1..)?.split_ascii_whitespace())
}

/// `utime + stime` (fields 14 and 15) of a /proc/PID/stat line, in clock ticks.
pub fn cpu_ticks(stat: &str) -> Option<u64> {
    let mut fields = after_name(stat)?.skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// `starttime` (field 22) of a /proc/PID/stat line: clock ticks after boot.
pub fn start_ticks(stat: &str) -> Option<u64> {
    after_name(stat)?.nth(19)?.parse().ok()
}

/// A `Key:   123 kB` line of /proc/PID/status, in KiB.
pub fn status_kib(status: &str, key: &str) -> Option<u64> {
    let mut words = status_words(status, key)?;
    let value = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") | None => Some(value),
        Some(_) => None,
    }
}

/// A `Key:   123` line of /proc/PID/status (`Threads:`).
pub fn status_number(status: &str, key: &str) -> Option<u64> {
    status_words(status, key)?.next()?.parse().ok()
}

fn status_words<'a>(status: &'a str, key: &str) -> Option<std::str::SplitAsciiWhitespace<'a>> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    Some(line.get(key.len()..)?.split_ascii_whitespace())
}

/// `user nice system idle iowait irq softirq steal ...` of the `cpu` line of
/// /proc/stat: all but idle and iowait (guest time is already in user).
pub fn busy_ticks(line: &str) -> Option<u64> {
    let mut words = line.split_ascii_whitespace();
    if words.next()? != "cpu" {
        return None;
    }
    let v: Vec<u64> = words
        .take(8)
        .map(|w| w.parse().ok())
        .collect::<Option<_>>()?;
    let idle = *v.get(3)?;
    Some(v.iter().sum::<u64>() - idle - v.get(4).copied().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 500 0 0 0 \
                        250 37 0 0 20 0 9 0 4849494 1000000 2000 18446744073709551615";

    #[test]
    fn parses_stat_with_an_awkward_name() {
        assert_eq!(cpu_ticks(STAT), Some(287));
        assert_eq!(start_ticks(STAT), Some(4_849_494));
        assert_eq!(cpu_ticks("garbage"), None);
        assert_eq!(cpu_ticks("1 (x) S 1 2"), None);
        assert_eq!(start_ticks("1 (x) S 1 2"), None);
    }

    #[test]
    fn parses_machine_stat() {
        assert_eq!(busy_ticks("cpu  100 5 50 1000 20 3 2 1 0 0"), Some(161));
        assert_eq!(busy_ticks("cpu  100 5 50 1000"), Some(155));
        assert_eq!(busy_ticks("cpu0 100 5 50 1000 20 3 2 1 0 0"), None);
        assert_eq!(busy_ticks("cpu 1 2"), None);
    }

    #[test]
    fn parses_status() {
        let status = "Name:\tshoal\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t3\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(10240));
        assert_eq!(status_kib(status, "VmHWM:"), Some(20480));
        assert_eq!(status_kib(status, "VmSwap:"), None);
        assert_eq!(status_number(status, "Threads:"), Some(3));
    }
}
