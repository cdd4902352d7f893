//! The strategies, pure: from a running deployment's jobs (in their turn order) to what
//! happens next: which jobs are queued (their turn came), which are cancelled, and
//! whether the deployment ended. The engine applies it; nothing here reads or writes.

use crate::hub::api::{DeploymentState, JobState, Strategy};

/// One job as the strategy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Turn {
    pub id: i64,
    pub state: JobState,
}

/// What to do next.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Next {
    /// Pending jobs whose turn came.
    pub queue: Vec<i64>,
    /// Pending or queued jobs that will never run.
    pub cancel: Vec<i64>,
    /// The deployment ended so.
    pub finish: Option<DeploymentState>,
}

/// Whether a job ended in a way that counts against the rollout.
pub fn is_failure(state: JobState) -> bool {
    matches!(
        state,
        JobState::Failed | JobState::Interrupted | JobState::Lost
    )
}

fn is_active(state: JobState) -> bool {
    matches!(state, JobState::Queued | JobState::Running)
}

/// The next actions for a running deployment whose jobs are `jobs`, in turn order.
pub fn next(strategy: &Strategy, jobs: &[Turn]) -> Next {
    let failures = jobs.iter().filter(|j| is_failure(j.state)).count();
    let active = jobs.iter().filter(|j| is_active(j.state)).count();
    let running = jobs.iter().filter(|j| j.state == JobState::Running).count();
    let pending: Vec<i64> = jobs
        .iter()
        .filter(|j| j.state == JobState::Pending)
        .map(|j| j.id)
        .collect();
    let ended = |next: &mut Next| {
        next.finish = Some(if failures == 0 {
            DeploymentState::Succeeded
        } else {
            DeploymentState::Failed
        });
    };
    // Stopping: every job not started is cancelled; the deployment fails once no job runs.
    let stop = |next: &mut Next| {
        next.cancel = jobs
            .iter()
            .filter(|j| matches!(j.state, JobState::Pending | JobState::Queued))
            .map(|j| j.id)
            .collect();
        if running == 0 {
            next.finish = Some(DeploymentState::Failed);
        }
    };
    let mut next = Next::default();
    match strategy {
        Strategy::AllAtOnce => {
            next.queue = pending;
            if active == 0 && next.queue.is_empty() {
                ended(&mut next);
            }
        }
        Strategy::Ordered { .. } => {
            if failures > 0 {
                stop(&mut next);
            } else if active == 0 {
                match pending.first() {
                    Some(id) => next.queue.push(*id),
                    None => ended(&mut next),
                }
            }
        }
        Strategy::Rolling {
            batch_size,
            max_failures,
        } => {
            if failures > *max_failures as usize {
                stop(&mut next);
            } else if active == 0 {
                if pending.is_empty() {
                    ended(&mut next);
                } else {
                    next.queue = pending
                        .into_iter()
                        .take((*batch_size).max(1) as usize)
                        .collect();
                }
            }
        }
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use JobState::*;

    fn turns(states: &[JobState]) -> Vec<Turn> {
        states
            .iter()
            .enumerate()
            .map(|(i, s)| Turn {
                id: i as i64 + 1,
                state: *s,
            })
            .collect()
    }

    #[test]
    fn all_at_once() {
        let s = Strategy::AllAtOnce;
        assert_eq!(next(&s, &turns(&[Pending, Pending])).queue, vec![1, 2]);
        assert_eq!(next(&s, &turns(&[Running, Failed])), Next::default());
        assert_eq!(
            next(&s, &turns(&[Succeeded, Failed])).finish,
            Some(DeploymentState::Failed)
        );
        assert_eq!(
            next(&s, &turns(&[Succeeded, Succeeded])).finish,
            Some(DeploymentState::Succeeded)
        );
    }

    #[test]
    fn ordered_stops_at_the_first_failure() {
        let s = Strategy::Ordered { order: vec![] };
        assert_eq!(next(&s, &turns(&[Pending, Pending])).queue, vec![1]);
        assert_eq!(next(&s, &turns(&[Running, Pending])), Next::default());
        assert_eq!(next(&s, &turns(&[Succeeded, Pending])).queue, vec![2]);
        let n = next(&s, &turns(&[Succeeded, Lost, Pending]));
        assert_eq!(n.cancel, vec![3]);
        assert_eq!(n.finish, Some(DeploymentState::Failed));
        assert_eq!(
            next(&s, &turns(&[Succeeded, Succeeded])).finish,
            Some(DeploymentState::Succeeded)
        );
    }

    #[test]
    fn rolling_batches_and_threshold() {
        let s = Strategy::Rolling {
            batch_size: 2,
            max_failures: 1,
        };
        assert_eq!(
            next(&s, &turns(&[Pending, Pending, Pending])).queue,
            vec![1, 2]
        );
        assert_eq!(
            next(&s, &turns(&[Succeeded, Running, Pending])),
            Next::default()
        );
        assert_eq!(
            next(&s, &turns(&[Succeeded, Failed, Pending])).queue,
            vec![3]
        );
        let n = next(&s, &turns(&[Failed, Failed, Pending, Running]));
        assert_eq!(n.cancel, vec![3]);
        assert_eq!(n.finish, None, "a running job ends first");
        assert_eq!(
            next(&s, &turns(&[Succeeded, Failed, Succeeded])).finish,
            Some(DeploymentState::Failed)
        );
    }
}
