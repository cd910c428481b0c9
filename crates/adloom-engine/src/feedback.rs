//! A person's "Hide this ad" and "Report this ad". A hide reaches the
//! serving mirror before it answers (the very next decision honours it) and
//! the other nodes through the outbox; enough reports from distinct people
//! hold an ad for the operator (`reports_to_pause`).

use std::collections::{BTreeMap, BTreeSet};

use adloom_core::campaign::{ReviewDecision, ReviewStatus};
use adloom_core::disclosure;
use adloom_core::feedback::{AdReport, HiddenAd, HideScope, ReportReason};
use adloom_core::object::{ObjectKind, Record, StoredObject};

use crate::{Change, Engine, EngineError};

/// Who a hold by people's reports is recorded as.
pub const REPORTS: &str = "people's reports";

/// How many people hid and reported one ad, as its advertiser may see it
/// (`disclosure::feedback_count`: `None` is "fewer than 10").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedbackSeen {
    pub hidden: Option<u64>,
    pub reported: Option<u64>,
}

impl Engine {
    /// The ad `ad_id`, whoever owns it.
    async fn ad(&self, ad_id: &str) -> Result<StoredObject, EngineError> {
        self.store
            .get_object(ObjectKind::Ad, ad_id)
            .await?
            .ok_or(EngineError::NotFound("ad"))
    }

    /// What the advertiser may see of people's hides and reports of these
    /// ads: aggregate counts through the disclosure policy, never who.
    pub async fn feedback_seen(
        &self,
        ad_ids: &[String],
    ) -> Result<BTreeMap<String, FeedbackSeen>, EngineError> {
        Ok(self
            .store
            .ad_feedback_counts(ad_ids)
            .await?
            .into_iter()
            .map(|c| {
                let seen = FeedbackSeen {
                    hidden: disclosure::feedback_count(c.hidden),
                    reported: disclosure::feedback_count(c.reported),
                };
                (c.ad_id, seen)
            })
            .collect())
    }

    /// The person hides this ad, or every ad of its advertiser.
    pub async fn hide_ad(
        &self,
        user_id: &str,
        ad_id: &str,
        scope: HideScope,
    ) -> Result<HiddenAd, EngineError> {
        let ad = self.ad(ad_id).await?;
        let hidden = HiddenAd {
            scope,
            ad_id: ad.id,
            ad_account_id: ad.ad_account_id,
            hidden_time: self.clock.now(),
        };
        match self.store.hide_ad(user_id, hidden.clone()).await {
            Err(adloom_store::StoreError::NotFound) => return Err(EngineError::NotFound("person")),
            other => other?,
        }
        self.person_changed(user_id).await?;
        Ok(hidden)
    }

    /// Undoes a hide (`target_id`: the ad's id, or the ad account's);
    /// whether there was one.
    pub async fn unhide_ad(
        &self,
        user_id: &str,
        scope: HideScope,
        target_id: &str,
    ) -> Result<bool, EngineError> {
        let removed = self.store.unhide_ad(user_id, scope, target_id).await?;
        if removed {
            self.person_changed(user_id).await?;
        }
        Ok(removed)
    }

    /// What the person hid, oldest first.
    pub async fn hidden_ads(&self, user_id: &str) -> Result<Vec<HiddenAd>, EngineError> {
        Ok(self
            .store
            .hidden_ads(&[user_id.to_owned()])
            .await?
            .into_iter()
            .map(|(_, h)| h)
            .collect())
    }

    /// The person reports an ad. Once `reports_to_pause` distinct people
    /// have, an approved ad waits as PENDING until an operator decides.
    /// Returns the report.
    pub async fn report_ad(
        &self,
        user_id: &str,
        ad_id: &str,
        reason: ReportReason,
    ) -> Result<AdReport, EngineError> {
        let mut ad = self.ad(ad_id).await?;
        let now = self.clock.now();
        let report = AdReport {
            ad_id: ad.id.clone(),
            reason,
            reported_time: now,
        };
        let reporters = match self.store.report_ad(user_id, report.clone()).await {
            Err(adloom_store::StoreError::NotFound) => return Err(EngineError::NotFound("person")),
            other => other?,
        };
        if reporters >= u64::from(self.config.review.reports_to_pause) {
            if let Record::Ad(a) = &mut ad.record {
                if a.review_status == ReviewStatus::Approved {
                    a.review_status = ReviewStatus::Pending;
                    a.decisions.push(ReviewDecision {
                        status: ReviewStatus::Pending,
                        reasons: Vec::new(),
                        by: REPORTS.to_owned(),
                        time: now,
                    });
                    ad.updated_time = now;
                    tracing::info!(ad_id = %ad.id, reporters, "an ad is held for review after people's reports");
                    self.put_objects(vec![ad]).await?;
                }
            }
        }
        Ok(report)
    }

    /// The person's hides changed here: this node's mirror reads them
    /// before the caller answers, the other nodes through the outbox.
    pub(crate) async fn person_changed(&self, user_id: &str) -> Result<(), EngineError> {
        self.serving
            .people
            .reload(self, &BTreeSet::from([user_id.to_owned()]))
            .await?;
        self.changed(Change::People(vec![user_id.to_owned()]));
        Ok(())
    }
}
