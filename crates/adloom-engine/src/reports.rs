//! What reports are made of: an account's impressions and clicks, the
//! conversions that may be credited to them (under the disclosure policy),
//! and the daily totals of days past engagement retention. Reports and the
//! roll-up (`retention`) read them alike, so that a rolled-up day adds up
//! to what its rows did.

use adloom_core::report::{self, Conversion, DayTotals, Granularity, Query, Row, Touch};

use crate::{membership, Engine, EngineError};

const DAY: i64 = 86_400;

impl Engine {
    /// A report's rows (`adloom_core::report::rows`): days not rolled up
    /// from their rows, older ones from their daily totals.
    pub async fn report_rows(&self, account: &str, q: &Query) -> Result<Vec<Row>, EngineError> {
        let rolled_before = self.store.rolled_up_before().await?;
        let reach_days = q.click_window_days.max(q.view_window_days);
        let since = ((q.start_day - reach_days) * DAY).max(rolled_before * DAY);
        let until = (q.end_day + 1 + reach_days) * DAY;
        let touches = self.touches(account, since, until).await?;
        let conversions = self.conversions(account, since, until).await?;
        // Reports by conversion time count a day's credits on the day of
        // each conversion, up to a window later.
        let first_day = if q.at_conversion_time {
            q.start_day - reach_days - 1
        } else {
            q.start_day
        };
        let rolled: Vec<DayTotals> =
            if first_day < rolled_before && q.granularity != Granularity::Hour {
                self.store
                    .engagement_days(account, first_day, (q.end_day + 1).min(rolled_before))
                    .await?
            } else {
                Vec::new()
            };
        Ok(report::rows(q, account, touches, &conversions, &rolled))
    }

    /// The account's impressions and clicks with `since <= time < until`.
    pub(crate) async fn touches(
        &self,
        account: &str,
        since: i64,
        until: i64,
    ) -> Result<Vec<Touch>, EngineError> {
        Ok(self
            .store
            .engagements(account, since, until)
            .await?
            .into_iter()
            .map(|e| Touch {
                time: e.time,
                click: e.kind.is_click(),
                invalid: e.invalid.is_some(),
                user_id: e.user_id,
                ad_id: e.ad_id,
                ad_group_id: e.ad_group_id,
                campaign_id: e.campaign_id,
                charge_micros: e.charge_micros,
            })
            .collect())
    }

    /// An ad account's latest events, resolved or not, newest first: every
    /// pixel answered before this call among them.
    pub async fn latest_events(
        &self,
        account: &str,
        limit: usize,
    ) -> Result<Vec<adloom_store::StoredEvent>, EngineError> {
        self.pixels_applied().await;
        Ok(self.store.latest_events(account, limit).await?)
    }

    /// The account's conversions with `since <= time < until` that may be
    /// credited: of known people whose partner data may count (the
    /// disclosure policy), and not credited to a rolled-up day already.
    pub(crate) async fn conversions(
        &self,
        account: &str,
        since: i64,
        until: i64,
    ) -> Result<Vec<Conversion>, EngineError> {
        self.pixels_applied().await;
        let resolved = self.store.resolved_events(account, since, until).await?;
        let people = resolved.iter().filter_map(|s| s.user_id.clone()).collect();
        let counted = membership::partner_data_allowed(self, people).await?;
        Ok(resolved
            .into_iter()
            .filter(|s| s.user_id.as_ref().is_some_and(|u| counted.contains(u)))
            .filter_map(|s| {
                Some(Conversion {
                    event_id: s.event.event_id,
                    time: s.event.time,
                    user_id: s.user_id?,
                    name: s.event.name,
                    source: s.event.action_source,
                    value_micros: s.event.value_micros.unwrap_or(0),
                })
            })
            .collect())
    }
}
