//! Waiting for a condition without a fixed sleep.

use std::fmt::Debug;
use std::time::Duration;

use tokio::time::Instant;

/// The pause after the first observation that did not hold; it doubles up to [`LONGEST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(10);

/// The longest pause between two observations.
const LONGEST_PAUSE: Duration = Duration::from_millis(250);

/// Observes with `observe` until `holds` accepts the value, and returns that value.
///
/// `what` names the condition for the failure message. The deadline and the pauses between
/// observations (10 ms, doubling up to 250 ms) are on tokio's clock, so under
/// `#[tokio::test(start_paused = true)]` the wait costs no real time: the clock jumps to the
/// next observation whenever the runtime has nothing else to do. An observation that is under
/// way at the deadline is awaited to its end, and the condition is always observed once more at
/// the deadline.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
///
/// use orbit_test_support::assert_eventually;
///
/// let started = tokio::time::Instant::now();
/// let waited = assert_eventually("a minute has passed", Duration::from_secs(120), async || started.elapsed(), |e| {
///     *e >= Duration::from_secs(60)
/// })
/// .await; // At once: the clock is paused.
/// assert!(waited >= Duration::from_secs(60));
/// # }
/// ```
///
/// # Panics
///
/// When `within` passes without `holds` accepting a value; the message names `what`, the time
/// waited, how many observations were made, and shows the last observed value.
pub async fn assert_eventually<T: Debug>(
    what: &str,
    within: Duration,
    mut observe: impl AsyncFnMut() -> T,
    holds: impl Fn(&T) -> bool,
) -> T {
    let started = Instant::now();
    let deadline = started + within;
    let mut pause = FIRST_PAUSE;
    let mut observations = 0_u32;
    loop {
        let observed = observe().await;
        observations += 1;
        if holds(&observed) {
            return observed;
        }
        let now = Instant::now();
        if now >= deadline {
            panic!(
                "assert_eventually: {what}: still not true after {:?} ({observations} observations); last observed: {observed:?}",
                now - started
            );
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    /// Returns a flag that a task sets to `value` after sleeping `delay`.
    fn flag_set_after(delay: Duration, value: u32) -> Arc<AtomicU32> {
        let flag = Arc::new(AtomicU32::new(0));
        let setter = flag.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            setter.store(value, Ordering::SeqCst);
        });
        flag
    }

    #[tokio::test(start_paused = true)]
    async fn returns_the_first_value_that_holds_on_paused_time() {
        let flag = flag_set_after(Duration::from_secs(60), 7);
        let (real, virtual_start) = (std::time::Instant::now(), Instant::now());
        let within = Duration::from_secs(120);
        let seen =
            assert_eventually("the flag is set", within, async || flag.load(Ordering::SeqCst), |v| *v == 7).await;
        assert_eq!(seen, 7);
        assert!(virtual_start.elapsed() >= Duration::from_secs(60), "the clock moved to the change");
        assert!(real.elapsed() < Duration::from_secs(5), "paused time costs no real minute");
    }

    #[tokio::test(start_paused = true)]
    async fn sees_a_change_made_by_advancing_the_clock() {
        let flag = flag_set_after(Duration::from_secs(3), 1);
        tokio::task::yield_now().await; // The task starts its 3 s sleep.
        tokio::time::advance(Duration::from_secs(4)).await;
        // 100 ms of polling could not reach the task's wake-up; only the advance did.
        let within = Duration::from_millis(100);
        let seen =
            assert_eventually("the flag is set", within, async || flag.load(Ordering::SeqCst), |v| *v == 1).await;
        assert_eq!(seen, 1);
    }

    #[tokio::test(start_paused = true)]
    #[should_panic(expected = "assert_eventually: the count reaches 100: still not true after 1s")]
    async fn fails_at_the_deadline_showing_the_last_value() {
        let mut count = 0;
        assert_eventually(
            "the count reaches 100",
            Duration::from_secs(1),
            async || {
                count += 1;
                count
            },
            |c| *c >= 100,
        )
        .await;
    }

    #[tokio::test(start_paused = true)]
    async fn the_failure_message_shows_the_last_observed_value() {
        let failed = tokio::spawn(assert_eventually(
            "a value that never comes",
            Duration::from_secs(2),
            async || Some("stale"),
            Option::is_none,
        ))
        .await
        .expect_err("the assertion fails");
        let message = failed.into_panic();
        let message = message.downcast_ref::<String>().expect("a formatted panic message");
        assert!(message.ends_with("last observed: Some(\"stale\")"), "{message}");
    }
}
