//! UTC calendar dates from Unix time, without a date crate.

/// A UTC date and time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    /// 1..=12
    pub month: u32,
    /// 1..=31
    pub day: u32,
    pub hour: u64,
    pub minute: u64,
    pub second: u64,
    /// 0 = Sunday .. 6 = Saturday
    pub weekday: u32,
}

/// `ts` as `2024-09-23 17:00:35 UTC`, as custom-action tables show times.
pub fn utc(ts: u64) -> String {
    let c = civil(ts);
    format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC", c.year, c.month, c.day, c.hour, c.minute, c.second)
}

/// The UTC date of `ts` seconds since 1970-01-01 (Howard Hinnant's days-to-civil).
pub fn civil(ts: u64) -> Civil {
    let days = (ts / 86_400) as i64;
    let secs = ts % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    Civil {
        year: yoe + era * 400 + i64::from(month <= 2),
        month,
        day,
        hour: secs / 3600,
        minute: secs % 3600 / 60,
        second: secs % 60,
        weekday: ((days + 4).rem_euclid(7)) as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil(0), Civil { year: 1970, month: 1, day: 1, hour: 0, minute: 0, second: 0, weekday: 4 });
        let c = civil(951_782_400);
        assert_eq!((c.year, c.month, c.day), (2000, 2, 29));
        let c = civil(1_700_000_000);
        assert_eq!((c.year, c.month, c.day, c.hour, c.minute, c.second, c.weekday), (2023, 11, 14, 22, 13, 20, 2));
    }
}
