//! "Advertisers who have your info": which advertisers hold partner data
//! about a person (a customer list that matched them, events their tag or
//! conversions API sent about them), when and how; and hiding every ad of
//! one of them. The person's own view: advertisers never see it.

use adloom_core::consent::PartnerSource;
use adloom_core::feedback::{HiddenAd, HideScope};
use adloom_store::PartnerData;

use crate::{Engine, EngineError};

/// One advertiser and what it holds about the person, latest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvertiserWithInfo {
    pub ad_account_id: String,
    /// The ad account's name (what "Promoted by" shows).
    pub name: String,
    pub sources: Vec<PartnerData>,
}

/// How a source reached the advertiser, in words for the person.
pub fn how(source: PartnerSource) -> &'static str {
    match source {
        PartnerSource::CustomerList => {
            "uploaded a customer list (or matched one with PAIR) that included you"
        }
        PartnerSource::Tag => "its website tag sent your visits or purchases",
        PartnerSource::Conversions => "its server sent your visits or purchases (conversions API)",
    }
}

impl Engine {
    /// The advertisers with partner data about `user_id`, the most recent
    /// first: every tag pixel answered before this call among them.
    pub async fn advertisers_with_info(
        &self,
        user_id: &str,
    ) -> Result<Vec<AdvertiserWithInfo>, EngineError> {
        self.pixels_applied().await;
        let mut out: Vec<AdvertiserWithInfo> = Vec::new();
        for row in self.store.partner_data_about(user_id).await? {
            match out
                .iter_mut()
                .find(|a| a.ad_account_id == row.ad_account_id)
            {
                Some(a) => a.sources.push(row),
                None => {
                    let name = self
                        .store
                        .get_ad_account(&row.ad_account_id)
                        .await?
                        .map(|a| a.name)
                        .unwrap_or_else(|| row.ad_account_id.clone());
                    out.push(AdvertiserWithInfo {
                        ad_account_id: row.ad_account_id.clone(),
                        name,
                        sources: vec![row],
                    });
                }
            }
        }
        Ok(out)
    }

    /// The person hides every ad of the advertiser `ad_account_id`, as
    /// "Hide all ads from this advertiser" on an ad does, without an ad to
    /// start from.
    pub async fn hide_advertiser(
        &self,
        user_id: &str,
        ad_account_id: &str,
    ) -> Result<HiddenAd, EngineError> {
        if self.store.get_ad_account(ad_account_id).await?.is_none() {
            return Err(EngineError::NotFound("advertiser"));
        }
        let hidden = HiddenAd {
            scope: HideScope::Advertiser,
            ad_id: String::new(),
            ad_account_id: ad_account_id.to_owned(),
            hidden_time: self.clock.now(),
        };
        match self.store.hide_ad(user_id, hidden.clone()).await {
            Err(adloom_store::StoreError::NotFound) => return Err(EngineError::NotFound("person")),
            other => other?,
        }
        self.person_changed(user_id).await?;
        Ok(hidden)
    }
}
