//! The reach estimate Ads Manager shows while an advertiser edits an ad
//! group's targeting: how many of the platform's people it reaches now.
//! It goes through the disclosure policy like an audience's size: the
//! people the consent policy lets count, coarsened (two significant
//! digits, nothing under 100) with noise that holds for the period and for
//! the people counted, never who. The noise is drawn for who is counted,
//! not for how the targeting is written: the same people asked for in
//! another order, or with a country where nobody lives, get the same
//! answer, so that rewording cannot average the noise away.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use adloom_core::audience::ReportedSize;
use adloom_core::consent::{self, Provenance};
use adloom_core::disclosure;
use adloom_core::targeting::{AudienceFact, TargetingSpec, Viewer};

use std::hash::Hasher;

use crate::membership::{audience_of, members, period_noise, reported, size_period};
use crate::{Engine, EngineError};

/// An audience as the estimate checks people against it.
struct Known {
    provenance: Provenance,
    members: HashSet<String>,
    /// Under 100 people, it reaches no one (as in a decision).
    too_small: bool,
}

impl Engine {
    /// The coarsened number of people `spec` reaches for `account`. The
    /// device is a request's, not a person's: the estimate leaves it out.
    /// An audience that is not one of the account's live audiences is
    /// refused, as in an ad group.
    pub async fn estimate_reach(
        &self,
        account: &str,
        spec: &TargetingSpec,
    ) -> Result<ReportedSize, EngineError> {
        self.check_audiences(account, spec).await?;
        self.serving.people.ensure_loaded(self).await?;
        let mut known = HashMap::new();
        for id in spec.audience_include.iter().chain(&spec.audience_exclude) {
            let Some(stored) = self.store.get_audience(id).await? else {
                continue;
            };
            let audience = audience_of(&stored)?;
            let members: HashSet<String> = members(self, &audience).await?.into_keys().collect();
            let too_small = !reported(self, id, members.len()).await?.ready;
            known.insert(
                id.clone(),
                Known {
                    provenance: audience.provenance(),
                    members,
                    too_small,
                },
            );
        }
        let spec = TargetingSpec {
            app_types: Vec::new(),
            ..spec.clone()
        };
        let defaults = self.config.region_defaults.clone();
        let serving = Arc::clone(&self.serving);
        // A walk over every person: on a blocking thread, so that the
        // runtime's workers go on answering meanwhile.
        let walk = move || {
            // One viewer, refilled for each person (its buffers reused).
            let mut viewer = Viewer::default();
            serving
                .people
                .fold((0u64, 0u64), |(count, print), words, person| {
                    let (user, profile) = (&person.user_id, &person.profile);
                    // Copied into the viewer's own strings, their buffers
                    // reused from one person to the next.
                    viewer
                        .interests
                        .resize(profile.interests.len(), String::new());
                    for (mine, &theirs) in viewer.interests.iter_mut().zip(&*profile.interests) {
                        mine.clear();
                        mine.push_str(words.text(theirs));
                    }
                    match (&mut viewer.locale, profile.locale.map(|l| words.text(l))) {
                        (Some(mine), Some(theirs)) => {
                            mine.clear();
                            mine.push_str(theirs);
                        }
                        (mine, theirs) => *mine = theirs.map(str::to_owned),
                    }
                    viewer.gender = profile.gender;
                    viewer.age = profile.age;
                    viewer.country = profile.country;
                    let consent = consent::for_person(
                        profile.use_partner_info,
                        profile.country,
                        profile.strings,
                        &defaults,
                    );
                    let fact = |id: &str| match known.get(id) {
                        Some(k) if k.too_small => AudienceFact::TooSmall,
                        Some(k) if k.members.contains(&**user) => {
                            AudienceFact::Member(k.provenance)
                        }
                        _ => AudienceFact::NotMember,
                    };
                    if spec.evaluate(&viewer, &consent, fact).is_ok() {
                        // Who is counted, as an order-free fingerprint of
                        // their ids.
                        (count + 1, print ^ fingerprint(user))
                    } else {
                        (count, print)
                    }
                })
        };
        let (count, fingerprint) = tokio::task::spawn_blocking(walk).await.map_err(|e| {
            tracing::error!(error = %e, "the reach estimate's walk failed");
            EngineError::Internal("the reach estimate failed")
        })?;
        let key = format!("{account}|{fingerprint:016x}");
        let noise = period_noise(self, "reach", &key, size_period(self)).await?;
        Ok(disclosure::audience_size(count, noise))
    }
}

/// A person's part of a population's fingerprint (SipHash with fixed keys:
/// the same on every node and every run).
fn fingerprint(user: &str) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    h.write(user.as_bytes());
    h.finish()
}
