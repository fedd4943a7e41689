//! Polling with back-off, written once for every adapter: quick at first, so that the end of
//! a short operation (a Proxmox task of 300 ms) is seen within 50 ms, then slowing down so
//! that a long one (a big clone) is asked about once a second; never past a deadline.

use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// The pause before the next poll, `elapsed` after the first: 50 ms for the first second,
/// then a quarter of the time elapsed, at most one second.
pub fn pause(elapsed: Duration) -> Duration {
    if elapsed < Duration::from_secs(1) {
        Duration::from_millis(50)
    } else {
        (elapsed / 4).clamp(Duration::from_millis(100), Duration::from_secs(1))
    }
}

/// Calls `check` until it gives a value, pausing per [`pause`]; `late()` is the error when
/// the next poll would come after `deadline`.
pub async fn until<T, E, F, Fut>(deadline: Instant, mut check: F, late: impl FnOnce() -> E) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, E>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        let p = pause(start.elapsed());
        if Instant::now() + p >= deadline {
            return Err(late());
        }
        tokio::time::sleep(p).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule() {
        assert_eq!(pause(Duration::ZERO), Duration::from_millis(50));
        assert_eq!(pause(Duration::from_millis(999)), Duration::from_millis(50));
        assert_eq!(pause(Duration::from_secs(2)), Duration::from_millis(500));
        assert_eq!(pause(Duration::from_secs(60)), Duration::from_secs(1));
        // A 10-minute clone is asked about roughly once a second.
        let (mut t, mut polls) = (Duration::ZERO, 0);
        while t < Duration::from_secs(600) {
            t += pause(t);
            polls += 1;
        }
        assert!((600..640).contains(&polls), "{polls}");
    }

    #[tokio::test(start_paused = true)]
    async fn until_a_value_or_the_deadline() {
        let mut n = 0;
        let v: Result<u32, &str> = until(
            Instant::now() + Duration::from_secs(5),
            || {
                n += 1;
                let done = n == 4;
                async move { Ok(done.then_some(7)) }
            },
            || "late",
        )
        .await;
        assert_eq!(v, Ok(7));
        let start = Instant::now();
        let v: Result<u32, &str> =
            until(Instant::now() + Duration::from_millis(300), || async { Ok(None) }, || "late").await;
        assert_eq!(v, Err("late"));
        assert!(start.elapsed() <= Duration::from_millis(300));
    }
}
