//! Group commit for partner events: every request's events go through one
//! writer task, which folds whatever is waiting into a single transaction.
//! Each caller is answered only after that transaction is durable, so an
//! acknowledged event survives a crash, while thousands of pixels a second
//! share one fsync instead of paying one each.

use std::sync::Arc;

use adloom_core::event::TrackedEvent;
use adloom_store::{EventOutcome, Store, StoreError};
use tokio::sync::{mpsc, oneshot};

/// Most events folded into one transaction.
const MAX_EVENTS_PER_COMMIT: usize = 10_000;
/// Requests that may wait for the writer before callers queue up.
const QUEUE: usize = 4_096;

type Reply = oneshot::Sender<Result<Vec<EventOutcome>, String>>;

struct Job {
    events: Vec<TrackedEvent>,
    reply: Reply,
}

/// The handle the engine records events through; cheap to clone.
#[derive(Clone)]
pub struct EventSink {
    jobs: mpsc::Sender<Job>,
}

impl EventSink {
    /// Starts the writer task on the current tokio runtime.
    pub fn start(store: Arc<dyn Store>) -> EventSink {
        let (jobs, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write_loop(store, rx));
        EventSink { jobs }
    }

    /// Records events durably; the outcomes are in the same order.
    pub async fn record(&self, events: Vec<TrackedEvent>) -> Result<Vec<EventOutcome>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { events, reply })
            .await
            .map_err(|_| StoreError::internal("the event writer stopped"))?;
        answer
            .await
            .map_err(|_| StoreError::internal("the event writer stopped"))?
            .map_err(StoreError::internal)
    }
}

/// The embedded bus: events are in the store when it answers.
#[async_trait::async_trait]
impl adloom_store::bus::EventBus for EventSink {
    async fn publish(&self, events: Vec<TrackedEvent>) -> Result<Vec<EventOutcome>, StoreError> {
        self.record(events).await
    }
}

async fn write_loop(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        let mut count = jobs[0].events.len();
        while count < MAX_EVENTS_PER_COMMIT {
            match rx.try_recv() {
                Ok(job) => {
                    count += job.events.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let mut all = Vec::with_capacity(count);
        let mut sizes = Vec::with_capacity(jobs.len());
        let mut replies = Vec::with_capacity(jobs.len());
        for job in jobs {
            sizes.push(job.events.len());
            all.extend(job.events);
            replies.push(job.reply);
        }
        match store.record_events(all).await {
            Ok(outcomes) => {
                let mut outcomes = outcomes.into_iter();
                for (size, reply) in sizes.into_iter().zip(replies) {
                    let _ = reply.send(Ok(outcomes.by_ref().take(size).collect()));
                }
            }
            Err(e) => {
                // The store logged the cause; every caller in the group hears
                // of the failure and none of their events was kept.
                let message = e.to_string();
                for reply in replies {
                    let _ = reply.send(Err(message.clone()));
                }
            }
        }
    }
}
