//! "Contact us": what a person asks the operator about ads on the help page.
//!
//! A message is stored with anything that looks like an email address or a
//! phone number masked: adloom keeps no plain contact identifiers, and the
//! operator answers through the platform, which knows the person by their
//! user id.

use serde::{Deserialize, Serialize};

use crate::error::Invalid;

/// The topics the form offers.
pub const TOPICS: [(&str, &str); 4] = [
    ("why_this_ad", "Why I see an ad"),
    ("partner_info", "Use of info from ad partners"),
    ("opt_out", "Opting out on the web or on my device"),
    ("other", "Something else"),
];

pub const MAX_MESSAGE_CHARS: usize = 4_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportRequest {
    pub id: String,
    /// The person who asked, when they were signed in.
    pub user_id: Option<String>,
    pub topic: String,
    pub message: String,
    pub created_time: i64,
}

impl SupportRequest {
    /// Checks the form and masks contact details in the message.
    pub fn new(
        id: String,
        user_id: Option<String>,
        topic: &str,
        message: &str,
        now: i64,
    ) -> Result<SupportRequest, Invalid> {
        if !TOPICS.iter().any(|(code, _)| *code == topic) {
            return Err(Invalid::new("topic", "choose one of the topics"));
        }
        let message = message.trim();
        if message.is_empty() {
            return Err(Invalid::new("message", "write a few words"));
        }
        if message.chars().count() > MAX_MESSAGE_CHARS {
            return Err(Invalid::new(
                "message",
                format!("at most {MAX_MESSAGE_CHARS} characters"),
            ));
        }
        Ok(SupportRequest {
            id,
            user_id,
            topic: topic.to_owned(),
            message: mask_contact_details(message),
            created_time: now,
        })
    }
}

/// Replaces words that look like email addresses, and runs of seven or more
/// digits (phone numbers, with their usual separators), with placeholders.
/// The text is normalized first ([`normalize_spellings`]), so that
/// fullwidth digits, other dashes, `jane.doe @ example.com` or
/// `jane.doe(at)example.com` are masked like the plain spellings.
pub fn mask_contact_details(text: &str) -> String {
    let text = normalize_spellings(text);
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let words: Vec<String> = line
            .split(' ')
            .map(|word| {
                let at = word.find('@');
                let looks_like_email = at.is_some_and(|at| {
                    at > 0 && word[at + 1..].contains('.') && !word.ends_with('@')
                });
                if looks_like_email {
                    "[email removed]".to_owned()
                } else {
                    word.to_owned()
                }
            })
            .collect();
        out.push_str(&mask_numbers(&words.join(" ")));
    }
    out
}

/// Unicode NFKC (fullwidth and other compatibility forms become plain: `１`
/// is `1`, `＠` is `@`), every dash and minus as `-`, and the ways people
/// write an email's `@` to get past filters (`(at)`, `[at]`, `{at}`, and
/// spaces around `@`) as a plain `@`; likewise `(dot)` and `[dot]`.
pub fn normalize_spellings(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let plain: String = text
        .nfkc()
        .map(|c| match c {
            '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' => '-',
            c => c,
        })
        .collect();
    let mut out = String::with_capacity(plain.len());
    let mut rest = plain.as_str();
    while let Some(c) = rest.chars().next() {
        let word = |w: &str| {
            rest.get(..w.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(w))
        };
        if let Some(w) = ["(at)", "[at]", "{at}", "(dot)", "[dot]", "{dot}"]
            .into_iter()
            .find(|w| word(w))
        {
            // Spaces around a spelled-out `@` or `.` go with it.
            while out.ends_with(' ') {
                out.pop();
            }
            out.push(if w.contains("at") { '@' } else { '.' });
            rest = rest[w.len()..].trim_start_matches(' ');
            continue;
        }
        if c == '@' {
            while out.ends_with(' ') {
                out.pop();
            }
            out.push('@');
            rest = rest[1..].trim_start_matches(' ');
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Masks runs of at least seven digits, counting `+ - . / ( )` and single
/// spaces between digits as part of the run.
fn mask_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let starts = chars[i].is_ascii_digit() || (chars[i] == '+' || chars[i] == '(');
        if starts {
            let mut j = i;
            let mut digits = 0;
            let mut last_digit = i;
            while j < chars.len() {
                let c = chars[j];
                if c.is_ascii_digit() {
                    digits += 1;
                    last_digit = j;
                } else {
                    let separator = matches!(c, '+' | '-' | '.' | '/' | '(' | ')' | ' ');
                    let double_space = c == ' ' && chars.get(j + 1) == Some(&' ');
                    if !separator || double_space {
                        break;
                    }
                }
                j += 1;
            }
            if digits >= 7 {
                out.push_str("[number removed]");
                i = last_digit + 1;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_details_are_masked() {
        assert_eq!(
            mask_contact_details("write to Jane.Doe@example.com or call +1 (415) 555-0100 today"),
            "write to [email removed] or call [number removed] today"
        );
        assert_eq!(
            mask_contact_details("I saw 3 ads for shoes, order 12345.\nthanks"),
            "I saw 3 ads for shoes, order 12345.\nthanks"
        );
        assert_eq!(mask_contact_details("me@"), "me@");
    }

    /// Issue 13, finding 13: the spellings that got past the masking.
    #[test]
    fn contact_details_are_masked_however_they_are_spelled() {
        let cases = [
            ("call 415/555/0123", "call [number removed]"),
            ("call 415–555–0123", "call [number removed]"),
            ("call 415—555—0123 now", "call [number removed] now"),
            ("call ４１５５５５０１２３", "call [number removed]"),
            ("call +１ (４１５) ５５５-０１２３", "call [number removed]"),
            (
                "mail jane.doe @ example.com please",
                "mail [email removed] please",
            ),
            ("mail jane.doe(at)example.com", "mail [email removed]"),
            (
                "mail jane.doe [AT] example [dot] com",
                "mail [email removed]",
            ),
            ("mail jane.doe＠example.com", "mail [email removed]"),
            (
                "mail ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ",
                "mail [email removed]",
            ),
            // Ordinary text is left as it was written.
            (
                "look at the ad, it's 20% off",
                "look at the ad, it's 20% off",
            ),
            ("order 12345, size 10 - 11", "order 12345, size 10 - 11"),
        ];
        for (text, masked) in cases {
            assert_eq!(mask_contact_details(text), masked, "{text}");
        }
    }

    #[test]
    fn the_form_is_checked() {
        let ok = SupportRequest::new("1".into(), None, "other", " hello ", 5).unwrap();
        assert_eq!(ok.message, "hello");
        assert!(SupportRequest::new("1".into(), None, "nope", "hi", 5).is_err());
        assert!(SupportRequest::new("1".into(), None, "other", "  ", 5).is_err());
        let long = "x".repeat(MAX_MESSAGE_CHARS + 1);
        assert!(SupportRequest::new("1".into(), None, "other", &long, 5).is_err());
    }
}
