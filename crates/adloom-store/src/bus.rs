//! The event bus: tag pixels and conversion events pass through it on their
//! way to the store, and the sender is answered once the bus holds them
//! durably.
//!
//! - Embedded (the default): in process, the service's group commit
//!   (`adloom_http::ingest::EventSink`) writes them to the store itself,
//!   many requests to one transaction.
//! - `--bus nats://...`: a NATS JetStream stream. A request's events are
//!   published as one message (a few, when they are large) and answered
//!   after JetStream's acknowledgement. Every node pulls from one durable
//!   consumer and applies what it pulls to the store in batches, then
//!   acknowledges. A message whose node died before acknowledging it comes
//!   again, to any node; the store keeps an event id once, so each event
//!   counts once in effect.
//!
//! Events cross the bus as stored: match keys already hashed, and nothing
//! an opted-out event may not keep.

use std::time::Duration;

use std::collections::BTreeSet;
use std::sync::Arc;

use adloom_core::event::TrackedEvent;
use async_nats::jetstream::{self, consumer, stream};
use futures_util::StreamExt;

use crate::{EventOutcome, Store, StoreError};

/// Where events go on their way to the store.
#[async_trait::async_trait]
pub trait EventBus: Send + Sync {
    /// Takes the events durably; the outcomes are in their order. A bus
    /// that applies them later says `Recorded` without a person: duplicates
    /// are then found, and counted once, when they are applied.
    async fn publish(&self, events: Vec<TrackedEvent>) -> Result<Vec<EventOutcome>, StoreError>;
}

/// The durable consumer every node pulls from.
const APPLIER: &str = "apply";
/// Messages one node applies in one transaction, at most.
const BATCH: usize = 1_000;
/// Messages pulled and not yet acknowledged, over all nodes: room for
/// every node's batch.
const MAX_ACK_PENDING: i64 = 50_000;
/// A message not acknowledged in this time goes to another node.
const ACK_WAIT: Duration = Duration::from_secs(5);

fn failed(what: &str, e: impl std::fmt::Display) -> StoreError {
    tracing::error!(error = %e, "event bus: {what}");
    StoreError::Internal(format!("event bus: {what}: {e}"))
}

/// Events on NATS JetStream.
#[derive(Clone)]
pub struct NatsBus {
    jetstream: jetstream::Context,
    stream: String,
    subject: String,
    /// Bytes per message, under the server's limit.
    max_message: usize,
}

impl NatsBus {
    /// Connects and makes sure of the stream `name` (file storage; a
    /// message leaves it once applied).
    pub async fn connect(url: &str, name: &str) -> Result<NatsBus, StoreError> {
        let client = async_nats::connect(url)
            .await
            .map_err(|e| failed("cannot connect", e))?;
        let max_message = (client.server_info().max_payload / 2).max(4096);
        let jetstream = jetstream::new(client);
        let subject = format!("{name}.events");
        jetstream
            .get_or_create_stream(stream::Config {
                name: name.to_owned(),
                subjects: vec![subject.clone()],
                storage: stream::StorageType::File,
                retention: stream::RetentionPolicy::WorkQueue,
                ..Default::default()
            })
            .await
            .map_err(|e| failed("cannot open the stream", e))?;
        Ok(NatsBus {
            jetstream,
            stream: name.to_owned(),
            subject,
            max_message,
        })
    }

    /// Starts this node's share of applying what is on the stream to
    /// `store`; `applied` hears the ad accounts of each batch applied. Runs
    /// as long as the process, and starts over after any failure.
    pub fn start_applying<F>(&self, store: Arc<dyn Store>, applied: F)
    where
        F: Fn(&BTreeSet<String>) + Send + Sync + 'static,
    {
        let bus = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = bus.apply(store.as_ref(), &applied).await {
                    tracing::warn!(error = ?e, "event bus: applying stopped; starting again");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        });
    }

    async fn apply(
        &self,
        store: &dyn Store,
        applied: &(dyn Fn(&BTreeSet<String>) + Send + Sync),
    ) -> Result<(), StoreError> {
        let stream = self
            .jetstream
            .get_stream(&self.stream)
            .await
            .map_err(|e| failed("cannot open the stream", e))?;
        let applier: consumer::PullConsumer = stream
            .get_or_create_consumer(
                APPLIER,
                consumer::pull::Config {
                    durable_name: Some(APPLIER.to_owned()),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait: ACK_WAIT,
                    max_ack_pending: MAX_ACK_PENDING,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| failed("cannot open the consumer", e))?;
        loop {
            let mut batch = applier
                .fetch()
                .max_messages(BATCH)
                .expires(Duration::from_secs(1))
                .messages()
                .await
                .map_err(|e| failed("cannot pull", e))?;
            let mut messages = Vec::new();
            let mut events = Vec::new();
            while let Some(message) = batch.next().await {
                let message = message.map_err(|e| failed("cannot pull", e))?;
                match serde_json::from_slice::<Vec<TrackedEvent>>(&message.payload) {
                    Ok(decoded) => events.extend(decoded),
                    // Nothing this version wrote; it would never apply.
                    Err(e) => {
                        tracing::error!(error = %e, "event bus: a message that is not events, dropped")
                    }
                }
                messages.push(message);
            }
            if messages.is_empty() {
                continue;
            }
            let accounts: BTreeSet<String> =
                events.iter().map(|e| e.ad_account_id.clone()).collect();
            if !events.is_empty() {
                // Not acknowledged on failure: the messages come again.
                store.record_events(events).await?;
            }
            for message in &messages {
                message
                    .ack()
                    .await
                    .map_err(|e| failed("cannot acknowledge", e))?;
            }
            applied(&accounts);
        }
    }

    /// The events in messages of at most `max_message` bytes.
    fn messages(&self, events: &[TrackedEvent]) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut out = Vec::new();
        let mut start = 0;
        while start < events.len() {
            let mut end = events.len();
            loop {
                let bytes = serde_json::to_vec(&events[start..end])
                    .map_err(|e| failed("cannot encode", e))?;
                if bytes.len() <= self.max_message || end == start + 1 {
                    out.push(bytes);
                    break;
                }
                end = start + (end - start).div_ceil(2);
            }
            start = end;
        }
        Ok(out)
    }
}

#[async_trait::async_trait]
impl EventBus for NatsBus {
    async fn publish(&self, events: Vec<TrackedEvent>) -> Result<Vec<EventOutcome>, StoreError> {
        let mut acks = Vec::new();
        for message in self.messages(&events)? {
            acks.push(
                self.jetstream
                    .publish(self.subject.clone(), message.into())
                    .await
                    .map_err(|e| failed("cannot publish", e))?,
            );
        }
        for ack in acks {
            ack.await.map_err(|e| failed("not acknowledged", e))?;
        }
        Ok(vec![EventOutcome::Recorded { user_id: None }; events.len()])
    }
}
