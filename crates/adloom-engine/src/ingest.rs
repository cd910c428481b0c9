//! Group commit for partner events: every request's events go through one
//! writer task, which folds whatever is waiting into a single transaction.
//!
//! Conversions-API events ([`Durability::Synced`]) are answered only after
//! their transaction is durable, so an acknowledged event survives a crash
//! and a power loss, while thousands of requests a second share one fsync.
//! Tag pixels ([`Durability::Written`]) are answered once their commit is
//! in the store's log, where a killed process cannot lose it; the writer
//! flushes such commits to disk within [`SYNC_INTERVAL`] (sooner, when a
//! durable commit comes first), so a power loss may take that much.

use std::sync::Arc;

use adloom_core::event::TrackedEvent;
use adloom_store::bus::{Durability, SYNC_INTERVAL};
use adloom_store::{EventOutcome, Store, StoreError};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::metrics::Metrics;

/// Most events folded into one transaction.
const MAX_EVENTS_PER_COMMIT: usize = 10_000;
/// Requests that may wait for the writer before callers queue up.
const QUEUE: usize = 4_096;

type Reply = oneshot::Sender<Result<Vec<EventOutcome>, String>>;

struct Job {
    events: Vec<TrackedEvent>,
    durability: Durability,
    reply: Reply,
}

/// The handle the engine records events through; cheap to clone.
#[derive(Clone)]
pub struct EventSink {
    jobs: mpsc::Sender<Job>,
}

impl EventSink {
    /// Starts the writer task on the current tokio runtime.
    pub fn start(store: Arc<dyn Store>, metrics: Arc<Metrics>) -> EventSink {
        let (jobs, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write_loop(store, metrics, rx));
        EventSink { jobs }
    }

    /// Records events as far as `durability` asks; the outcomes are in the
    /// same order.
    pub async fn record(
        &self,
        events: Vec<TrackedEvent>,
        durability: Durability,
    ) -> Result<Vec<EventOutcome>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job {
                events,
                durability,
                reply,
            })
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
    async fn publish(
        &self,
        events: Vec<TrackedEvent>,
        durability: Durability,
    ) -> Result<Vec<EventOutcome>, StoreError> {
        self.record(events, durability).await
    }
}

async fn write_loop(store: Arc<dyn Store>, metrics: Arc<Metrics>, mut rx: mpsc::Receiver<Job>) {
    // When the oldest commit not yet on disk must be flushed.
    let mut flush_by: Option<Instant> = None;
    loop {
        let first = match flush_by {
            None => match rx.recv().await {
                Some(job) => job,
                None => break,
            },
            Some(deadline) => tokio::select! {
                job = rx.recv() => match job {
                    Some(job) => job,
                    None => break,
                },
                () = tokio::time::sleep_until(deadline) => {
                    flush_by = match store.sync().await {
                        Ok(()) => None,
                        // Logged by the store; tried again shortly.
                        Err(_) => Some(Instant::now() + SYNC_INTERVAL),
                    };
                    continue;
                }
            },
        };
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
        // One durable job makes the whole group's commit durable, and with
        // it every relaxed commit before it (one log, flushed in order).
        let synced = jobs.iter().any(|j| j.durability == Durability::Synced);
        let mut all = Vec::with_capacity(count);
        let mut sizes = Vec::with_capacity(jobs.len());
        let mut replies = Vec::with_capacity(jobs.len());
        for job in jobs {
            sizes.push(job.events.len());
            all.extend(job.events);
            replies.push(job.reply);
        }
        let recorded = if synced {
            store.record_events(all).await
        } else {
            store.record_events_unsynced(all).await
        };
        match recorded {
            Ok(outcomes) => {
                metrics.event_commit(synced, outcomes.len());
                if synced {
                    flush_by = None;
                } else if flush_by.is_none() {
                    flush_by = Some(Instant::now() + SYNC_INTERVAL);
                }
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
    // The service is stopping: flush what is still only written.
    if flush_by.is_some() {
        let _ = store.sync().await;
    }
}
