//! The operator's review queue: the ads that wait, and an operator's
//! decision on one, kept on the ad with who made it and when.

use std::collections::HashMap;

use adloom_core::ad_account::AdAccount;
use adloom_core::campaign::{Ad, Pin, ReviewDecision, ReviewStatus};
use adloom_core::feedback::AdReport;
use adloom_core::object::{self, ObjectKind, Record, StoredObject};
use adloom_core::page::PageRequest;
use adloom_core::review;

use crate::{Engine, EngineError};

/// One ad as the operator reviews it: with its advertiser and its pin, as
/// people would see it.
#[derive(Debug, Clone)]
pub struct ReviewItem {
    pub ad_id: String,
    pub ad: Ad,
    pub account: AdAccount,
    pub pin: Option<Pin>,
    /// People's reports of it, without who made them.
    pub reports: Vec<AdReport>,
    pub updated_time: i64,
}

impl Engine {
    /// Every ad whose review is `status`, oldest change first. Reads every
    /// ad account's ads: an operator's page, not a serving path.
    pub async fn review_queue(&self, status: ReviewStatus) -> Result<Vec<ReviewItem>, EngineError> {
        let mut items = Vec::new();
        let mut page = PageRequest::new(Some(250), None)?;
        loop {
            let accounts = self.store.list_ad_accounts(None, page.clone()).await?;
            for account in accounts.items {
                let ads = self.store.list_objects(ObjectKind::Ad, &account.id).await?;
                let waiting: Vec<(&str, &Ad, i64)> = ads
                    .iter()
                    .filter_map(|o| match &o.record {
                        Record::Ad(a) if a.review_status == status => {
                            Some((o.id.as_str(), a, o.updated_time))
                        }
                        _ => None,
                    })
                    .collect();
                if waiting.is_empty() {
                    continue;
                }
                let pins = self
                    .store
                    .list_objects(ObjectKind::Pin, &account.id)
                    .await?;
                let pins: HashMap<&str, &Pin> = object::pins(&pins).into_iter().collect();
                for (id, ad, updated_time) in waiting {
                    items.push(ReviewItem {
                        reports: self.store.ad_reports(id).await?,
                        ad_id: id.to_owned(),
                        pin: pins.get(ad.pin_id.as_str()).map(|p| (*p).clone()),
                        ad: ad.clone(),
                        account: account.clone(),
                        updated_time,
                    });
                }
            }
            match accounts.next {
                Some(next) => page.after = Some(next),
                None => break,
            }
        }
        items.sort_by_key(|i| i.updated_time);
        Ok(items)
    }

    /// An operator's decision on an ad (`APPROVED`, or `REJECTED` with
    /// Pinterest's reasons), by `by` at `now`; it serves, or stops, from the
    /// next decision on.
    pub async fn decide_review(
        &self,
        ad_id: &str,
        decision: &str,
        reasons: &[String],
        by: &str,
    ) -> Result<StoredObject, EngineError> {
        let verdict = review::decided(decision, reasons)?;
        let Some(mut stored) = self.store.get_object(ObjectKind::Ad, ad_id).await? else {
            return Err(EngineError::NotFound("ad"));
        };
        let now = self.clock.now();
        let Record::Ad(ad) = &mut stored.record else {
            return Err(EngineError::Internal("an ad is stored as another kind"));
        };
        ad.decisions.push(ReviewDecision {
            status: verdict.status,
            reasons: verdict.rejected_reasons.clone(),
            by: by.to_owned(),
            time: now,
        });
        ad.set_review(verdict);
        stored.updated_time = now;
        self.put_objects(vec![stored.clone()]).await?;
        Ok(stored)
    }
}
