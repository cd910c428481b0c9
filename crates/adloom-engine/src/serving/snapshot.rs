//! The catalog as decisions see it, in memory: every ad group in auction
//! order with the retrieval index over it, the budgets, pins and audiences.
//!
//! It is kept per ad account and follows changes incrementally: a write to
//! one account's campaigns, ad groups, ads, pins, keywords, lists or
//! audiences re-reads that account only; events of an account (tag pixels,
//! conversions, beacons) recompute that account's audiences only. Every
//! rebuild re-ranks the ad groups with the latest click-through estimates,
//! copying only the ad groups whose estimate moved.

use adloom_core::engagement::EngagementKind;
use adloom_core::object::ObjectKind;
use adloom_core::report::DayTotals;
use adloom_core::sync::lock;
use adloom_store::Engagement;
use futures_util::StreamExt;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use adloom_core::ad_account::AdAccount;
use adloom_core::budget::Budget;
use adloom_core::candidates::CandidateIndex;
use adloom_core::catalog::{self, PinCard};
use adloom_core::consent::{self, Provenance};
use adloom_core::decision::{auction_order, Members, ServingAdGroup, ServingAudience};

use super::counters::Counters;
use super::KeyMap;
use crate::membership;
use crate::Engine;
use crate::EngineError;

/// One ad account's catalog, as last read from the store.
#[derive(Default)]
pub(super) struct AccountCatalog {
    pub pins: KeyMap<PinCard>,
    pub budgets: KeyMap<Arc<Budget>>,
    /// The audiences its ad groups include or exclude.
    pub audience_ids: HashSet<String>,
}

/// One ad account's part of the snapshot.
#[derive(Default)]
pub(super) struct AccountPart {
    pub catalog: Arc<AccountCatalog>,
    pub audiences: KeyMap<Arc<ServingAudience>>,
}

#[derive(Default)]
pub(super) struct Snapshot {
    pub parts: KeyMap<Arc<AccountPart>>,
    /// Every ad group of every account, in auction order (by the
    /// click-through estimates of the last rebuild).
    pub ranked: Vec<Arc<ServingAdGroup>>,
    /// Retrieval over `ranked`, by rank.
    pub index: CandidateIndex,
    pub budgets: KeyMap<Arc<Budget>>,
    pub audiences: KeyMap<Arc<ServingAudience>>,
}

impl Snapshot {
    pub fn pin(&self, ad_account_id: &str, pin_id: &str) -> Option<&PinCard> {
        self.parts.get(ad_account_id)?.catalog.pins.get(pin_id)
    }
}

/// What changed since the last rebuild.
#[derive(Debug, Default)]
pub(super) struct Dirty {
    /// Everything (the first build, or a change that is not one account's).
    pub all: bool,
    /// Accounts whose catalog changed.
    pub catalog: HashSet<String>,
    /// Accounts that received events.
    pub events: HashSet<String>,
    /// A new period of audience sizes began: every audience's readiness is
    /// drawn again.
    pub every_audience: bool,
}

impl Dirty {
    pub fn catalog_changed(&self) -> bool {
        self.all || !self.catalog.is_empty()
    }

    pub fn merge(&mut self, other: Dirty) {
        self.all |= other.all;
        self.catalog.extend(other.catalog);
        self.events.extend(other.events);
        self.every_audience |= other.every_audience;
    }
}

/// Builds the next snapshot from the previous one and what changed.
/// `member_of` (person → audiences) is brought up to date in place.
pub(super) async fn rebuild(
    engine: &Engine,
    previous: &Snapshot,
    dirty: &Dirty,
    counters: &std::sync::Mutex<Counters>,
    member_of: &std::sync::RwLock<MemberOf>,
) -> Result<Snapshot, EngineError> {
    let accounts = engine.all_accounts().await?;
    let reload_counters = !lock(counters).loaded;
    // The catalog is read while the people mirror loads (both are a
    // start-up's work, and each keeps one core busy); only audiences,
    // whose readiness is counted against the mirror, wait for it.
    let (people, read) = tokio::join!(
        engine.serving.people.ensure_loaded(engine),
        read_catalogs(engine, previous, dirty, &accounts, reload_counters),
    );
    people?;
    let Read {
        history,
        rolled_up,
        mut accounts_read,
    } = read?;
    let mut counted = count_audiences(engine, &mut accounts_read).await?;
    let mut parts = KeyMap::default();
    let mut fresh_groups = Vec::new();
    let mut reread = HashSet::new();
    for account in &accounts {
        let part = match accounts_read.remove(&account.id) {
            None => Arc::clone(&previous.parts[&account.id]),
            Some(read) => {
                let counted = counted.remove(&account.id).unwrap_or_default();
                let audiences = serving_audiences(engine, counted).await?;
                let catalog = match read.catalog {
                    Some((catalog, groups)) => {
                        fresh_groups.extend(groups);
                        reread.insert(account.id.clone());
                        Arc::new(catalog)
                    }
                    None => Arc::clone(&previous.parts[&account.id].catalog),
                };
                Arc::new(AccountPart { catalog, audiences })
            }
        };
        parts.insert(account.id.clone(), part);
    }
    if reload_counters {
        let mut c = lock(counters);
        if !c.loaded {
            for e in history.into_iter().filter(|e| e.invalid.is_none()) {
                c.count(
                    e.time,
                    &e.ad_group_id,
                    &e.campaign_id,
                    e.user_id.as_deref(),
                    e.kind == EngagementKind::Click,
                    e.charge_micros,
                    e.time,
                );
            }
            for day in &rolled_up {
                c.count_day(day);
            }
            c.loaded = true;
        }
    }
    let audiences: KeyMap<Arc<ServingAudience>> = parts
        .values()
        .flat_map(|p| &p.audiences)
        .map(|(id, a)| (id.clone(), Arc::clone(a)))
        .collect();
    // Person → audiences does not depend on the ranking: it is made on a
    // thread of its own beside it (at start-up each is about 0.15 s of a
    // core).
    let (ranked, index) = std::thread::scope(|scope| {
        scope.spawn(|| follow_memberships(&previous.audiences, &audiences, member_of));
        rank(previous, &parts, &reread, fresh_groups, counters)
    });
    let budgets = parts
        .values()
        .flat_map(|p| &p.catalog.budgets)
        .map(|(id, b)| (id.clone(), Arc::clone(b)))
        .collect();
    Ok(Snapshot {
        parts,
        ranked,
        index,
        budgets,
        audiences,
    })
}

/// Every ad group in auction order, with the retrieval index over them.
/// Ad groups of accounts not re-read keep their place from the last
/// ranking (and their latest estimate); re-read ones come in new.
fn rank(
    previous: &Snapshot,
    parts: &KeyMap<Arc<AccountPart>>,
    reread: &HashSet<String>,
    fresh_groups: Vec<ServingAdGroup>,
    counters: &std::sync::Mutex<Counters>,
) -> (Vec<Arc<ServingAdGroup>>, CandidateIndex) {
    let mut ranked: Vec<Arc<ServingAdGroup>> = previous
        .ranked
        .iter()
        .filter(|g| parts.contains_key(&g.ad_account_id) && !reread.contains(&g.ad_account_id))
        .cloned()
        .collect();
    ranked.extend(fresh_groups.into_iter().map(Arc::new));
    {
        let c = lock(counters);
        for group in &mut ranked {
            let ctr = c.ctr(&group.ad_group_id);
            if ctr != group.ctr {
                Arc::make_mut(group).ctr = ctr;
            }
        }
    }
    ranked.sort_by(|a, b| auction_order(a, b));
    let index = CandidateIndex::build(ranked.iter().map(|g| &g.targeting));
    (ranked, index)
}

/// What `read_catalogs` read.
struct Read {
    /// Every engagement, when the counters are to be loaded.
    history: Vec<Engagement>,
    rolled_up: Vec<DayTotals>,
    /// The accounts whose catalog or audiences changed; the others keep
    /// their part of the previous snapshot.
    accounts_read: HashMap<String, AccountRead>,
}

struct AccountRead {
    /// The account's catalog and ad groups, when read again.
    catalog: Option<(AccountCatalog, Vec<ServingAdGroup>)>,
    /// The members of the audiences its ad groups name, counted again.
    audiences: Vec<AudienceMembers>,
}

/// An audience's members as its data names them, before the people
/// mirror is asked about them.
struct AudienceMembers {
    id: String,
    ad_account_id: String,
    provenance: Provenance,
    members: Vec<String>,
}

/// Accounts read at once at a rebuild. Each account's reads are a handful
/// of store queries, each waiting on a reader thread: with several in
/// flight the store's readers keep the cores busy (start-up read 1,000
/// accounts on less than one core).
const ACCOUNTS_IN_FLIGHT: usize = 4;

/// Reads the catalog of every account that changed (all of them on the
/// first build), the members of their audiences and of the audiences of
/// accounts that received events, and the engagements that load the
/// counters. Nothing here needs the people mirror.
async fn read_catalogs(
    engine: &Engine,
    previous: &Snapshot,
    dirty: &Dirty,
    accounts: &[AdAccount],
    reload_counters: bool,
) -> Result<Read, EngineError> {
    let mut read = Read {
        history: Vec::new(),
        rolled_up: Vec::new(),
        accounts_read: HashMap::new(),
    };
    // In the accounts' order, whatever order their reads finish in. (The
    // reads are made before they are streamed: a stream's own `map` would
    // leave the future unable to prove it is `Send` for every lifetime.)
    let reads: Vec<_> = accounts
        .iter()
        .map(|account| read_one(engine, previous, dirty, account, reload_counters))
        .collect();
    let mut each = futures_util::stream::iter(reads).buffered(ACCOUNTS_IN_FLIGHT);
    while let Some(one) = each.next().await {
        let ReadOne {
            id,
            history,
            rolled_up,
            account,
        } = one?;
        read.history.extend(history);
        read.rolled_up.extend(rolled_up);
        if let Some(account) = account {
            read.accounts_read.insert(id, account);
        }
    }
    Ok(read)
}

/// What `read_one` read of one account.
struct ReadOne {
    id: String,
    history: Vec<Engagement>,
    rolled_up: Vec<DayTotals>,
    /// `None` when neither its catalog nor its audiences changed.
    account: Option<AccountRead>,
}

async fn read_one(
    engine: &Engine,
    previous: &Snapshot,
    dirty: &Dirty,
    account: &AdAccount,
    reload_counters: bool,
) -> Result<ReadOne, EngineError> {
    let mut one = ReadOne {
        id: account.id.clone(),
        history: Vec::new(),
        rolled_up: Vec::new(),
        account: None,
    };
    if reload_counters {
        one.history = engine.store.engagements(&account.id, 0, i64::MAX).await?;
        one.rolled_up = engine
            .store
            .engagement_days(&account.id, i64::MIN, i64::MAX)
            .await?;
    }
    let before = previous.parts.get(&account.id);
    let keep = before.filter(|_| !dirty.all && !dirty.catalog.contains(&account.id));
    let catalog = match keep {
        Some(_) => None,
        None => Some(read_account(engine, account).await?),
    };
    let audience_ids = match (&catalog, keep) {
        (Some((fresh, _)), _) => &fresh.audience_ids,
        (None, Some(part)) if dirty.every_audience || dirty.events.contains(&account.id) => {
            &part.catalog.audience_ids
        }
        (None, _) => return Ok(one),
    };
    let audiences = read_members(engine, audience_ids).await?;
    one.account = Some(AccountRead { catalog, audiences });
    Ok(one)
}

/// Person → the audiences their data puts them in. Each list is exactly
/// as long as it needs to be: most people are in one or two audiences,
/// and a growable list would hold room for four (30 MB a million people).
pub(super) type MemberOf = super::people::IdMap<Box<[Arc<str>]>>;

/// Updates person → audiences for the audiences that changed, by the
/// difference of their members: the cost follows the change, not the world.
/// An empty table (start-up's) is made whole at once instead.
fn follow_memberships(
    before: &KeyMap<Arc<ServingAudience>>,
    after: &KeyMap<Arc<ServingAudience>>,
    member_of: &std::sync::RwLock<MemberOf>,
) {
    let mut map = adloom_core::sync::write(member_of);
    if map.is_empty() {
        // Nobody is in any audience yet, so whoever was a member before
        // has nothing to leave.
        *map = all_memberships(after);
    } else {
        follow_changes(before, after, &mut map);
    }
}

/// Person → audiences, made whole from `audiences`. The memberships are
/// gathered as pairs and sorted by person, so that each person's list is
/// made once at its length and the table once at its size: joined one by
/// one, a million memberships grew both as they came (0.5-0.75 s of
/// start-up, on one core).
fn all_memberships(audiences: &KeyMap<Arc<ServingAudience>>) -> MemberOf {
    let mut ids = Vec::with_capacity(audiences.len());
    let mut pairs = Vec::new();
    for (number, (id, audience)) in audiences.iter().enumerate() {
        // One copy of the audience's id for all its members.
        ids.push(Arc::<str>::from(id.as_str()));
        pairs.extend(audience.members.iter().map(|person| (person, number)));
    }
    // By the person's shared id, not its text: the same person is the
    // same pointer in every audience the people mirror knows them in, so
    // the sort reads no ids. Someone the mirror does not know has an id of
    // their own in each audience, and is met again below.
    pairs.sort_unstable_by_key(|(person, _)| Arc::as_ptr(person).cast::<u8>());
    let by_person = || pairs.chunk_by(|(a, _), (b, _)| Arc::ptr_eq(a, b));
    let mut map = MemberOf::with_capacity_and_hasher(by_person().count(), Default::default());
    for run in by_person() {
        let person = run[0].0;
        let joined = run.iter().map(|(_, number)| Arc::clone(&ids[*number]));
        match map.entry(Arc::clone(person)) {
            std::collections::hash_map::Entry::Vacant(entry) => {
                entry.insert(joined.collect());
            }
            std::collections::hash_map::Entry::Occupied(mut entry) => {
                let list = entry.get_mut();
                *list = std::mem::take(list)
                    .into_vec()
                    .into_iter()
                    .chain(joined)
                    .collect();
            }
        }
    }
    map
}

/// Applies to person → audiences the members who left and joined each
/// audience that changed.
fn follow_changes(
    before: &KeyMap<Arc<ServingAudience>>,
    after: &KeyMap<Arc<ServingAudience>>,
    map: &mut MemberOf,
) {
    let empty = Members::default();
    let ids: HashSet<&String> = before.keys().chain(after.keys()).collect();
    for id in ids {
        let (old, new) = (before.get(id), after.get(id));
        if let (Some(o), Some(n)) = (old, new) {
            if Arc::ptr_eq(o, n) {
                continue;
            }
        }
        let old = old.map_or(&empty, |a| &a.members);
        let new = new.map_or(&empty, |a| &a.members);
        for gone in old.difference(new) {
            if let Some(list) = map.get_mut(gone) {
                let mut kept = std::mem::take(list).into_vec();
                kept.retain(|a| **a != **id);
                if kept.is_empty() {
                    map.remove(gone);
                } else {
                    *list = kept.into_boxed_slice();
                }
            }
        }
        // One copy of the audience's id for all its members.
        let shared: Arc<str> = id.as_str().into();
        for joined in new.difference(old) {
            let list = map.entry(Arc::clone(joined)).or_default();
            let mut grown = Vec::with_capacity(list.len() + 1);
            grown.extend(std::mem::take(list).into_vec());
            grown.push(Arc::clone(&shared));
            *list = grown.into_boxed_slice();
        }
    }
}

/// Reads one ad account's catalog: pins, and ad groups with their ads,
/// keywords and budgets (converted by the core's `catalog`).
async fn read_account(
    engine: &Engine,
    account: &AdAccount,
) -> Result<(AccountCatalog, Vec<ServingAdGroup>), EngineError> {
    let mut objects = Vec::new();
    for kind in [
        ObjectKind::Campaign,
        ObjectKind::AdGroup,
        ObjectKind::Ad,
        ObjectKind::Pin,
        ObjectKind::Keyword,
    ] {
        objects.extend(engine.store.list_objects(kind, &account.id).await?);
    }
    let converted = catalog::account_catalog(account, &objects);
    for (ad_group_id, why) in &converted.unreadable {
        tracing::error!(%ad_group_id, %why, "a stored ad group no longer reads: not served");
    }
    let catalog = AccountCatalog {
        pins: converted.pins.into_iter().collect(),
        budgets: converted
            .budgets
            .into_iter()
            .map(|(id, b)| (id, Arc::new(b)))
            .collect(),
        audience_ids: converted.audience_ids,
    };
    Ok((catalog, converted.groups))
}

/// The audiences' members as their data names them (consent is applied per
/// decision).
async fn read_members(
    engine: &Engine,
    ids: &HashSet<String>,
) -> Result<Vec<AudienceMembers>, EngineError> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(stored) = engine.store.get_audience(id).await? else {
            continue;
        };
        if stored.record.get("removed").is_some() {
            continue;
        }
        let audience = membership::audience_of(&stored)?;
        out.push(AudienceMembers {
            id: id.clone(),
            ad_account_id: stored.ad_account_id,
            provenance: audience.provenance(),
            members: membership::data_member_ids(engine, &audience).await?,
        });
    }
    Ok(out)
}

/// An audience's members as the people mirror holds them, and how many of
/// them count towards its size.
struct CountedAudience {
    id: String,
    ad_account_id: String,
    provenance: Provenance,
    members: Members,
    countable: usize,
}

/// Audience members counted on one thread; more are split across the
/// cores.
const MEMBERS_A_THREAD: usize = 100_000;

/// Counts the audiences each account read against the people mirror, by
/// account, on every core: a million members are a million lookups in the
/// mirror, which start-up made on one core once people had loaded.
async fn count_audiences(
    engine: &Engine,
    accounts_read: &mut HashMap<String, AccountRead>,
) -> Result<HashMap<String, Vec<CountedAudience>>, EngineError> {
    let all: Vec<(String, AudienceMembers)> = accounts_read
        .iter_mut()
        .flat_map(|(account, read)| {
            std::mem::take(&mut read.audiences)
                .into_iter()
                .map(move |audience| (account.clone(), audience))
        })
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut chunks = split_by_weight(all, threads, MEMBERS_A_THREAD, |(_, a)| a.members.len());
    let count_chunk = |engine: Engine, chunk: Vec<(String, AudienceMembers)>| {
        chunk
            .into_iter()
            .map(|(account, audience)| (account, count_audience(&engine, audience)))
            .collect::<Vec<_>>()
    };
    let mut by_account: HashMap<String, Vec<CountedAudience>> = HashMap::new();
    let mut add = |counted: Vec<(String, CountedAudience)>| {
        for (account, audience) in counted {
            by_account.entry(account).or_default().push(audience);
        }
    };
    if chunks.len() == 1 {
        add(count_chunk(engine.clone(), chunks.remove(0)));
    } else {
        let tasks: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let engine = engine.clone();
                tokio::task::spawn_blocking(move || count_chunk(engine, chunk))
            })
            .collect();
        for task in tasks {
            add(task
                .await
                .map_err(|_| EngineError::Internal("counting audiences panicked"))?);
        }
    }
    Ok(by_account)
}

/// `items` in order, cut into at most about `parts` runs of similar
/// weight, none lighter than `least` but the last (one run when all of
/// them weigh less).
fn split_by_weight<T>(
    items: Vec<T>,
    parts: usize,
    least: usize,
    weight: impl Fn(&T) -> usize,
) -> Vec<Vec<T>> {
    let total: usize = items.iter().map(&weight).sum();
    let share = total.div_ceil(parts.max(1)).max(least);
    let mut runs = vec![Vec::new()];
    let mut in_run = 0;
    for item in items {
        if in_run >= share {
            runs.push(Vec::new());
            in_run = 0;
        }
        in_run += weight(&item);
        runs.last_mut().expect("one run at least").push(item);
    }
    runs
}

/// One audience's members, shared with the people mirror rather than
/// copied (a million memberships are a million pointers), and how many
/// count towards its size, which decides whether it may deliver: the
/// members the consent policy lets count, by the people mirror.
fn count_audience(engine: &Engine, audience: AudienceMembers) -> CountedAudience {
    let AudienceMembers {
        id,
        ad_account_id,
        provenance,
        members,
    } = audience;
    let (members, consenting) = engine.serving.people.shared_ids(members, |p| {
        consent::for_person(
            p.use_partner_info,
            p.country,
            p.strings,
            &engine.config.region_defaults,
        )
        .allows_audience(provenance)
    });
    let countable = if provenance.needs_consent() {
        consenting
    } else {
        members.len()
    };
    CountedAudience {
        id,
        ad_account_id,
        provenance,
        members,
        countable,
    }
}

/// The audiences as decisions see them, with whether each may deliver
/// (READY), which follows the size an advertiser sees.
async fn serving_audiences(
    engine: &Engine,
    audiences: Vec<CountedAudience>,
) -> Result<KeyMap<Arc<ServingAudience>>, EngineError> {
    let mut out = KeyMap::default();
    for CountedAudience {
        id,
        ad_account_id,
        provenance,
        members,
        countable,
    } in audiences
    {
        let size = membership::reported(engine, &id, countable).await?;
        out.insert(
            id,
            Arc::new(ServingAudience {
                ad_account_id,
                provenance,
                targetable: size.ready,
                members,
            }),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use adloom_core::consent::OnPlatformSource;

    fn audience(members: &[&Arc<str>]) -> Arc<ServingAudience> {
        Arc::new(ServingAudience {
            ad_account_id: "549755885175".into(),
            provenance: Provenance::OnPlatform(OnPlatformSource::Engagement),
            targetable: true,
            members: members.iter().map(|m| Arc::clone(m)).collect(),
        })
    }

    /// Person -> audiences as text, each list sorted.
    fn as_text(map: &MemberOf) -> std::collections::BTreeMap<String, Vec<String>> {
        map.iter()
            .map(|(person, audiences)| {
                let mut names: Vec<String> = audiences.iter().map(|a| a.to_string()).collect();
                names.sort();
                (person.to_string(), names)
            })
            .collect()
    }

    #[test]
    fn memberships_made_whole_are_those_joined_one_by_one() {
        let (ann, bob): (Arc<str>, Arc<str>) = ("ann".into(), "bob".into());
        // Someone the people mirror does not know has an id of their own
        // in each audience.
        let (cy_once, cy_again): (Arc<str>, Arc<str>) = ("cy".into(), "cy".into());
        let after = KeyMap::from_iter([
            ("a1".to_string(), audience(&[&ann, &bob, &cy_once])),
            ("a2".to_string(), audience(&[&ann, &cy_again])),
            ("a3".to_string(), audience(&[&bob])),
            ("a4".to_string(), audience(&[])),
        ]);
        let whole = all_memberships(&after);
        let mut one_by_one = MemberOf::default();
        follow_changes(&KeyMap::default(), &after, &mut one_by_one);
        assert_eq!(as_text(&whole), as_text(&one_by_one));
        assert_eq!(whole.len(), 3);
        assert_eq!(as_text(&whole)["cy"], ["a1", "a2"]);
        assert_eq!(as_text(&whole)["ann"], ["a1", "a2"]);

        // Later changes follow from there: bob leaves a1, cy leaves both.
        let later = KeyMap::from_iter([
            ("a1".to_string(), audience(&[&ann])),
            ("a2".to_string(), audience(&[&ann])),
            ("a3".to_string(), Arc::clone(&after["a3"])),
        ]);
        let mut map = whole;
        follow_changes(&after, &later, &mut map);
        assert_eq!(
            as_text(&map),
            std::collections::BTreeMap::from([
                ("ann".to_string(), vec!["a1".to_string(), "a2".to_string()]),
                ("bob".to_string(), vec!["a3".to_string()]),
            ])
        );
    }

    #[test]
    fn work_is_split_in_order_into_runs_of_similar_weight() {
        let weights = vec![40, 10, 50, 30, 30, 40];
        let runs = split_by_weight(weights.clone(), 2, 1, |w| *w);
        assert_eq!(runs, vec![vec![40, 10, 50], vec![30, 30, 40]]);
        // Nothing lost or reordered, whatever the cut.
        for parts in 1..8 {
            let runs = split_by_weight(weights.clone(), parts, 1, |w| *w);
            assert!(runs.len() <= parts.max(1));
            assert_eq!(runs.concat(), weights);
        }
        // Light work stays in one run.
        assert_eq!(split_by_weight(weights.clone(), 2, 1_000, |w| *w).len(), 1);
        assert_eq!(
            split_by_weight(Vec::<usize>::new(), 2, 1, |w| *w),
            vec![Vec::<usize>::new()]
        );
    }
}
