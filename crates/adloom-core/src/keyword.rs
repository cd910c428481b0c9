//! Search keywords of ad groups, and whether a search query matches them.

use crate::error::Invalid;

named! {
    /// `MatchType`.
    pub enum MatchType {
        Broad = "BROAD",
        Phrase = "PHRASE",
        Exact = "EXACT",
        ExactNegative = "EXACT_NEGATIVE",
        PhraseNegative = "PHRASE_NEGATIVE",
    }
}

impl MatchType {
    /// The match type a request names, or why it is none.
    pub fn required(name: &str) -> Result<MatchType, Invalid> {
        MatchType::parse(name).ok_or_else(|| {
            Invalid::new(
                "match_type",
                format!(
                    "{name:?} is not one of {}",
                    <MatchType as crate::names::Named>::choices()
                ),
            )
        })
    }

    pub fn is_negative(self) -> bool {
        matches!(self, MatchType::ExactNegative | MatchType::PhraseNegative)
    }
}

/// A keyword: its words, lowercase, and how it matches.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Keyword {
    pub value: String,
    pub match_type: MatchType,
}

/// A keyword as an ad group holds it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AdGroupKeyword {
    #[serde(flatten)]
    pub keyword: Keyword,
    /// The ad group.
    pub parent_id: String,
    /// An archived keyword matches no search.
    #[serde(default)]
    pub archived: bool,
}

/// A keyword written as advertisers write them in a list: `[words]` exact,
/// `"words"` phrase, plain words broad; a leading `-` makes an exact or
/// phrase one negative.
pub fn parse_line(line: &str) -> Result<Keyword, Invalid> {
    let line = line.trim();
    let (negative, rest) = match line.strip_prefix('-') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, line),
    };
    let quoted = |open: char, close: char| rest.strip_prefix(open)?.strip_suffix(close);
    let (words, match_type) = match (quoted('[', ']'), quoted('"', '"'), negative) {
        (Some(w), _, false) => (w, MatchType::Exact),
        (Some(w), _, true) => (w, MatchType::ExactNegative),
        (None, Some(w), false) => (w, MatchType::Phrase),
        (None, Some(w), true) => (w, MatchType::PhraseNegative),
        (None, None, false) => (rest, MatchType::Broad),
        (None, None, true) => {
            return Err(Invalid::new(
                "keywords",
                format!("{line:?}: a negative keyword is -[exact words] or -\"phrase words\""),
            ))
        }
    };
    let value = normalize(words)
        .map_err(|e| Invalid::new("keywords", format!("{line:?}: {}", e.reason)))?;
    Ok(Keyword { value, match_type })
}

/// A keyword as [`parse_line`] reads it.
pub fn to_line(k: &Keyword) -> String {
    match k.match_type {
        MatchType::Broad => k.value.clone(),
        MatchType::Phrase => format!("\"{}\"", k.value),
        MatchType::Exact => format!("[{}]", k.value),
        MatchType::PhraseNegative => format!("-\"{}\"", k.value),
        MatchType::ExactNegative => format!("-[{}]", k.value),
    }
}

/// Lowercases and collapses spaces; 1 to 120 characters.
pub fn normalize(value: &str) -> Result<String, Invalid> {
    let value = words(value).join(" ");
    if value.is_empty() || value.chars().count() > 120 {
        return Err(Invalid::new("value", "must be 1 to 120 characters"));
    }
    Ok(value)
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_lowercase).collect()
}

impl Keyword {
    /// Whether the query matches this keyword (for a negative keyword:
    /// whether it blocks the query).
    pub fn matches(&self, query: &str) -> bool {
        let q = words(query);
        let k = words(&self.value);
        match self.match_type {
            MatchType::Broad => k.iter().all(|w| q.contains(w)),
            MatchType::Phrase | MatchType::PhraseNegative => {
                !k.is_empty() && q.windows(k.len()).any(|window| window == k.as_slice())
            }
            MatchType::Exact | MatchType::ExactNegative => q == k,
        }
    }
}

/// What an ad group's keywords say about a search query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchMatch<'a> {
    /// This positive keyword matches (and no negative one blocks).
    Keyword(&'a Keyword),
    /// The ad group has no positive keywords, and no negative one blocks.
    Unrestricted,
    /// A negative keyword blocks the query, or no positive one matches.
    Blocked,
}

/// Whether an ad group with these keywords may show for a search query:
/// no negative keyword matches, and a positive one does if it has any.
pub fn search_match<'a>(keywords: &'a [Keyword], query: &str) -> SearchMatch<'a> {
    if keywords
        .iter()
        .any(|k| k.match_type.is_negative() && k.matches(query))
    {
        return SearchMatch::Blocked;
    }
    let mut positives = keywords
        .iter()
        .filter(|k| !k.match_type.is_negative())
        .peekable();
    if positives.peek().is_none() {
        return SearchMatch::Unrestricted;
    }
    positives
        .find(|k| k.matches(query))
        .map_or(SearchMatch::Blocked, SearchMatch::Keyword)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kw(value: &str, match_type: MatchType) -> Keyword {
        Keyword {
            value: normalize(value).unwrap(),
            match_type,
        }
    }

    #[test]
    fn match_types() {
        let broad = kw("red sneakers", MatchType::Broad);
        assert!(broad.matches("sneakers in red"));
        assert!(!broad.matches("red shoes"));
        let phrase = kw("red sneakers", MatchType::Phrase);
        assert!(phrase.matches("cheap Red  Sneakers online"));
        assert!(!phrase.matches("sneakers red"));
        let exact = kw("red sneakers", MatchType::Exact);
        assert!(exact.matches(" RED sneakers "));
        assert!(!exact.matches("red sneakers sale"));
    }

    #[test]
    fn negatives_block_and_positives_gate() {
        let keywords = [
            kw("sneakers", MatchType::Broad),
            kw("free", MatchType::PhraseNegative),
        ];
        assert_eq!(
            search_match(&keywords, "running sneakers"),
            SearchMatch::Keyword(&keywords[0])
        );
        assert_eq!(
            search_match(&keywords, "free sneakers"),
            SearchMatch::Blocked
        );
        assert_eq!(search_match(&keywords, "boots"), SearchMatch::Blocked);
        let only_negative = [kw("used shoes", MatchType::ExactNegative)];
        assert_eq!(
            search_match(&only_negative, "new shoes"),
            SearchMatch::Unrestricted
        );
        assert_eq!(
            search_match(&only_negative, "used shoes"),
            SearchMatch::Blocked
        );
        assert_eq!(search_match(&[], "anything"), SearchMatch::Unrestricted);
        assert!(normalize("   ").is_err());
        assert!(normalize(&"a".repeat(121)).is_err());
        assert_eq!(
            MatchType::required("phrase").unwrap_err().field,
            "match_type"
        );
    }

    #[test]
    fn a_keyword_list_reads_as_advertisers_write_it() {
        for (line, value, match_type) in [
            ("Running Shoes", "running shoes", MatchType::Broad),
            ("\"trail  shoes\"", "trail shoes", MatchType::Phrase),
            ("[red runner]", "red runner", MatchType::Exact),
            ("-[free shoes]", "free shoes", MatchType::ExactNegative),
            ("- \"cheap\"", "cheap", MatchType::PhraseNegative),
        ] {
            let k = parse_line(line).unwrap();
            assert_eq!(k, kw(value, match_type), "{line}");
            assert_eq!(parse_line(&to_line(&k)).unwrap(), k, "{line}");
        }
        for bad in ["", "[]", "-free", "\"\""] {
            assert_eq!(parse_line(bad).unwrap_err().field, "keywords", "{bad:?}");
        }
    }
}
