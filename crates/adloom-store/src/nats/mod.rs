//! The event bus in NATS JetStream (`--bus nats://...`): see
//! [`crate::bus`] for what crosses it and when a sender is answered.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use adloom_core::event::TrackedEvent;
use async_nats::jetstream::{self, consumer, stream};
use futures_util::StreamExt;

use crate::bus::{Applier, BeaconHit, Durability, EventBus, MessageBus, SettingChanged};
use crate::{EventOutcome, Store, StoreError};

/// How long the settings stream keeps a change.
const SETTINGS_KEPT: Duration = Duration::from_secs(30 * 86_400);

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
    StoreError::internal(format!("event bus: {what}: {e}"))
}

/// Events on NATS JetStream.
#[derive(Clone)]
pub struct NatsBus {
    jetstream: jetstream::Context,
    stream: String,
    subject: String,
    beacons_subject: String,
    settings_stream: String,
    settings_subject: String,
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
        let beacons_subject = format!("{name}.beacons");
        jetstream
            .get_or_create_stream(stream::Config {
                name: name.to_owned(),
                subjects: vec![subject.clone(), beacons_subject.clone()],
                storage: stream::StorageType::File,
                retention: stream::RetentionPolicy::WorkQueue,
                ..Default::default()
            })
            .await
            .map_err(|e| failed("cannot open the stream", e))?;
        // Settings are for every node, not applied once: a stream of their
        // own, kept for a while, that each node reads from its start.
        let settings_stream = format!("{name}_SETTINGS");
        let settings_subject = format!("{name}.settings");
        jetstream
            .get_or_create_stream(stream::Config {
                name: settings_stream.clone(),
                subjects: vec![settings_subject.clone()],
                storage: stream::StorageType::File,
                retention: stream::RetentionPolicy::Limits,
                max_age: SETTINGS_KEPT,
                ..Default::default()
            })
            .await
            .map_err(|e| failed("cannot open the settings stream", e))?;
        Ok(NatsBus {
            jetstream,
            stream: name.to_owned(),
            subject,
            beacons_subject,
            settings_stream,
            settings_subject,
            max_message,
        })
    }

    /// Hands every settings change from now on to `applier`. (A node reads
    /// everyone's settings from the store when it starts, so it needs no
    /// older ones.)
    async fn follow_settings(&self, applier: &dyn Applier) -> Result<(), StoreError> {
        let stream = self
            .jetstream
            .get_stream(&self.settings_stream)
            .await
            .map_err(|e| failed("cannot open the settings stream", e))?;
        let follower = stream
            .create_consumer(consumer::pull::OrderedConfig {
                deliver_policy: consumer::DeliverPolicy::New,
                filter_subject: self.settings_subject.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| failed("cannot follow the settings stream", e))?;
        let mut changes = follower
            .messages()
            .await
            .map_err(|e| failed("cannot follow the settings stream", e))?;
        while let Some(message) = changes.next().await {
            let message = message.map_err(|e| failed("cannot follow the settings stream", e))?;
            match serde_json::from_slice::<SettingChanged>(&message.payload) {
                Ok(change) => applier.setting_changed(change).await,
                Err(e) => {
                    tracing::error!(error = %e, "event bus: a settings change not understood")
                }
            }
        }
        Ok(())
    }

    /// Publishes one message and waits for JetStream to hold it.
    async fn publish_one<T: serde::Serialize>(
        &self,
        subject: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        let message = serde_json::to_vec(value).map_err(|e| failed("cannot encode", e))?;
        self.jetstream
            .publish(subject.to_owned(), message.into())
            .await
            .map_err(|e| failed("cannot publish", e))?
            .await
            .map_err(|e| failed("not acknowledged", e))?;
        Ok(())
    }

    async fn apply(&self, store: &dyn Store, applier: &dyn Applier) -> Result<(), StoreError> {
        let stream = self
            .jetstream
            .get_stream(&self.stream)
            .await
            .map_err(|e| failed("cannot open the stream", e))?;
        let pulled: consumer::PullConsumer = stream
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
            let mut batch = pulled
                .fetch()
                .max_messages(BATCH)
                .expires(Duration::from_secs(1))
                .messages()
                .await
                .map_err(|e| failed("cannot pull", e))?;
            let mut messages = Vec::new();
            let mut events = Vec::new();
            let mut beacons = Vec::new();
            while let Some(message) = batch.next().await {
                let message = message.map_err(|e| failed("cannot pull", e))?;
                let decoded = if message.subject.as_str() == self.beacons_subject {
                    serde_json::from_slice(&message.payload).map(|b| beacons.push(b))
                } else {
                    serde_json::from_slice::<Vec<TrackedEvent>>(&message.payload)
                        .map(|e| events.extend(e))
                };
                if let Err(e) = decoded {
                    // Nothing this version wrote; it would never apply.
                    tracing::error!(error = %e, subject = %message.subject, "event bus: a message not understood, dropped");
                }
                messages.push(message);
            }
            if messages.is_empty() {
                continue;
            }
            // Nothing is acknowledged on failure: the messages come again.
            let accounts: BTreeSet<String> =
                events.iter().map(|e| e.ad_account_id.clone()).collect();
            if !events.is_empty() {
                store.record_events(events).await?;
            }
            for hit in beacons {
                applier.apply_beacon(hit).await?;
            }
            for message in &messages {
                message
                    .ack()
                    .await
                    .map_err(|e| failed("cannot acknowledge", e))?;
            }
            applier.events_applied(&accounts);
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
    /// JetStream's acknowledgement is the one durability it offers.
    async fn publish(
        &self,
        events: Vec<TrackedEvent>,
        _: Durability,
    ) -> Result<Vec<EventOutcome>, StoreError> {
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

#[async_trait::async_trait]
impl MessageBus for NatsBus {
    /// Counts a beacon once JetStream holds it.
    async fn publish_beacon(&self, hit: &BeaconHit) -> Result<(), StoreError> {
        self.publish_one(&self.beacons_subject, hit).await
    }

    /// Publishes a committed settings change, once JetStream holds it.
    async fn publish_setting(&self, change: &SettingChanged) -> Result<(), StoreError> {
        self.publish_one(&self.settings_subject, change).await
    }

    /// Starts this node's share of applying what is on the stream: events
    /// to `store`, beacons through `applier`. Runs as long as the process,
    /// and starts over after any failure.
    fn start_applying(&self, store: Arc<dyn Store>, applier: Arc<dyn Applier>) {
        let bus = self.clone();
        let settings_applier = Arc::clone(&applier);
        tokio::spawn(async move {
            loop {
                if let Err(e) = bus.apply(store.as_ref(), applier.as_ref()).await {
                    tracing::warn!(error = ?e, "event bus: applying stopped; starting again");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        });
        let bus = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = bus.follow_settings(settings_applier.as_ref()).await {
                    tracing::warn!(error = ?e, "event bus: following settings stopped; starting again");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        });
    }
}
