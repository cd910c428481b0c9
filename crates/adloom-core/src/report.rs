//! Reports: spend and delivery of an advertiser's own ads, and the
//! conversions attributed to them.
//!
//! A conversion (a tag or conversions API event of a known person) is
//! attributed to that person's last click on the ad account's ads within the
//! click window before it (30 days by default), or else their last
//! impression within the view window (1 day). Reports give exact figures:
//! they are about the advertiser's own ads, not about who is on the
//! platform.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::Invalid;
use crate::event::{ActionSource, EventName};

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

mod columns;
mod metrics;
mod rollup;
pub use columns::SPEC_COLUMNS;
pub use metrics::Figure;
use metrics::{Credit, Totals};
pub use rollup::{roll_up, CreditTotal, DayTotals, RollUp};

/// Whether a report may ask for this column: any of the spec's, and
/// adloom's own.
pub fn is_column(name: &str) -> bool {
    name == INVALID_CLICKS || SPEC_COLUMNS.contains(&name)
}

/// adloom's own column: clicks that billed nothing (a click without its
/// impression, or a repeat by one person on one ad group the same day).
pub const INVALID_CLICKS: &str = "ADLOOM_INVALID_CLICKTHROUGH";

/// adloom's own column in hourly rows: the hour (0 to 23, UTC) of `DATE`,
/// which the spec types as a date.
pub const HOUR_COLUMN: &str = "HOUR";

/// An impression or click of one of the account's ads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Touch {
    pub time: i64,
    pub click: bool,
    /// A click that billed nothing: it counts only as an invalid click.
    pub invalid: bool,
    pub user_id: Option<String>,
    pub ad_id: String,
    pub ad_group_id: String,
    pub campaign_id: String,
    pub charge_micros: u64,
}

/// A conversion event of a known person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversion {
    pub event_id: String,
    pub time: i64,
    pub user_id: String,
    pub name: EventName,
    pub source: ActionSource,
    pub value_micros: i64,
}

/// Which level rows are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    AdAccount,
    Campaign,
    AdGroup,
    Ad,
}

impl Level {
    pub fn id_column(self) -> &'static str {
        match self {
            Level::AdAccount => "AD_ACCOUNT_ID",
            Level::Campaign => "CAMPAIGN_ID",
            Level::AdGroup => "AD_GROUP_ID",
            Level::Ad => "AD_ID",
        }
    }

    fn key(self, t: &Touch, account: &str) -> String {
        self.pick(account, &t.campaign_id, &t.ad_group_id, &t.ad_id)
    }

    fn pick(self, account: &str, campaign: &str, ad_group: &str, ad: &str) -> String {
        match self {
            Level::AdAccount => account,
            Level::Campaign => campaign,
            Level::AdGroup => ad_group,
            Level::Ad => ad,
        }
        .to_owned()
    }
}

/// The attribution windows of a report that names none, as Pinterest's.
pub const DEFAULT_CLICK_WINDOW_DAYS: i64 = 30;
pub const DEFAULT_VIEW_WINDOW_DAYS: i64 = 1;

/// What a report asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub level: Level,
    /// Days since the epoch, both included.
    pub start_day: i64,
    pub end_day: i64,
    pub granularity: Granularity,
    pub columns: Vec<String>,
    pub click_window_days: i64,
    pub view_window_days: i64,
    /// Count conversions on the day of the conversion rather than of the ad
    /// action.
    pub at_conversion_time: bool,
    /// Only these entities (campaign, ad group or ad ids); `None` for the
    /// account's report.
    pub ids: Option<BTreeSet<String>>,
}

/// How rows are broken down in time (the spec's `Granularity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Total,
    /// Hours (UTC), without conversion metrics, as Pinterest answers.
    Hour,
    Day,
    /// Weeks from Monday, as dated by their first day.
    Week,
    /// Calendar months, as dated by their first day.
    Month,
}

impl Granularity {
    pub fn parse(s: &str) -> Result<Granularity, Invalid> {
        match s {
            "TOTAL" => Ok(Granularity::Total),
            "HOUR" => Ok(Granularity::Hour),
            "DAY" => Ok(Granularity::Day),
            "WEEK" => Ok(Granularity::Week),
            "MONTH" => Ok(Granularity::Month),
            other => Err(Invalid::new(
                "granularity",
                format!("{other:?} is not one of TOTAL, HOUR, DAY, WEEK, MONTH"),
            )),
        }
    }

    /// The longest range, in days, one report covers at this granularity
    /// (hourly rows are many: three days at most, as Pinterest allows).
    pub fn max_days(self) -> i64 {
        match self {
            Granularity::Hour => 3,
            _ => 366,
        }
    }

    /// The start (unix seconds) of the bucket holding `time`, or `None` for
    /// the total.
    pub fn bucket(self, time: i64) -> Option<i64> {
        let day = time.div_euclid(DAY);
        match self {
            Granularity::Total => None,
            Granularity::Hour => Some(time - time.rem_euclid(HOUR)),
            Granularity::Day => Some(day * DAY),
            // 1970-01-01 was a Thursday: Monday is 3 days before.
            Granularity::Week => Some((day - (day + 3).rem_euclid(7)) * DAY),
            Granularity::Month => {
                let date = format_date(day);
                parse_date("", &format!("{}-01", &date[..7]))
                    .ok()
                    .map(|d| d * DAY)
            }
        }
    }
}

/// `YYYY-MM-DD` → days since 1970-01-01.
pub fn parse_date(field: &str, s: &str) -> Result<i64, Invalid> {
    let bad = || Invalid::new(field, "must be a date YYYY-MM-DD");
    let mut parts = s.split('-');
    let (y, m, d) = (
        parts.next().ok_or_else(bad)?,
        parts.next().ok_or_else(bad)?,
        parts.next().ok_or_else(bad)?,
    );
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let (y, m, d): (i64, i64, i64) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    );
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month[(m - 1) as usize] {
        return Err(bad());
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Ok(era * 146_097 + doe - 719_468)
}

/// Days since the epoch → `YYYY-MM-DD`.
pub fn format_date(day: i64) -> String {
    crate::campaign::iso8601(day * DAY)[..10].to_owned()
}

/// The touch a conversion is credited to: the person's last click within
/// the click window before it, else their last impression within the view
/// window. Only touches strictly earlier count: an event in the same second
/// as the ad cannot tell which came first. `touches` are the person's, in
/// time order.
pub fn attribute<'a>(
    c: &Conversion,
    touches: &'a [Touch],
    click_window_days: i64,
    view_window_days: i64,
) -> Option<&'a Touch> {
    let before = |window: i64, click: bool| {
        touches
            .iter()
            .rev()
            .filter(|t| {
                !t.invalid && t.click == click && t.time < c.time && c.time - t.time <= window * DAY
            })
            .find(|_| true)
    };
    before(click_window_days, true).or_else(|| before(view_window_days, false))
}

/// Each person's touches, in the order given (for [`attribute`], time
/// order); touches of no one known are left out.
fn by_person(touches: &[Touch]) -> BTreeMap<&str, Vec<Touch>> {
    let mut by_user: BTreeMap<&str, Vec<Touch>> = BTreeMap::new();
    for t in touches {
        if let Some(u) = &t.user_id {
            by_user.entry(u.as_str()).or_default().push(t.clone());
        }
    }
    by_user
}

/// One row of a report: an entity (campaign, ad group, ...) in one time
/// bucket, with what it added up to.
#[derive(Debug, Clone)]
pub struct Row {
    /// The entity at the report's level.
    pub id: String,
    /// The bucket's start (unix seconds); `None` for the total.
    pub bucket: Option<i64>,
    totals: Totals,
}

impl Row {
    /// The bucket's day (days since the epoch).
    pub fn day(&self) -> Option<i64> {
        self.bucket.map(|start| start.div_euclid(DAY))
    }

    /// The bucket's hour (0 to 23, UTC), in hourly reports.
    pub fn hour(&self) -> Option<i64> {
        self.bucket.map(|start| start.rem_euclid(DAY) / HOUR)
    }

    /// A column's value, or `None` when adloom has no data for it.
    pub fn value(&self, column: &str) -> Option<Figure> {
        metrics::value(column, &self.totals)
    }

    pub fn spend_micros(&self) -> u64 {
        self.totals.spend
    }

    /// Paid impressions.
    pub fn impressions(&self) -> u64 {
        self.totals.impressions
    }

    /// Billed clicks.
    pub fn clicks(&self) -> u64 {
        self.totals.clicks
    }

    /// Attributed conversions of every type (none in hourly reports).
    pub fn conversions(&self) -> u64 {
        self.totals
            .credits
            .as_ref()
            .map_or(0, |c| c.iter().map(|c| c.count).sum())
    }
}

/// Builds a report: one row per entity and time bucket with activity, in
/// entity then time order, from the touches still kept one by one and the
/// daily totals of older days (`rolled`; none in hourly reports, which
/// need the hour of each touch).
pub fn rows(
    q: &Query,
    account: &str,
    mut touches: Vec<Touch>,
    conversions: &[Conversion],
    rolled: &[DayTotals],
) -> Vec<Row> {
    touches.sort_by_key(|t| t.time);
    let in_range = |time: i64| (q.start_day..=q.end_day).contains(&time.div_euclid(DAY));
    let wanted = |t: &Touch| {
        q.ids
            .as_ref()
            .is_none_or(|ids| ids.contains(&q.level.key(t, account)))
    };
    let hourly = q.granularity == Granularity::Hour;
    let mut table: BTreeMap<(String, Option<i64>), Totals> = BTreeMap::new();
    let key = |t: &Touch, time: i64| (q.level.key(t, account), q.granularity.bucket(time));
    let empty = || Totals {
        credits: (!hourly).then(Vec::new),
        ..Totals::default()
    };
    for t in touches.iter().filter(|t| wanted(t) && in_range(t.time)) {
        let totals = table.entry(key(t, t.time)).or_insert_with(empty);
        totals.spend += t.charge_micros;
        if t.invalid {
            totals.invalid_clicks += 1;
        } else if t.click {
            totals.clicks += 1;
        } else {
            totals.impressions += 1;
        }
    }
    if !hourly {
        let by_user = by_person(&touches);
        for c in conversions {
            let Some(touch) = by_user
                .get(c.user_id.as_str())
                .and_then(|ts| attribute(c, ts, q.click_window_days, q.view_window_days))
            else {
                continue;
            };
            let when = if q.at_conversion_time {
                c.time
            } else {
                touch.time
            };
            if !wanted(touch) || !in_range(when) {
                continue;
            }
            let credit = Credit {
                kind: metrics::kind_of(&c.name),
                via_click: touch.click,
                source: c.source,
                count: 1,
                value_micros: c.value_micros,
            };
            let totals = table.entry(key(touch, when)).or_insert_with(empty);
            totals.credits.get_or_insert_default().push(credit);
        }
        for d in rolled {
            let id = q
                .level
                .pick(account, &d.campaign_id, &d.ad_group_id, &d.ad_id);
            if q.ids.as_ref().is_some_and(|ids| !ids.contains(&id)) {
                continue;
            }
            let day = d.day * DAY;
            if in_range(day) {
                let totals = table
                    .entry((id.clone(), q.granularity.bucket(day)))
                    .or_insert_with(empty);
                totals.spend += d.spend_micros;
                totals.impressions += d.impressions;
                totals.clicks += d.clicks;
                totals.invalid_clicks += d.invalid_clicks;
            }
            for c in &d.credits {
                let when = if q.at_conversion_time {
                    c.conversion_day * DAY
                } else {
                    day
                };
                if !in_range(when) {
                    continue;
                }
                let credit = Credit {
                    kind: metrics::kind(&c.kind).unwrap_or("UNKNOWN"),
                    via_click: c.via_click,
                    source: c.source,
                    count: c.count,
                    value_micros: c.value_micros,
                };
                let totals = table
                    .entry((id.clone(), q.granularity.bucket(when)))
                    .or_insert_with(empty);
                totals.credits.get_or_insert_default().push(credit);
            }
        }
    }
    table
        .into_iter()
        .map(|((id, bucket), totals)| Row { id, bucket, totals })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn touch(time: i64, click: bool, ad: &str) -> Touch {
        Touch {
            time,
            click,
            invalid: false,
            user_id: Some("u1".into()),
            ad_id: ad.into(),
            ad_group_id: format!("g-{ad}"),
            campaign_id: "c".into(),
            charge_micros: if click { 400_000 } else { 2 },
        }
    }

    fn checkout(time: i64) -> Conversion {
        Conversion {
            event_id: format!("e{time}"),
            time,
            user_id: "u1".into(),
            name: EventName::Checkout,
            source: ActionSource::Web,
            value_micros: 72_500_000,
        }
    }

    #[test]
    fn last_click_within_30_days_else_last_view_within_a_day() {
        let ts = vec![
            touch(0, true, "a"),
            touch(10 * DAY, true, "b"),
            touch(20 * DAY, false, "c"),
        ];
        assert_eq!(
            attribute(&checkout(20 * DAY + 5), &ts, 30, 1)
                .unwrap()
                .ad_id,
            "b"
        );
        assert_eq!(
            attribute(&checkout(41 * DAY), &ts, 30, 1),
            None,
            "click too old, view too old"
        );
        let views = vec![touch(100 * DAY, false, "v")];
        assert_eq!(
            attribute(&checkout(100 * DAY + 3600), &views, 30, 1)
                .unwrap()
                .ad_id,
            "v"
        );
        assert_eq!(attribute(&checkout(102 * DAY), &views, 30, 1), None);
        assert_eq!(
            attribute(&checkout(99 * DAY), &views, 30, 1),
            None,
            "never before the touch"
        );
        assert_eq!(
            attribute(&checkout(20 * DAY + 5), &ts, 0, 1).unwrap().ad_id,
            "c",
            "clicks off: the view"
        );
    }

    #[test]
    fn rows_by_day_and_total() {
        let day = 20_000;
        let ts = vec![
            touch(day * DAY, false, "a"),
            touch(day * DAY + 60, true, "a"),
            // A click that billed nothing counts apart, and takes no credit.
            Touch {
                invalid: true,
                charge_micros: 0,
                ..touch(day * DAY + 70, true, "a")
            },
            touch((day + 1) * DAY, false, "a"),
        ];
        let mut q = Query {
            level: Level::AdGroup,
            start_day: day,
            end_day: day + 1,
            granularity: Granularity::Day,
            columns: [
                "SPEND_IN_MICRO_DOLLAR",
                "SPEND_IN_DOLLAR",
                "TOTAL_IMPRESSION",
                "TOTAL_CLICKTHROUGH",
                "CTR",
                "TOTAL_CHECKOUT",
                "TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR",
                "CPC_IN_MICRO_DOLLAR",
                "CHECKOUT_ROAS",
                "VIDEO_LENGTH",
                INVALID_CLICKS,
            ]
            .iter()
            .map(|c| c.to_string())
            .collect(),
            click_window_days: 30,
            view_window_days: 1,
            at_conversion_time: false,
            ids: Some(["g-a".to_owned()].into()),
        };
        let rows = rows(
            &q,
            "acc",
            ts.clone(),
            &[checkout((day + 1) * DAY + 100)],
            &[],
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].day(), Some(day));
        assert_eq!(rows[0].id, "g-a");
        let v = |column: &str| rows[0].value(column).map(|f| json!(f));
        assert_eq!(v("SPEND_IN_MICRO_DOLLAR"), Some(json!(400_002)));
        assert_eq!(rows[0].spend_micros(), 400_002);
        assert_eq!(v("TOTAL_CLICKTHROUGH"), Some(json!(1)));
        assert_eq!(v(INVALID_CLICKS), Some(json!(1)));
        assert_eq!(v("CTR"), Some(json!(1.0)));
        assert_eq!(
            v("TOTAL_CHECKOUT"),
            Some(json!(1)),
            "credited on the day of the click"
        );
        assert_eq!(rows[0].conversions(), 1);
        assert_eq!(
            v("TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR"),
            Some(json!(72_500_000))
        );
        assert_eq!(v("CPC_IN_MICRO_DOLLAR"), Some(json!(400_002.0)));
        assert_eq!(v("VIDEO_LENGTH"), None, "no data: absent");
        q.granularity = Granularity::Total;
        q.level = Level::AdAccount;
        q.at_conversion_time = true;
        q.ids = None;
        let total = super::rows(&q, "acc", ts, &[checkout((day + 1) * DAY + 100)], &[]);
        assert_eq!(total.len(), 1);
        assert_eq!(total[0].id, "acc");
        assert_eq!(total[0].impressions(), 2);
        assert_eq!(
            total[0].value("SPEND_IN_DOLLAR"),
            Some(Figure::Ratio(0.400004))
        );
        assert_eq!(total[0].day(), None);
    }

    #[test]
    fn weeks_and_months_are_dated_by_their_first_day() {
        let day = |d: &str| parse_date("d", d).unwrap();
        for (date, week, month) in [
            ("2026-11-30", "2026-11-30", "2026-11-01"),
            ("2026-12-06", "2026-11-30", "2026-12-01"),
            ("2024-02-29", "2024-02-26", "2024-02-01"),
            ("1970-01-01", "1969-12-29", "1970-01-01"),
        ] {
            assert_eq!(
                Granularity::Week.bucket(day(date) * DAY + 5),
                Some(day(week) * DAY),
                "{date}"
            );
            assert_eq!(
                Granularity::Month.bucket(day(date) * DAY + 5),
                Some(day(month) * DAY),
                "{date}"
            );
        }
        assert_eq!(Granularity::Total.bucket(5), None);
        assert_eq!(Granularity::Hour.bucket(2 * HOUR + 59), Some(2 * HOUR));
        assert!(Granularity::parse("HOURLY").is_err());
        assert!(is_column("VIDEO_LENGTH") && is_column(INVALID_CLICKS) && !is_column("NOPE"));
    }

    #[test]
    fn hourly_rows_have_delivery_but_no_conversions() {
        let day = 20_000;
        let ts = vec![
            touch(day * DAY + 10, false, "a"),
            touch(day * DAY + 20, true, "a"),
            touch(day * DAY + 5 * HOUR, false, "a"),
        ];
        let q = Query {
            level: Level::Ad,
            start_day: day,
            end_day: day,
            granularity: Granularity::Hour,
            columns: vec!["TOTAL_IMPRESSION".into(), "TOTAL_CHECKOUT".into()],
            click_window_days: 30,
            view_window_days: 1,
            at_conversion_time: false,
            ids: Some(["a".to_owned()].into()),
        };
        let rows = rows(&q, "acc", ts, &[checkout(day * DAY + 30)], &[]);
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].day(), rows[0].hour()), (Some(day), Some(0)));
        assert_eq!(rows[1].hour(), Some(5));
        assert_eq!(rows[0].value("TOTAL_IMPRESSION"), Some(Figure::Count(1)));
        assert_eq!(rows[0].value("TOTAL_CHECKOUT"), None);
        assert_eq!(rows[0].conversions(), 0);
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("d", "1970-01-01").unwrap(), 0);
        assert_eq!(parse_date("d", "2026-11-29").unwrap() * DAY, 1_795_910_400);
        assert_eq!(
            format_date(parse_date("d", "2024-02-29").unwrap()),
            "2024-02-29"
        );
        for bad in [
            "2023-02-29",
            "2026-13-01",
            "26-11-29",
            "2026-11-29T00",
            "yesterday",
            "",
        ] {
            assert!(parse_date("d", bad).is_err(), "{bad}");
        }
    }
}
