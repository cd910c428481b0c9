//! Who is in an audience, and why. Membership is computed from the stored
//! lists and events whenever it is asked for, so it follows new events at
//! once and drops people as their events age past the retention window.
//! Partner audiences pass through the consent policy: a person whose
//! partner targeting is off is in none of them (invariant 1).

use std::collections::{BTreeMap, BTreeSet};

use adloom_core::audience::{parse_rule, size_noise, Audience, AudienceRule, ReportedSize};
use adloom_core::consent;
use adloom_core::consent::Provenance;
use adloom_core::disclosure;
use adloom_core::engagement::EngagementKind;
use adloom_core::event::EventSource;
use adloom_store::{StoredAudience, StoredEvent};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::Engine;
use crate::EngineError;

const DAY: i64 = 24 * 3600;

/// Why a person is in an audience.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    /// A record of this customer list matched them.
    ListMatch { customer_list_id: String },
    /// This tag event of theirs qualified.
    TagEvent {
        tag_id: String,
        event_id: String,
        event: String,
        time: i64,
    },
    /// This conversions API event of theirs qualified.
    ConversionEvent {
        event_id: String,
        event: String,
        time: i64,
    },
    /// They saw or clicked this ad.
    Engagement {
        ad_id: String,
        engagement: String,
        time: i64,
    },
}

/// Turns a stored audience back into the core's type.
pub fn audience_of(stored: &StoredAudience) -> Result<Audience, EngineError> {
    let text = |k: &str| {
        stored
            .record
            .get(k)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let audience_type = text("audience_type").unwrap_or_default();
    let rule = parse_rule(
        &audience_type,
        stored
            .record
            .get("rule")
            .unwrap_or(&serde_json::Value::Null),
    )
    .map_err(|e| {
        tracing::error!(audience = %stored.id, error = %e, "a stored audience no longer parses");
        EngineError::Internal("a stored audience no longer parses")
    })?;
    Ok(Audience {
        id: stored.id.clone(),
        ad_account_id: stored.ad_account_id.clone(),
        name: text("name").unwrap_or_default(),
        description: text("description"),
        rule,
        created_time: stored.created_time,
        updated_time: stored.updated_time,
    })
}

/// The audience's members now, each with the evidence that put them in,
/// as the consent policy lets them count.
pub async fn members(
    engine: &Engine,
    audience: &Audience,
) -> Result<BTreeMap<String, Evidence>, EngineError> {
    let mut members = data_members(engine, audience).await?;
    let allowed = consented(
        engine,
        audience.provenance(),
        members.keys().cloned().collect(),
    )
    .await?;
    members.retain(|user, _| allowed.contains(user));
    Ok(members)
}

/// Those of `users` whom the consent policy lets data of `provenance`
/// count for: all of them for on-platform data.
pub async fn consented(
    engine: &Engine,
    provenance: Provenance,
    users: Vec<String>,
) -> Result<BTreeSet<String>, EngineError> {
    if !provenance.needs_consent() {
        return Ok(users.into_iter().collect());
    }
    people_where(engine, users, |person| person.allows_audience(provenance)).await
}

/// Of these people, those whose partner data may count in what an
/// advertiser sees (`disclosure::partner_data_counts`).
pub async fn partner_data_allowed(
    engine: &Engine,
    users: Vec<String>,
) -> Result<BTreeSet<String>, EngineError> {
    people_where(engine, users, disclosure::partner_data_counts).await
}

/// Those of `users` whose person-level consent decision (their setting,
/// their region's default and their last known consent strings) passes
/// `keep`.
async fn people_where(
    engine: &Engine,
    users: Vec<String>,
    keep: impl Fn(&consent::ConsentDecision) -> bool,
) -> Result<BTreeSet<String>, EngineError> {
    if users.is_empty() {
        return Ok(BTreeSet::new());
    }
    let facts = engine.store.consent_facts(users).await?;
    Ok(facts
        .into_iter()
        .filter(|f| {
            keep(&consent::for_person(
                f.use_partner_info,
                f.country,
                consent::strings::read_last_known(f.regs.as_ref(), &engine.config.tcf),
                &engine.config.region_defaults,
            ))
        })
        .map(|f| f.user_id)
        .collect())
}

/// The user ids of [`data_members`], without the evidence for each: what
/// the serving state reads of every audience at start-up (a million
/// members, whose evidence was a string and a tree node each). Lists'
/// members come sorted and once each; others in no particular order.
pub async fn data_member_ids(
    engine: &Engine,
    audience: &Audience,
) -> Result<Vec<String>, EngineError> {
    match &audience.rule {
        AudienceRule::CustomerList { customer_list_id } => {
            list_members(engine, audience, customer_list_id).await
        }
        AudienceRule::Visitor(_) | AudienceRule::Engagement(_) => {
            Ok(data_members(engine, audience).await?.into_keys().collect())
        }
    }
}

/// The people a customer list matched, when the list is the audience's
/// account's own.
async fn list_members(
    engine: &Engine,
    audience: &Audience,
    customer_list_id: &str,
) -> Result<Vec<String>, EngineError> {
    let belongs = engine
        .store
        .get_customer_list(customer_list_id)
        .await?
        .is_some_and(|l| l.ad_account_id == audience.ad_account_id);
    if !belongs {
        return Ok(Vec::new());
    }
    Ok(engine.store.customer_list_members(customer_list_id).await?)
}

/// Everyone the audience's data names, before the consent policy: what the
/// serving state keeps, so that consent is applied per decision and a
/// change of setting counts at once.
pub async fn data_members(
    engine: &Engine,
    audience: &Audience,
) -> Result<BTreeMap<String, Evidence>, EngineError> {
    let now = engine.clock.now();
    let mut members = BTreeMap::new();
    match &audience.rule {
        AudienceRule::CustomerList { customer_list_id } => {
            for user in list_members(engine, audience, customer_list_id).await? {
                let evidence = Evidence::ListMatch {
                    customer_list_id: customer_list_id.clone(),
                };
                members.insert(user, evidence);
            }
        }
        AudienceRule::Visitor(rule) => {
            engine.pixels_applied().await;
            let since = now - i64::from(rule.retention_days) * DAY;
            for stored in engine
                .store
                .resolved_events(&audience.ad_account_id, since, i64::MAX)
                .await?
            {
                let (Some(user), e) = (stored.user_id, stored.event) else {
                    continue;
                };
                if !rule.qualifies(&e, audience.created_time, now) {
                    continue;
                }
                // Events come oldest first: the latest one is the evidence.
                let evidence = match e.source {
                    EventSource::Tag(tag_id) => Evidence::TagEvent {
                        tag_id,
                        event_id: e.event_id,
                        event: e.name.as_str().to_owned(),
                        time: e.time,
                    },
                    EventSource::Api => Evidence::ConversionEvent {
                        event_id: e.event_id,
                        event: e.name.as_str().to_owned(),
                        time: e.time,
                    },
                };
                members.insert(user, evidence);
            }
        }
        // People who saw or clicked this account's ads (the serving loop's
        // beacons): on-platform data.
        AudienceRule::Engagement(rule) => {
            let since = now - i64::from(rule.retention_days) * DAY;
            let clicks_only = rule.engagement_type.as_deref() == Some("click");
            for e in engine
                .store
                .engagements(&audience.ad_account_id, since, now + 1)
                .await?
            {
                if clicks_only && e.kind != EngagementKind::Click {
                    continue;
                }
                if let Some(user) = e.user_id {
                    let evidence = Evidence::Engagement {
                        ad_id: e.ad_id,
                        engagement: e.kind.as_str().to_owned(),
                        time: e.time,
                    };
                    members.insert(user, evidence);
                }
            }
        }
    }
    Ok(members)
}

/// The number of the current period of audience sizes.
pub fn size_period(engine: &Engine) -> i64 {
    let period_secs = engine.config.audience_size_period.as_secs().max(1) as i64;
    engine.clock.now().div_euclid(period_secs)
}

/// Each audience's and list's reported size in the current period: the
/// first answer of a period holds until it ends, whatever the count does
/// meanwhile, so that asking again never draws new noise.
#[derive(Default)]
pub struct ReportedSizes(std::sync::Mutex<std::collections::HashMap<String, (i64, ReportedSize)>>);

/// The size an advertiser may see for `count` members of the audience or
/// list `id` (invariant 5): noisy, and held for the period.
pub async fn reported(
    engine: &Engine,
    id: &str,
    count: usize,
) -> Result<ReportedSize, EngineError> {
    let period = size_period(engine);
    if let Some(&(held, size)) = adloom_core::sync::lock(&engine.reported_sizes.0).get(id) {
        if held == period {
            return Ok(size);
        }
    }
    let noise = period_noise(engine, "audience-size", id, period).await?;
    let drawn = disclosure::audience_size(count as u64, noise);
    // Nodes sharing a store hold one answer between them.
    let drawn = engine.store.hold_reported_size(id, period, drawn).await?;
    let mut sizes = adloom_core::sync::lock(&engine.reported_sizes.0);
    // Another request may have answered first this period: its answer holds.
    let entry = sizes.entry(id.to_owned()).or_insert((period, drawn));
    if entry.0 != period {
        *entry = (period, drawn);
    }
    Ok(entry.1)
}

/// A tag's health as its advertiser may see it (the disclosure policy),
/// over `events`, that tag's window: a match rate only over 100 events or
/// more, counting only people whose partner data may be used, with noise
/// seeded per tag and period so that asking again draws nothing new.
pub async fn tag_health(
    engine: &Engine,
    tag_id: &str,
    events: &[&StoredEvent],
) -> Result<disclosure::TagHealth, EngineError> {
    let people = events.iter().filter_map(|e| e.user_id.clone()).collect();
    let counted = partner_data_allowed(engine, people).await?;
    let facts: Vec<disclosure::TagEvent> = events
        .iter()
        .map(|e| disclosure::TagEvent {
            time: e.event.time,
            matched: e.user_id.as_ref().is_some_and(|u| counted.contains(u)),
        })
        .collect();
    let noise = period_noise(engine, "match-rate", tag_id, size_period(engine)).await?;
    Ok(disclosure::tag_health(&facts, engine.clock.now(), noise))
}

/// The noise of one figure (`purpose`, about `id`) for one period: seeded
/// by a secret, so that it cannot be computed outside, and by the period,
/// so that each period draws afresh and asking again draws nothing new.
pub(crate) async fn period_noise(
    engine: &Engine,
    purpose: &str,
    id: &str,
    period: i64,
) -> Result<i64, EngineError> {
    let key = engine.key(purpose).await?;
    let seed = Sha256::new()
        .chain_update(&key)
        .chain_update([0])
        .chain_update(id.as_bytes())
        .chain_update(period.to_le_bytes())
        .finalize();
    Ok(size_noise(&seed))
}
