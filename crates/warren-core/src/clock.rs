//! Wall-clock helpers: warren stores Unix milliseconds.

/// Now, in Unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    i64::try_from(nanos / 1_000_000).unwrap_or(i64::MAX)
}
