//! Identity resolution: which person an event or a list record is about.

/// Picks the person for an event from the people each of its digests
/// matched, in the order the digests were tried (emails, then phones, then
/// ad IDs). A digest shared by several people (a family phone line) is
/// ambiguous and decides nothing; the first digest that names exactly one
/// person does.
pub fn pick_person<I, P>(matches: I) -> Option<String>
where
    I: IntoIterator<Item = P>,
    P: IntoIterator<Item = String>,
{
    matches.into_iter().find_map(|people| {
        let mut people = people.into_iter();
        match (people.next(), people.next()) {
            (Some(one), None) => Some(one),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn the_first_unambiguous_digest_decides() {
        assert_eq!(pick_person(vec![s(&[]), s(&["a"])]), Some("a".into()));
        assert_eq!(
            pick_person(vec![s(&["a", "b"]), s(&["c"])]),
            Some("c".into())
        );
        assert_eq!(pick_person(vec![s(&["a", "b"])]), None);
        assert_eq!(pick_person(Vec::<Vec<String>>::new()), None);
        assert_eq!(pick_person(vec![s(&["x"]), s(&["y"])]), Some("x".into()));
    }
}
