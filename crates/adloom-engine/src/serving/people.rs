//! What decisions need to know about people, in memory: their profile
//! (country, interests, age, gender, locale), their setting and what their
//! last known consent strings refuse. Loaded once
//! from the store, then kept current by the engine's writes to people and
//! settings (`writes`, `settings::record`), so a decision never reads the
//! disk.
//!
//! Writes to people pass through one lock around the store write and the
//! update of the mirror, so the mirror applies them in the order the store
//! committed them, and the first load cannot interleave with a write.

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use adloom_core::consent::strings::{self, TcfPolicy};
use adloom_core::consent::StringRefusals;
use adloom_core::decision::{Hidden, Members};
use adloom_core::feedback;
use adloom_core::person::{Gender, ProfileRef};
use adloom_core::region::Country;

use crate::Engine;
use crate::EngineError;

/// A person as a decision sees them.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub country: Option<Country>,
    /// By its number in the people mirror's `Words`.
    pub locale: Option<Word>,
    /// Lower case, by their numbers in the people mirror's `Words`.
    pub interests: Box<[Word]>,
    pub age: Option<u8>,
    pub gender: Option<Gender>,
    pub use_partner_info: Option<bool>,
    /// What their last known consent strings refuse, read once as the
    /// profile loads (a decision that carries strings uses its own).
    pub strings: StringRefusals,
    /// The ads and advertisers they hid; `None` for the many who hid
    /// nothing (one pointer per person, not two empty lists).
    pub hidden: Option<Arc<Hidden>>,
}

impl Profile {
    pub fn of(
        person: ProfileRef<'_>,
        use_partner_info: Option<bool>,
        tcf: &TcfPolicy,
        words: &Words,
    ) -> Profile {
        Profile {
            country: person.country,
            locale: person.locale.map(|l| words.word(l)),
            interests: person
                .interests
                .iter()
                .map(|i| words.word(&lower_case(i)))
                .collect(),
            age: person.age,
            gender: person.gender,
            use_partner_info,
            strings: strings::read_last_known(person.regs, tcf),
            hidden: None,
        }
    }
}

/// `text` in lower case, copied only when it is not already: most
/// interests are, and a million people name three each.
fn lower_case(text: &str) -> std::borrow::Cow<'_, str> {
    if text
        .bytes()
        .all(|b| b.is_ascii() && !b.is_ascii_uppercase())
    {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(text.to_lowercase())
    }
}

/// A person in the mirror: their user id (which audiences' members and
/// person -> audiences share rather than copy) and their profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub user_id: Arc<str>,
    pub profile: Profile,
}

/// The people mirror's table, found by user id. Each slot is one pointer
/// to the person, id and profile together, where a key and a value took
/// three: a million people fill half of a table of two million slots,
/// which took 52 MB and takes 19 MB (each person's allocation grows by
/// the id's 16 bytes, from 64 to 80: 17 MB less in all).
#[derive(Default)]
pub struct Mirror(HashSet<Entry, foldhash::fast::RandomState>);

/// A slot of the mirror: equal to, and hashed as, its user id, so that it
/// is found by a `&str`.
#[derive(Clone)]
struct Entry(Arc<Person>);

impl Borrow<str> for Entry {
    fn borrow(&self) -> &str {
        &self.0.user_id
    }
}

impl Hash for Entry {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (*self.0.user_id).hash(state)
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        self.0.user_id == other.0.user_id
    }
}

impl Eq for Entry {}

impl Mirror {
    fn with_capacity(people: usize) -> Mirror {
        Mirror(HashSet::with_capacity_and_hasher(
            people,
            Default::default(),
        ))
    }

    pub fn get(&self, user_id: &str) -> Option<&Arc<Person>> {
        self.0.get(user_id).map(|e| &e.0)
    }

    /// Puts this profile in place of the person's, keeping the id others
    /// share.
    pub fn insert(&mut self, user_id: &str, profile: Profile) {
        let user_id = self
            .get(user_id)
            .map_or_else(|| user_id.into(), |p| Arc::clone(&p.user_id));
        self.0.replace(Entry(Arc::new(Person { user_id, profile })));
    }

    pub fn remove(&mut self, user_id: &str) {
        self.0.remove(user_id);
    }

    /// Changes the person's profile, if the mirror has them (a decision
    /// holding the profile as it was keeps that).
    pub fn update(&mut self, user_id: &str, change: impl FnOnce(&mut Profile)) {
        if let Some(Entry(mut person)) = self.0.take(user_id) {
            change(&mut Arc::make_mut(&mut person).profile);
            self.0.insert(Entry(person));
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Person> {
        self.0.iter().map(|e| &*e.0)
    }
}

/// An interest or a locale, by its number in [`Words`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Word(u32);

/// A map keyed by user ids or words, hashed with foldhash rather than
/// SipHash: a million ids and four million words are hashed at start-up,
/// and ids again on every decision; foldhash is made for short keys (with
/// it, start-up took a tenth less). Its per-process random seed leaves
/// little to flooding, and the keys come from the platform's own people
/// sync.
pub(crate) type IdMap<V> = HashMap<Arc<str>, V, foldhash::fast::RandomState>;

/// The interests and locales people name, each once, by number: a million
/// people name a few thousand words, and three numbers take 12 bytes where
/// three shared pointers took 48 (a million profiles, 32 MB). Grows with
/// the platform's vocabulary, never per person; a word is never forgotten,
/// so a number always names the same word.
#[derive(Default)]
pub struct Words(RwLock<Vocabulary>);

#[derive(Default)]
struct Vocabulary {
    numbers: IdMap<Word>,
    /// By number.
    texts: Vec<Arc<str>>,
}

impl Words {
    /// The number of `text`, given one if it is new.
    pub fn word(&self, text: &str) -> Word {
        if let Some(word) = adloom_core::sync::read(&self.0).numbers.get(text) {
            return *word;
        }
        let mut vocabulary = adloom_core::sync::write(&self.0);
        if let Some(word) = vocabulary.numbers.get(text) {
            return *word;
        }
        let number = u32::try_from(vocabulary.texts.len())
            .expect("fewer than four billion interests and locales");
        let text: Arc<str> = text.into();
        vocabulary.texts.push(Arc::clone(&text));
        vocabulary.numbers.insert(text, Word(number));
        Word(number)
    }

    /// Every word as it stands, for reading many profiles' words without
    /// taking the lock for each.
    pub fn all(&self) -> Texts {
        Texts(adloom_core::sync::read(&self.0).texts.clone())
    }

    /// The texts of `words`, copied onto `texts` under one read of the
    /// vocabulary (a decision's interests: one lock, no shared counts
    /// touched).
    pub fn push_texts(&self, words: &[Word], texts: &mut Vec<String>) {
        let vocabulary = adloom_core::sync::read(&self.0);
        texts.extend(
            words
                .iter()
                .map(|w| vocabulary.texts[w.0 as usize].to_string()),
        );
    }

    /// The text of `word`.
    pub fn text(&self, word: Word) -> Arc<str> {
        Arc::clone(&adloom_core::sync::read(&self.0).texts[word.0 as usize])
    }
}

/// The words of `Words` as they stood, by number.
pub struct Texts(Vec<Arc<str>>);

impl Texts {
    /// The text of `word` (which must be from the `Words` these came from,
    /// and numbered before they were taken).
    pub fn text(&self, word: Word) -> &str {
        &self.0[word.0 as usize]
    }
}

#[derive(Default)]
pub struct People {
    profiles: RwLock<Mirror>,
    /// The strings profiles share.
    pub words: Arc<Words>,
    /// Set once the first load finished: decisions check it without
    /// taking the write lock.
    ready: AtomicBool,
    /// Held across a store write to people and the mirror's update, and
    /// across the first load.
    writes: tokio::sync::Mutex<bool>,
}

/// Loads people this many at a time.
const LOAD_PAGE: usize = 10_000;

impl People {
    /// These user ids as the mirror holds them, for the serving state's
    /// other tables to share rather than copy (a new one for someone the
    /// mirror does not know), and how many of them the mirror knows and
    /// `counts` accepts: one lookup a person, under one lock.
    pub fn shared_ids(
        &self,
        mut user_ids: Vec<String>,
        counts: impl Fn(&Profile) -> bool,
    ) -> (Members, usize) {
        // Each counted once (one pass when sorted already, as the store
        // returns them).
        user_ids.sort_unstable();
        user_ids.dedup();
        let profiles = adloom_core::sync::read(&self.profiles);
        let mut counted = 0;
        let shared = user_ids
            .into_iter()
            .map(|user_id| match profiles.get(user_id.as_str()) {
                Some(person) => {
                    counted += usize::from(counts(&person.profile));
                    Arc::clone(&person.user_id)
                }
                None => user_id.into(),
            })
            .collect();
        (shared, counted)
    }

    pub fn get(&self, user_id: &str) -> Option<Arc<Person>> {
        adloom_core::sync::read(&self.profiles)
            .get(user_id)
            .cloned()
    }

    /// Folds every person into `init`, with the words their profiles name.
    pub fn fold<T>(&self, init: T, mut f: impl FnMut(T, &Texts, &Person) -> T) -> T {
        let profiles = adloom_core::sync::read(&self.profiles);
        // Taken under the lock: every profile it lets through had its
        // words numbered before it came in.
        let words = self.words.all();
        profiles
            .iter()
            .fold(init, |acc, person| f(acc, &words, person))
    }

    pub fn is_loaded(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Runs a write to people in the store, then applies what it returns
    /// to the mirror, under the write lock. Before the first load there is
    /// nothing to apply: the load reads what the store committed.
    pub async fn write<T, F, Fut>(
        &self,
        store_write: F,
        apply: impl FnOnce(&T, &mut Mirror),
    ) -> Result<T, EngineError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, EngineError>>,
    {
        let loaded = self.writes.lock().await;
        let out = store_write().await?;
        if *loaded {
            apply(&out, &mut adloom_core::sync::write(&self.profiles));
        }
        Ok(out)
    }

    /// Reads these people and their settings again from the store, as
    /// another node changed them.
    pub async fn reload(
        &self,
        engine: &Engine,
        user_ids: &std::collections::BTreeSet<String>,
    ) -> Result<(), EngineError> {
        let loaded = self.writes.lock().await;
        if !*loaded {
            // The first load, still to come, will read them.
            return Ok(());
        }
        for user_id in user_ids {
            let person = engine.store.get_person(user_id).await?;
            let profile = match person {
                Some(p) => {
                    let setting = engine.store.get_ads_setting(user_id).await?;
                    let mut profile = Profile::of(
                        p.profile(),
                        setting.use_partner_info,
                        &engine.config.tcf,
                        &self.words,
                    );
                    profile.hidden = hidden_of(engine, std::slice::from_ref(user_id))
                        .await?
                        .remove(user_id);
                    Some(profile)
                }
                None => None,
            };
            let mut profiles = adloom_core::sync::write(&self.profiles);
            match profile {
                Some(p) => profiles.insert(user_id, p),
                None => profiles.remove(user_id),
            };
        }
        Ok(())
    }

    /// Reads everyone again: too many changed to name, or changes may
    /// have been missed.
    pub async fn reload_all(&self, engine: &Engine) -> Result<(), EngineError> {
        let mut loaded = self.writes.lock().await;
        if !*loaded {
            return self.load_locked(engine, &mut loaded).await;
        }
        let fresh = read_everyone(engine).await?;
        *adloom_core::sync::write(&self.profiles) = fresh;
        Ok(())
    }

    /// Loads every person from the store, once.
    pub async fn ensure_loaded(&self, engine: &Engine) -> Result<(), EngineError> {
        if self.ready.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut loaded = self.writes.lock().await;
        self.load_locked(engine, &mut loaded).await
    }

    async fn load_locked(&self, engine: &Engine, loaded: &mut bool) -> Result<(), EngineError> {
        if *loaded {
            return Ok(());
        }
        *adloom_core::sync::write(&self.profiles) = read_everyone(engine).await?;
        *loaded = true;
        self.ready.store(true, Ordering::Release);
        Ok(())
    }
}

/// What each of these people hid, by user id.
async fn hidden_of(
    engine: &Engine,
    users: &[String],
) -> Result<HashMap<String, Arc<Hidden>>, EngineError> {
    let mut by_user: HashMap<String, Vec<feedback::HiddenAd>> = HashMap::new();
    for (user, h) in engine.store.hidden_ads(users).await? {
        by_user.entry(user).or_default().push(h);
    }
    Ok(by_user
        .into_iter()
        .map(|(user, items)| (user, Arc::new(feedback::hidden(&items))))
        .collect())
}

/// Every person and their setting, from the store, a page at a time.
async fn read_everyone(engine: &Engine) -> Result<Mirror, EngineError> {
    let mut everyone = Vec::new();
    let mut after = None;
    loop {
        let page = engine
            .store
            .profiles_with_settings(after.clone(), LOAD_PAGE)
            .await?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.user_id.clone());
        let users: Vec<String> = page.iter().map(|(p, _)| p.user_id.clone()).collect();
        let mut hidden = hidden_of(engine, &users).await?;
        for (person, setting) in &page {
            let mut profile = Profile::of(
                person.profile(),
                *setting,
                &engine.config.tcf,
                &engine.serving.people.words,
            );
            profile.hidden = hidden.remove(&person.user_id);
            everyone.push(Entry(Arc::new(Person {
                user_id: person.user_id.as_str().into(),
                profile,
            })));
        }
        if page.len() < LOAD_PAGE {
            break;
        }
    }
    // Made once everyone is read, at its final size: grown a page at a
    // time, the table was rehashed as it doubled (a fifth of the load's
    // time at a million people).
    let mut mirror = Mirror::with_capacity(everyone.len());
    mirror.0.extend(everyone);
    Ok(mirror)
}

#[cfg(test)]
mod tests {
    use super::{lower_case, Mirror, Profile, Words};
    use std::borrow::Cow;
    use std::sync::Arc;

    fn aged(age: u8) -> Profile {
        Profile {
            country: None,
            locale: None,
            interests: Box::new([]),
            age: Some(age),
            gender: None,
            use_partner_info: None,
            strings: Default::default(),
            hidden: None,
        }
    }

    #[test]
    fn the_mirror_finds_people_by_id_and_keeps_the_id_others_share() {
        let mut mirror = Mirror::default();
        mirror.insert("u1", aged(30));
        mirror.insert("u2", aged(40));
        let shared = Arc::clone(&mirror.get("u1").unwrap().user_id);
        mirror.insert("u1", aged(31));
        let u1 = mirror.get("u1").unwrap();
        assert_eq!(u1.profile.age, Some(31));
        assert!(
            Arc::ptr_eq(&u1.user_id, &shared),
            "the id is not copied again"
        );
        assert_eq!(mirror.get("u2").unwrap().profile.age, Some(40));
        mirror.remove("u2");
        assert!(mirror.get("u2").is_none());
        assert!(mirror.get("u3").is_none());
        assert_eq!(mirror.iter().count(), 1);
    }

    #[test]
    fn a_profile_held_by_a_decision_stays_as_it_was_when_the_mirror_changes() {
        let mut mirror = Mirror::default();
        mirror.insert("u1", aged(30));
        let held = Arc::clone(mirror.get("u1").unwrap());
        mirror.update("u1", |p| p.use_partner_info = Some(false));
        mirror.update("u9", |p| p.use_partner_info = Some(false));
        assert_eq!(held.profile.use_partner_info, None);
        let now = mirror.get("u1").unwrap();
        assert_eq!(now.profile.use_partner_info, Some(false));
        assert_eq!(now.profile.age, Some(30));
        assert!(mirror.get("u9").is_none(), "an update adds no one");
    }

    #[test]
    fn interests_are_copied_only_when_not_already_lower_case() {
        assert!(matches!(
            lower_case("home decor"),
            Cow::Borrowed("home decor")
        ));
        assert_eq!(lower_case("Home Decor"), "home decor");
        assert_eq!(lower_case("ÉTÉ"), "été");
        assert_eq!(lower_case("ǅemal"), "ǆemal");
    }

    #[test]
    fn words_number_each_text_once_and_read_it_back() {
        let words = Words::default();
        let running = words.word("running");
        let decor = words.word("home decor");
        assert_ne!(running, decor);
        assert_eq!(words.word("running"), running);
        assert_eq!(&*words.text(decor), "home decor");
        let mut texts = vec!["mine".to_owned()];
        words.push_texts(&[decor, running], &mut texts);
        assert_eq!(texts, ["mine", "home decor", "running"]);
        let all = words.all();
        assert_eq!(all.text(running), "running");
        // Numbered after `all` was taken: only `text` knows it.
        let late = words.word("travel");
        assert_eq!(&*words.text(late), "travel");
    }
}
