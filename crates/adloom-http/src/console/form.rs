//! The Ads Manager's forms as data: each field is one of the API's fields
//! (its path in the API's JSON, `targeting_spec.GEO` for a nested one) with
//! the way the form shows it. A posted form becomes the JSON object the API
//! takes, so it goes through the API's rules; a stored object's answer
//! fills the form back in.

use std::collections::BTreeMap;

use adloom_core::report::{format_date, parse_date};
use adloom_core::Invalid;
use maud::{html, Markup};
use serde_json::{json, Map, Value};

const DAY: i64 = 86_400;

/// How a field is shown and read.
#[derive(Clone, Copy)]
pub enum Input {
    Text,
    LongText,
    Url,
    /// Micro-currency in the API; currency units (`12.50`) on the form.
    Money,
    Count,
    /// Unix seconds in the API; a UTC date on the form. An end date ends
    /// with its day.
    Date {
        end: bool,
    },
    /// One of the names.
    Choice(fn() -> Vec<&'static str>),
    /// One of the names, or none (null in the API).
    MaybeChoice(&'static str, fn() -> Vec<&'static str>),
    /// Any of the names: a list in the API.
    Choices(fn() -> Vec<&'static str>),
    /// Comma-separated on the form, a list in the API.
    List,
    /// One of the ad account's objects, offered by name.
    Pick(Options),
    /// Any of the ad account's objects: a list of ids in the API.
    PickMany(Options),
    /// An image to upload: not in the API's JSON (the form's handler
    /// keeps it and puts its address in another field).
    Image,
}

/// Which of the account's objects a [`Input::Pick`] offers.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Options {
    Campaigns,
    AdGroups,
    Audiences,
    CustomerLists,
    Tags,
}

#[derive(Clone, Copy)]
pub struct Field {
    pub path: &'static str,
    pub label: &'static str,
    pub input: Input,
    pub hint: &'static str,
    /// Shown only when the record exists (a new object starts ACTIVE).
    pub edit_only: bool,
}

pub const fn field(path: &'static str, label: &'static str, input: Input) -> Field {
    Field {
        path,
        label,
        input,
        hint: "",
        edit_only: false,
    }
}

impl Field {
    pub const fn hint(mut self, hint: &'static str) -> Field {
        self.hint = hint;
        self
    }

    pub const fn edit_only(mut self) -> Field {
        self.edit_only = true;
        self
    }

    fn html_id(&self) -> String {
        format!("f-{}", self.path.replace('.', "-"))
    }
}

/// A form's values as typed: each field's path with its strings.
pub type Values = BTreeMap<String, Vec<String>>;

/// The values a posted form holds for `fields`.
pub fn posted(fields: &[Field], pairs: &[(String, String)]) -> Values {
    let mut values = Values::new();
    for f in fields {
        let typed: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| k == f.path)
            .map(|(_, v)| v.trim().to_owned())
            .collect();
        values.insert(f.path.to_owned(), typed);
    }
    values
}

/// The values of a stored object's answer, as its form shows them.
pub fn values_of(fields: &[Field], answer: &Value) -> Values {
    let mut values = Values::new();
    for f in fields {
        let pointer = format!("/{}", f.path.replace('.', "/"));
        let v = answer.pointer(&pointer).unwrap_or(&Value::Null);
        let shown = match (f.input, v) {
            (_, Value::Null) => Vec::new(),
            (Input::Money, Value::Number(n)) => vec![money(n.as_u64().unwrap_or(0))],
            (Input::Date { end }, Value::Number(n)) => {
                let t = n.as_i64().unwrap_or(0);
                vec![format_date(if end {
                    (t - 1).div_euclid(DAY)
                } else {
                    t.div_euclid(DAY)
                })]
            }
            (Input::List, Value::Array(items)) => vec![items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")],
            (_, Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            (_, Value::String(s)) => vec![s.clone()],
            (_, other) => vec![other.to_string()],
        };
        values.insert(f.path.to_owned(), shown);
    }
    values
}

/// `12500000` micro-currency as `12.50`; finer amounts keep their digits.
pub fn money(micros: u64) -> String {
    let (units, rest) = (micros / 1_000_000, micros % 1_000_000);
    let mut cents = format!("{rest:06}");
    while cents.len() > 2 && cents.ends_with('0') {
        cents.pop();
    }
    format!("{units}.{cents}")
}

/// `12.5` as micro-currency.
fn parse_money(path: &str, s: &str) -> Result<u64, Invalid> {
    let bad = || Invalid::new(path, "must be an amount such as 12.50");
    let (units, fraction) = s.split_once('.').unwrap_or((s, ""));
    if units.is_empty() && fraction.is_empty()
        || fraction.len() > 6
        || !units
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let units: u64 = if units.is_empty() {
        0
    } else {
        units.parse().map_err(|_| bad())?
    };
    let fraction: u64 = format!("{fraction:0<6}").parse().map_err(|_| bad())?;
    units
        .checked_mul(1_000_000)
        .and_then(|u| u.checked_add(fraction))
        .ok_or_else(bad)
}

/// The JSON object the API takes for these values: empty fields are null,
/// so that an edit can clear them.
pub fn to_json(
    fields: &[Field],
    values: &Values,
    editing: bool,
) -> Result<Map<String, Value>, Invalid> {
    let mut out = Map::new();
    for f in fields {
        if f.edit_only && !editing || matches!(f.input, Input::Image) {
            continue;
        }
        let typed = values.get(f.path).map(Vec::as_slice).unwrap_or_default();
        let first = typed.first().map(String::as_str).unwrap_or("");
        let value = match f.input {
            Input::Choices(_) | Input::PickMany(_) => json!(typed),
            Input::List => json!(first
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()),
            _ if first.is_empty() => Value::Null,
            Input::Money => json!(parse_money(f.path, first)?),
            Input::Count => json!(first
                .parse::<u64>()
                .map_err(|_| Invalid::new(f.path, "must be a whole number"))?),
            Input::Date { end } => {
                let day = parse_date(f.path, first)?;
                json!(if end { (day + 1) * DAY } else { day * DAY })
            }
            _ => json!(first),
        };
        match f.path.split_once('.') {
            Some((outer, inner)) => {
                let nested = out.entry(outer).or_insert_with(|| json!({}));
                nested[inner] = value;
            }
            None => {
                out.insert(f.path.to_owned(), value);
            }
        }
    }
    Ok(out)
}

/// `WEB_CONVERSION` as `Web conversion`.
pub fn humanize(name: &str) -> String {
    // Names that are not words.
    match name {
        "iphone" => return "iPhone".to_owned(),
        "ipad" => return "iPad".to_owned(),
        "CLICKTHROUGH" => return "Click".to_owned(),
        _ => {}
    }
    let lower = name.replace('_', " ").to_lowercase();
    let mut chars = lower.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => lower,
    }
}

/// The account's objects a pick offers: id and name.
pub type Offered = BTreeMap<Options, Vec<(String, String)>>;

/// The fields, filled with `values`, each with its refusal if `error` is
/// about it.
pub fn render(
    fields: &[Field],
    values: &Values,
    offered: &Offered,
    error: Option<&Invalid>,
    editing: bool,
) -> Markup {
    html! {
        @for f in fields.iter().filter(|f| editing || !f.edit_only) {
            (render_field(f, values.get(f.path).map(Vec::as_slice).unwrap_or_default(), offered,
                error.filter(|e| e.field == f.path).map(|e| e.reason.as_str())))
        }
    }
}

fn render_field(f: &Field, typed: &[String], offered: &Offered, error: Option<&str>) -> Markup {
    let id = f.html_id();
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let described = match (f.hint.is_empty(), error.is_some()) {
        (true, false) => None,
        (false, false) => Some(hint_id.clone()),
        (true, true) => Some(error_id.clone()),
        (false, true) => Some(format!("{hint_id} {error_id}")),
    };
    let first = typed.first().map(String::as_str).unwrap_or("");
    let many = |names: Vec<(String, String)>| {
        html! {
            fieldset class="field" aria-describedby=[described.as_deref()] {
                legend { (f.label) }
                @if names.is_empty() { p class="hint" { "None yet." } }
                @for (i, (value, label)) in names.iter().enumerate() {
                    label class="check" {
                        input type="checkbox" id={ (id) "-" (i) } name=(f.path) value=(value)
                            checked[typed.contains(value)];
                        " " (label)
                    }
                }
                (notes(f.hint, &hint_id, error, &error_id))
            }
        }
    };
    match f.input {
        Input::Choices(names) => many(
            names()
                .into_iter()
                .map(|n| (n.to_owned(), humanize(n)))
                .collect(),
        ),
        Input::PickMany(options) => many(offered.get(&options).cloned().unwrap_or_default()),
        _ => html! {
            div class={ "field" @if error.is_some() { " invalid" } } {
                label for=(id) { (f.label) }
                @match f.input {
                    Input::LongText => {
                        textarea id=(id) name=(f.path) rows="3" aria-describedby=[described.as_deref()]
                            aria-invalid=[error.map(|_| "true")] { (first) }
                    }
                    Input::MaybeChoice(none, names) => {
                        select id=(id) name=(f.path) aria-describedby=[described.as_deref()]
                            aria-invalid=[error.map(|_| "true")] {
                            option value="" { (none) }
                            @for n in names() {
                                option value=(n) selected[n == first] { (humanize(n)) }
                            }
                        }
                    }
                    Input::Choice(names) => {
                        select id=(id) name=(f.path) aria-describedby=[described.as_deref()]
                            aria-invalid=[error.map(|_| "true")] {
                            @for n in names() {
                                option value=(n) selected[n == first] { (humanize(n)) }
                            }
                        }
                    }
                    Input::Pick(options) => {
                        select id=(id) name=(f.path) aria-describedby=[described.as_deref()]
                            aria-invalid=[error.map(|_| "true")] {
                            @for (value, label) in offered.get(&options).map(Vec::as_slice).unwrap_or_default() {
                                option value=(value) selected[value == first] { (label) }
                            }
                        }
                    }
                    Input::Image => {
                        input id=(id) name=(f.path) type="file" accept="image/png,image/jpeg,image/webp"
                            aria-describedby=[described.as_deref()] aria-invalid=[error.map(|_| "true")];
                    }
                    _ => {
                        input id=(id) name=(f.path) value=(first)
                            type=(match f.input { Input::Url => "url", Input::Date { .. } => "date", _ => "text" })
                            inputmode=[match f.input { Input::Money => Some("decimal"), Input::Count => Some("numeric"), _ => None }]
                            aria-describedby=[described.as_deref()]
                            aria-invalid=[error.map(|_| "true")];
                    }
                }
                (notes(f.hint, &hint_id, error, &error_id))
            }
        },
    }
}

fn notes(hint: &str, hint_id: &str, error: Option<&str>, error_id: &str) -> Markup {
    html! {
        @if !hint.is_empty() { p class="hint" id=(hint_id) { (hint) } }
        @if let Some(e) = error { p class="field-error" id=(error_id) { (e) } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_reads_and_writes_currency_units() {
        for (typed, micros) in [
            ("12.50", 12_500_000),
            ("0.3", 300_000),
            ("7", 7_000_000),
            (".25", 250_000),
        ] {
            assert_eq!(parse_money("bid", typed).unwrap(), micros, "{typed}");
        }
        for bad in [
            "",
            ".",
            "1.2345678",
            "-1",
            "1,50",
            "1e3",
            "99999999999999999",
        ] {
            assert!(parse_money("bid", bad).is_err(), "{bad}");
        }
        assert_eq!(money(12_500_000), "12.50");
        assert_eq!(money(1_234_567), "1.234567");
        assert_eq!(parse_money("bid", &money(1_234_567)).unwrap(), 1_234_567);
    }

    #[test]
    fn a_form_round_trips_through_the_apis_json() {
        let fields = [
            field("name", "Name", Input::Text),
            field("bid_in_micro_currency", "Bid", Input::Money),
            field("start_time", "Start", Input::Date { end: false }),
            field("end_time", "End", Input::Date { end: true }),
            field("targeting_spec.GEO", "Countries", Input::List),
            field(
                "targeting_spec.GENDER",
                "Gender",
                Input::Choices(|| vec!["female", "male"]),
            ),
        ];
        let pairs: Vec<(String, String)> = [
            ("name", " Spring "),
            ("bid_in_micro_currency", "2.5"),
            ("start_time", "2026-12-01"),
            ("end_time", "2026-12-31"),
            ("targeting_spec.GEO", "US, BE-VOV,"),
            ("targeting_spec.GENDER", "female"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let json = Value::Object(to_json(&fields, &posted(&fields, &pairs), false).unwrap());
        assert_eq!(json["name"], "Spring");
        assert_eq!(json["bid_in_micro_currency"], 2_500_000);
        assert_eq!(json["start_time"], 1_796_083_200);
        assert_eq!(json["end_time"], 1_796_083_200 + 31 * DAY);
        assert_eq!(
            json["targeting_spec"],
            json!({"GEO": ["US", "BE-VOV"], "GENDER": ["female"]})
        );
        let back = values_of(&fields, &json);
        assert_eq!(back["end_time"], ["2026-12-31"]);
        assert_eq!(back["bid_in_micro_currency"], ["2.50"]);
        assert_eq!(back["targeting_spec.GEO"], ["US, BE-VOV"]);
        let bad = [("bid_in_micro_currency".to_owned(), "lots".to_owned())];
        let e = to_json(&fields, &posted(&fields, &bad), false).unwrap_err();
        assert_eq!(e.field, "bid_in_micro_currency");
    }
}
