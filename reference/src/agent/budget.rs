//! The run's clock and escalation state (CONTRACT §2): the `max_total_seconds` deadline and which
//! model the next call goes to. The budget stop itself is the loop's ([`super::run_loop`]).

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::api::RunSpec;

#[derive(Debug, Clone)]
pub(crate) struct Budget {
    deadline: Option<Instant>,
    /// A model call has used the escalation model.
    pub escalated: bool,
    /// The next call goes to the escalation model (the model reported its budget exceeded).
    pub escalate_next: bool,
}

impl Budget {
    pub(crate) fn new(spec: &RunSpec, started: Instant) -> Self {
        let deadline = spec
            .max_total_seconds
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .and_then(|d| started.checked_add(d));
        Self { deadline, escalated: false, escalate_next: false }
    }

    pub(crate) fn over(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// The model of the next call: the escalation model once escalation has begun (and from then
    /// on), the request's model before.
    pub(crate) fn next_model(&mut self, spec: &RunSpec) -> String {
        match &spec.escalation {
            Some(e) if self.escalated || self.escalate_next => {
                self.escalated = true;
                e.model.clone()
            }
            _ => spec.model.clone(),
        }
    }

    /// `call`, unless the deadline passes first (then `None`: a budget stop).
    pub(crate) async fn bounded<T>(&self, call: impl Future<Output = T>) -> Option<T> {
        match self.deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, call).await.ok(),
            None => Some(call.await),
        }
    }
}
