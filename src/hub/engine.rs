//! The hub's background work, a tick twice a second: agents not heard from for
//! `--lost-after` become lost (and their given jobs with them), and every running
//! deployment's strategy is applied. Each replica ticks; what a tick changes is guarded
//! in the store, so two replicas ticking at once agree.

use std::time::Duration;

use crate::hub::store::{Store, now_ms};

pub const TICK: Duration = Duration::from_millis(500);

/// One tick. `started_ms`: when this hub started; nobody is lost before the hub has been
/// up for `lost_after` (agents cannot poll a hub that was down).
pub async fn tick(store: &Store, lost_after: Duration, started_ms: i64) {
    let now = now_ms();
    let lost_ms = lost_after.as_millis() as i64;
    if now - started_ms >= lost_ms {
        let why = format!("the agent was not heard from for {}", human(lost_after));
        if let Err(e) = store.mark_lost(now - lost_ms, now, &why).await {
            tracing::warn!("marking lost agents failed: {e:?}");
        }
    }
    match store.running_deployments().await {
        Ok(ids) => {
            for id in ids {
                if let Err(e) = store.advance(id, now).await {
                    tracing::warn!("advancing deployment {id} failed: {e:?}");
                }
            }
        }
        Err(e) => tracing::warn!("reading the running deployments failed: {e:?}"),
    }
}

/// Ticks until the hub stops.
pub async fn run(store: Store, lost_after: Duration, started_ms: i64) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        tick(&store, lost_after, started_ms).await;
    }
}

/// `30s`, `2m`, `1m30s`, `1500ms`.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    match (s / 60, s % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}
