//! A person's own say over single ads: "Hide this ad" (this ad, or every ad
//! of its advertiser, never again) and "Report this ad" (to the operator's
//! review queue). Both are the person's data: they go with the person when
//! they are erased, and an advertiser sees only counts.

use serde::{Deserialize, Serialize};

use crate::decision::Hidden;

named! {
    /// What "Hide" hides.
    pub enum HideScope {
        Ad = "ad",
        Advertiser = "advertiser",
    }
}

named! {
    /// Why a person reports an ad.
    pub enum ReportReason {
        Spam = "spam",
        Misleading = "misleading",
        Offensive = "offensive",
        NotRelevant = "not_relevant",
        Other = "other",
    }
}

/// One thing a person hid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HiddenAd {
    pub scope: HideScope,
    /// The ad they hid it from.
    pub ad_id: String,
    /// Its advertiser's ad account.
    pub ad_account_id: String,
    pub hidden_time: i64,
}

impl HiddenAd {
    /// What it keeps out: the ad's id, or the ad account's.
    pub fn target(&self) -> &str {
        match self.scope {
            HideScope::Ad => &self.ad_id,
            HideScope::Advertiser => &self.ad_account_id,
        }
    }
}

/// One person's report of one ad.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdReport {
    pub ad_id: String,
    pub reason: ReportReason,
    pub reported_time: i64,
}

/// What a decision keeps from a person who hid these.
pub fn hidden(items: &[HiddenAd]) -> Hidden {
    let mut hidden = Hidden::default();
    for h in items {
        match h.scope {
            HideScope::Ad => hidden.ads.push(h.ad_id.clone()),
            HideScope::Advertiser => hidden.advertisers.push(h.ad_account_id.clone()),
        }
    }
    hidden
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hidden_advertiser_keeps_out_the_account_not_the_ad() {
        let item = |scope| HiddenAd {
            scope,
            ad_id: "7".into(),
            ad_account_id: "3".into(),
            hidden_time: 0,
        };
        let h = hidden(&[item(HideScope::Ad), item(HideScope::Advertiser)]);
        assert_eq!((h.ads, h.advertisers), (vec!["7".into()], vec!["3".into()]));
        assert_eq!(item(HideScope::Advertiser).target(), "3");
        assert_eq!(
            ReportReason::parse("not_relevant"),
            Some(ReportReason::NotRelevant)
        );
    }
}
