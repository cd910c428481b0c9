//! Ad group targeting (`targeting_spec`) and whether one request matches
//! it, with the reasons a person may read ("why am I seeing this ad?").
//!
//! Audiences go through the consent policy here: a partner audience neither
//! includes nor excludes a person whose partner targeting is off
//! (invariant 1), and an audience that is not targetable (under 100 people)
//! neither includes nor excludes anyone (invariant 5).

use std::collections::BTreeMap;

use crate::consent::{ConsentDecision, PartnerSource, Provenance};
use crate::error::Invalid;
use crate::person::Gender;
use crate::region::Country;

const AGE_BUCKETS: [(&str, u8, u8); 10] = [
    ("18-24", 18, 24),
    ("19+", 19, u8::MAX),
    ("20+", 20, u8::MAX),
    ("21+", 21, u8::MAX),
    ("25-34", 25, 34),
    ("35-44", 35, 44),
    ("45-49", 45, 49),
    ("50-54", 50, 54),
    ("55-64", 55, 64),
    ("65+", 65, u8::MAX),
];
/// The `AGE_BUCKET` values, in order.
pub const AGE_BUCKET_NAMES: [&str; AGE_BUCKETS.len()] = {
    let mut names = [""; AGE_BUCKETS.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = AGE_BUCKETS[i].0;
        i += 1;
    }
    names
};
/// The `APPTYPE` values: the devices an ad group may target.
pub const APP_TYPES: [&str; 6] = [
    "android_mobile",
    "android_tablet",
    "ipad",
    "iphone",
    "web",
    "web_mobile",
];

/// An ad group's `targeting_spec`. Every empty list means "everyone".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetingSpec {
    pub audience_include: Vec<String>,
    pub audience_exclude: Vec<String>,
    /// Lowercase; compared case-insensitively with people's interests.
    pub interests: Vec<String>,
    pub genders: Vec<Gender>,
    pub age_buckets: Vec<String>,
    /// From LOCATION and GEO (`"US"`, `"BE-VOV"`, `"US-94107"`): the country.
    pub countries: Vec<Country>,
    pub app_types: Vec<String>,
    /// Language codes, lowercase (`en`), matched against a locale's language.
    pub locales: Vec<String>,
}

/// The request and person the targeting is checked against.
#[derive(Debug, Clone, Default)]
pub struct Viewer {
    /// The person's interests and the request's, lowercase.
    pub interests: Vec<String>,
    pub gender: Option<Gender>,
    pub age: Option<u8>,
    pub country: Option<Country>,
    /// One of the APPTYPE values; `web` when unknown.
    pub app_type: Option<String>,
    pub locale: Option<String>,
}

/// What the audience index says about the viewer and one audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudienceFact {
    /// The viewer is a member; the audience is targetable.
    Member(Provenance),
    /// Not a member (or unknown audience).
    NotMember,
    /// The audience is under 100 people: it counts for no one.
    TooSmall,
}

/// Why a person may see an ad, in words they can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WhyReason {
    Audience(Provenance),
    Interest(String),
    Location(Country),
    Gender(Gender),
    Age(String),
    Device(String),
    Language(String),
    /// The search matched one of the ad group's keywords.
    Search(String),
    /// No targeting narrows this ad group.
    Everyone,
}

impl WhyReason {
    /// Whether this reason rests on partner data.
    pub fn is_partner(&self) -> bool {
        matches!(self, WhyReason::Audience(Provenance::Partner(_)))
    }

    pub fn kind(&self) -> &'static str {
        match self {
            WhyReason::Audience(Provenance::Partner(PartnerSource::CustomerList)) => {
                "customer_list"
            }
            WhyReason::Audience(Provenance::Partner(_)) => "website_visit",
            WhyReason::Audience(Provenance::OnPlatform(_)) => "engagement",
            WhyReason::Interest(_) => "interest",
            WhyReason::Location(_) => "location",
            WhyReason::Gender(_) => "gender",
            WhyReason::Age(_) => "age",
            WhyReason::Device(_) => "device",
            WhyReason::Language(_) => "language",
            WhyReason::Search(_) => "search",
            WhyReason::Everyone => "broad",
        }
    }

    /// "Shoes Inc. wants to reach people who visited their website".
    pub fn text(&self, advertiser: &str) -> String {
        let who = match self {
            WhyReason::Audience(Provenance::Partner(PartnerSource::CustomerList)) => {
                "people on their customer list".to_owned()
            }
            WhyReason::Audience(Provenance::Partner(_)) => {
                "people who visited their website".to_owned()
            }
            WhyReason::Audience(Provenance::OnPlatform(_)) => {
                "people who engaged with their ads".to_owned()
            }
            WhyReason::Interest(i) => format!("people interested in {}", title_case(i)),
            WhyReason::Location(c) => format!("people in {}", country_name(*c)),
            WhyReason::Gender(Gender::Female) => "women".to_owned(),
            WhyReason::Gender(Gender::Male) => "men".to_owned(),
            WhyReason::Gender(Gender::Unknown) => "people who did not give their gender".to_owned(),
            WhyReason::Age(bucket) => format!("people aged {bucket}"),
            WhyReason::Device(d) => format!("people using {}", d.replace('_', " ")),
            WhyReason::Language(l) => format!("people who use the language {l}"),
            WhyReason::Search(k) => format!("people searching for \"{k}\""),
            WhyReason::Everyone => "a broad audience".to_owned(),
        };
        format!("{advertiser} wants to reach {who}")
    }
}

fn title_case(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn country_name(c: Country) -> String {
    match c.as_str() {
        "US" => "the United States".to_owned(),
        "GB" => "the United Kingdom".to_owned(),
        "DE" => "Germany".to_owned(),
        "FR" => "France".to_owned(),
        "CA" => "Canada".to_owned(),
        other => other.to_owned(),
    }
}

/// Why an ad group does not match a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Miss {
    /// A criterion (interest, location, ...) does not fit.
    NotTargeted,
    /// Its include audiences are all too small to target.
    AudienceTooSmall,
    /// The viewer is in an include audience the consent policy does not let
    /// count.
    Consent,
    /// The viewer is in an exclude audience.
    Excluded,
}

impl TargetingSpec {
    /// Checks the request against the spec. `audience` answers for one
    /// audience id. On a match, the reasons (partner ones only where the
    /// consent policy allows them).
    pub fn evaluate(
        &self,
        viewer: &Viewer,
        consent: &ConsentDecision,
        audience: impl Fn(&str) -> AudienceFact,
    ) -> Result<Vec<WhyReason>, Miss> {
        let mut why = Vec::new();
        for id in &self.audience_exclude {
            if let AudienceFact::Member(p) = audience(id) {
                if consent.allows_audience(p) {
                    return Err(Miss::Excluded);
                }
            }
        }
        if !self.audience_include.is_empty() {
            let facts: Vec<AudienceFact> = self
                .audience_include
                .iter()
                .map(|id| audience(id))
                .collect();
            let allowed = facts.iter().find_map(|f| match f {
                AudienceFact::Member(p) if consent.allows_audience(*p) => Some(*p),
                _ => None,
            });
            match allowed {
                Some(p) => why.push(WhyReason::Audience(p)),
                None if facts.iter().any(|f| matches!(f, AudienceFact::Member(_))) => {
                    return Err(Miss::Consent)
                }
                None if facts.iter().all(|f| *f == AudienceFact::TooSmall) => {
                    return Err(Miss::AudienceTooSmall)
                }
                None => return Err(Miss::NotTargeted),
            }
        }
        if !self.interests.is_empty() {
            let hit = self
                .interests
                .iter()
                .find(|i| viewer.interests.iter().any(|v| v.eq_ignore_ascii_case(i)));
            why.push(WhyReason::Interest(hit.ok_or(Miss::NotTargeted)?.clone()));
        }
        if !self.countries.is_empty() {
            let c = viewer
                .country
                .filter(|c| self.countries.contains(c))
                .ok_or(Miss::NotTargeted)?;
            why.push(WhyReason::Location(c));
        }
        if !self.genders.is_empty() {
            let g = viewer.gender.unwrap_or(Gender::Unknown);
            if !self.genders.contains(&g) {
                return Err(Miss::NotTargeted);
            }
            why.push(WhyReason::Gender(g));
        }
        if !self.age_buckets.is_empty() {
            let age = viewer.age.ok_or(Miss::NotTargeted)?;
            let bucket = self
                .age_buckets
                .iter()
                .find(|b| {
                    AGE_BUCKETS
                        .iter()
                        .any(|(name, lo, hi)| name == b && (*lo..=*hi).contains(&age))
                })
                .ok_or(Miss::NotTargeted)?;
            why.push(WhyReason::Age(bucket.clone()));
        }
        if !self.app_types.is_empty() {
            let app = viewer.app_type.clone().unwrap_or_else(|| "web".to_owned());
            if !self.app_types.contains(&app) {
                return Err(Miss::NotTargeted);
            }
            why.push(WhyReason::Device(app));
        }
        if !self.locales.is_empty() {
            let language = viewer
                .locale
                .as_deref()
                .and_then(|l| l.split(['-', '_']).next())
                .map(str::to_ascii_lowercase)
                .ok_or(Miss::NotTargeted)?;
            if !self.locales.contains(&language) {
                return Err(Miss::NotTargeted);
            }
            why.push(WhyReason::Language(language));
        }
        if why.is_empty() {
            why.push(WhyReason::Everyone);
        }
        Ok(why)
    }

    /// What a `targeting_spec` as sent means; keys adloom does not read
    /// are ignored.
    pub fn parse(sent: &AsSent) -> Result<TargetingSpec, Invalid> {
        let list = |key: &str| -> Result<Vec<String>, Invalid> {
            Ok(sent
                .get(key)
                .map(|items| items.iter().map(|i| i.trim().to_owned()).collect())
                .unwrap_or_default())
        };
        let ids = |key: &str| -> Result<Vec<String>, Invalid> {
            let ids = list(key)?;
            match ids.iter().find(|id| !crate::ad_account::is_valid_id(id)) {
                Some(bad) => Err(Invalid::new(
                    format!("targeting_spec.{key}"),
                    format!("{bad:?} is not an audience id"),
                )),
                None => Ok(ids),
            }
        };
        let one_of = |key: &str, allowed: &[&str]| -> Result<Vec<String>, Invalid> {
            let values: Vec<String> = list(key)?
                .into_iter()
                .map(|v| v.to_ascii_lowercase())
                .collect();
            match values.iter().find(|v| !allowed.contains(&v.as_str())) {
                Some(bad) => Err(Invalid::new(
                    format!("targeting_spec.{key}"),
                    format!("{bad:?} is not one of {}", allowed.join(", ")),
                )),
                None => Ok(values),
            }
        };
        let genders = one_of("GENDER", &["unknown", "male", "female"])?
            .iter()
            .map(|g| match g.as_str() {
                "male" => Gender::Male,
                "female" => Gender::Female,
                _ => Gender::Unknown,
            })
            .collect();
        let bucket_names: Vec<&str> = AGE_BUCKETS.iter().map(|(n, _, _)| *n).collect();
        let mut countries = Vec::new();
        for key in ["LOCATION", "GEO"] {
            for code in list(key)? {
                let country = code
                    .split('-')
                    .next()
                    .and_then(Country::parse)
                    .ok_or_else(|| {
                        Invalid::new(
                            format!("targeting_spec.{key}"),
                            format!("{code:?} is not a country or region code"),
                        )
                    })?;
                if !countries.contains(&country) {
                    countries.push(country);
                }
            }
        }
        let locales = list("LOCALE")?
            .into_iter()
            .map(|l| {
                l.split(['-', '_'])
                    .next()
                    .unwrap_or_default()
                    .to_ascii_lowercase()
            })
            .collect::<Vec<_>>();
        if locales
            .iter()
            .any(|l| l.len() != 2 || !l.bytes().all(|b| b.is_ascii_lowercase()))
        {
            return Err(Invalid::new(
                "targeting_spec.LOCALE",
                "must be ISO 639-1 language codes such as en",
            ));
        }
        Ok(TargetingSpec {
            audience_include: ids("AUDIENCE_INCLUDE")?,
            audience_exclude: ids("AUDIENCE_EXCLUDE")?,
            interests: list("INTEREST")?
                .into_iter()
                .map(|i| i.to_lowercase())
                .filter(|i| !i.is_empty())
                .collect(),
            genders,
            age_buckets: one_of("AGE_BUCKET", &bucket_names)?,
            countries,
            app_types: one_of("APPTYPE", &APP_TYPES)?,
            locales,
        })
    }
}

/// An ad group's `targeting_spec` as the advertiser sent it: each key
/// adloom reads ([`KEYS`]) with its values, trimmed, in the order sent.
pub type AsSent = BTreeMap<String, Vec<String>>;

/// The `targeting_spec` keys adloom reads and serves by.
pub const KEYS: [&str; 9] = [
    "AUDIENCE_INCLUDE",
    "AUDIENCE_EXCLUDE",
    "INTEREST",
    "GENDER",
    "AGE_BUCKET",
    "LOCATION",
    "GEO",
    "APPTYPE",
    "LOCALE",
];

#[cfg(test)]
pub(crate) mod tests;
