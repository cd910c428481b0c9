//! The PostgreSQL backend, for many adloom nodes sharing one database.
//!
//! The same tables as the embedded backend, in PostgreSQL's types. Unlike
//! SQLite there is no in-process writer lock and no in-memory identity
//! index: other nodes write too, so identities are resolved by the
//! database (`identifiers` is keyed by digest), and read-modify-write
//! transactions lock the row they change (`SELECT ... FOR UPDATE`).
//! Commits are durable before a call returns (PostgreSQL's default
//! `synchronous_commit = on`). The schema is brought up to date on first
//! use, under an advisory lock so that nodes starting together migrate once.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::convert::Infallible;

use adloom_core::access::AccessToken;
use adloom_core::ad_account::AdAccount;
use adloom_core::ads_setting::{AdsSetting, SettingChange};
use adloom_core::audience::ReportedSize;
use adloom_core::customer_list::CustomerList;
use adloom_core::engagement::{day_of, judge_click, InvalidClick};
use adloom_core::event::{EventSource, TrackedEvent};
use adloom_core::identity::resolve_person;
use adloom_core::page::{Page, PageRequest};
use adloom_core::person::{PersonRecord, ProfileFields};
use adloom_core::region::Country;
use adloom_core::report::{DayTotals, RollUp};
use adloom_core::support::SupportRequest;
use adloom_core::tag::ConversionTag;
use adloom_core::Invalid;
use async_trait::async_trait;
use deadpool_postgres::{GenericClient, ManagerConfig, Pool, PoolConfig, RecyclingMethod, Runtime};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use crate::rows::{
    bookmark_seq, digest_bytes, engagement_kind, from_json, internal, object_record, page_of,
    read_object_record, stored_record, to_json,
};
use adloom_core::feedback::{AdReport, HiddenAd, HideScope};

use crate::{merge_partner_data, AdFeedbackCount, PartnerData};
use crate::{
    BlockedPixels, ConsentFacts, ConversionTotal, Engagement, EngagementKind, EventOutcome,
    ListChange, ListMember, Media, ObjectKind, PersonBatch, PurgeKind, Purged, Result, Store,
    StoreError, StoredAudience, StoredEvent, StoredObject,
};
use adloom_core::consent::PartnerSource;

/// Schema versions, applied in order; `adloom_migrations` records which
/// ran. Never edit one that has shipped: add the next.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001.sql"),
    include_str!("migrations/0002.sql"),
    include_str!("migrations/0003.sql"),
    include_str!("migrations/0004.sql"),
    include_str!("migrations/0005.sql"),
    include_str!("migrations/0006.sql"),
    include_str!("migrations/0007.sql"),
    include_str!("migrations/0008.sql"),
    include_str!("migrations/0009.sql"),
    include_str!("migrations/0010.sql"),
    include_str!("migrations/0011.sql"),
    include_str!("migrations/0012.sql"),
];

/// Any number that no other program's advisory locks are likely to use.
const MIGRATION_LOCK: i64 = 0x6164_6c6f_6f6d; // "adloom"

/// Connections per node.
const POOL_SIZE: usize = 16;

/// The PostgreSQL store.
pub struct PostgresStore {
    pool: Pool,
    migrated: tokio::sync::OnceCell<()>,
    /// For the connection that listens to other nodes' changes.
    url: String,
}

/// The channel nodes announce their changes on.
const CHANGES: &str = "adloom_changes";

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

impl PostgresStore {
    /// A store for the database at `url` (`postgres://user@host/db`, with
    /// libpq's parameters, e.g. `?options=-csearch_path%3Dschema`). Connects
    /// and migrates on first use.
    pub fn open(url: &str) -> Result<PostgresStore> {
        let config = deadpool_postgres::Config {
            url: Some(url.to_owned()),
            manager: Some(ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            }),
            pool: Some(PoolConfig::new(POOL_SIZE)),
            ..deadpool_postgres::Config::default()
        };
        let pool = config
            .create_pool(Some(Runtime::Tokio1), NoTls)
            .map_err(|e| {
                StoreError::Invalid(Invalid::new("store", format!("bad PostgreSQL url: {e}")))
            })?;
        Ok(PostgresStore {
            pool,
            migrated: tokio::sync::OnceCell::new(),
            url: url.to_owned(),
        })
    }

    /// A pooled connection, the schema up to date.
    async fn client(&self) -> Result<deadpool_postgres::Client> {
        let client = self
            .pool
            .get()
            .await
            .map_err(|e| internal(format!("no PostgreSQL connection: {e}")))?;
        self.migrated
            .get_or_try_init(|| async {
                let mut client = self
                    .pool
                    .get()
                    .await
                    .map_err(|e| internal(format!("no PostgreSQL connection: {e}")))?;
                migrate(&mut client).await
            })
            .await?;
        Ok(client)
    }

    /// Runs `f` in one transaction; commits if it returns `Ok`, rolls back
    /// otherwise.
    async fn write<T, F>(&self, f: F) -> Result<T>
    where
        F: for<'t> FnOnce(
            &'t deadpool_postgres::Transaction<'t>,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T>> + Send + 't>,
        >,
    {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(driver)?;
        let out = f(&tx).await?;
        tx.commit().await.map_err(driver)?;
        Ok(out)
    }

    async fn query(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>> {
        let client = self.client().await?;
        client.query(sql, params).await.map_err(driver)
    }

    async fn query_opt(&self, sql: &str, params: Params<'_>) -> Result<Option<Row>> {
        let client = self.client().await?;
        client.query_opt(sql, params).await.map_err(driver)
    }

    /// People in user id order after `after`, at most `limit`, each record
    /// read as `T` (with the row's `updated_at`), with their setting.
    async fn people_page<T: serde::de::DeserializeOwned>(
        &self,
        after: Option<String>,
        limit: usize,
        read: impl Fn(T, i64) -> T,
    ) -> Result<Vec<(T, Option<bool>)>> {
        let rows = self
            .query(
                "SELECT p.record, p.updated_at, s.use_partner_info FROM people p
                 LEFT JOIN ads_settings s ON s.user_id = p.user_id
                 WHERE p.user_id > $1 ORDER BY p.user_id LIMIT $2",
                &[&after.unwrap_or_default(), &(limit as i64)],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((read(from_json(r.get::<_, &str>(0))?, r.get(1)), r.get(2))))
            .collect()
    }
}

/// A connection that listens on [`CHANGES`], once LISTEN took effect: its
/// notifications go to `tx` until the connection is lost, when the task
/// ends. The client must be kept as long as the listening goes on.
async fn listen(
    url: &str,
    tx: tokio::sync::mpsc::Sender<String>,
) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>)> {
    let (client, mut connection) = tokio_postgres::connect(url, NoTls).await.map_err(driver)?;
    // The connection does its work, LISTEN included, only while polled.
    let forward = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = futures_util::StreamExt::next(&mut messages).await {
            match message {
                Ok(tokio_postgres::AsyncMessage::Notification(n)) => {
                    if tx.send(n.payload().to_owned()).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN {CHANGES}"))
        .await
        .map_err(driver)?;
    Ok((client, forward))
}

async fn migrate(client: &mut deadpool_postgres::Client) -> Result<()> {
    let tx = client.transaction().await.map_err(driver)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(driver)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS adloom_migrations (version INT PRIMARY KEY)")
        .await
        .map_err(driver)?;
    let applied: i32 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM adloom_migrations",
            &[],
        )
        .await
        .map_err(driver)?
        .get(0);
    let applied = applied as usize;
    if applied > MIGRATIONS.len() {
        return Err(StoreError::SchemaTooNew {
            found: applied,
            known: MIGRATIONS.len(),
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.batch_execute(sql).await.map_err(driver)?;
        let version = (i + 1) as i32;
        tx.execute(
            "INSERT INTO adloom_migrations (version) VALUES ($1)",
            &[&version],
        )
        .await
        .map_err(driver)?;
        tracing::info!(version, "applied schema migration");
    }
    let secret: [u8; 32] = rand::RngExt::random(&mut rand::rng());
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('secret', $1) ON CONFLICT (key) DO NOTHING",
        &[&hex::encode(secret)],
    )
    .await
    .map_err(driver)?;
    tx.commit().await.map_err(driver)
}

fn driver(e: tokio_postgres::Error) -> StoreError {
    crate::rows::failed_with("postgres", e)
}

fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

fn ad_account_from_row(r: &Row) -> Result<AdAccount> {
    let country: String = r.get(2);
    let country = Country::parse(&country)
        .ok_or_else(|| internal(format!("stored country {country:?} is not a country")))?;
    Ok(AdAccount {
        id: r.get(0),
        name: r.get(1),
        country,
        currency: r.get(3),
        owner_user_id: r.get(4),
        created_time: r.get(5),
        updated_time: r.get(6),
    })
}

const AD_ACCOUNT_COLUMNS: &str =
    "id, name, country, currency, owner_user_id, created_time, updated_time";

fn audience_from_row(r: &Row) -> Result<StoredAudience> {
    Ok(StoredAudience {
        id: r.get(0),
        ad_account_id: r.get(1),
        record: from_json(r.get::<_, &str>(2))?,
        created_time: r.get(3),
        updated_time: r.get(4),
    })
}

fn object_from_row(kind: &str, r: &Row) -> Result<StoredObject> {
    Ok(StoredObject {
        id: r.get(0),
        ad_account_id: r.get(1),
        record: read_object_record(kind, r.get::<_, &str>(2))?,
        created_time: r.get(3),
        updated_time: r.get(4),
    })
}

fn stored_events(rows: Vec<Row>) -> Result<Vec<StoredEvent>> {
    rows.iter()
        .map(|r| {
            Ok(StoredEvent {
                event: from_json(r.get::<_, &str>(0))?,
                user_id: r.get(1),
            })
        })
        .collect()
}

/// The people each digest names (at most two, by user id: enough to tell a
/// unique match from an ambiguous one), in the order given.
async fn people_named<C: GenericClient>(
    client: &C,
    digests: &[Vec<u8>],
) -> Result<Vec<Vec<String>>> {
    if digests.is_empty() {
        return Ok(Vec::new());
    }
    let rows = client
        .query(
            "SELECT digest, user_id FROM identifiers WHERE digest = ANY($1) ORDER BY digest, user_id",
            &[&digests],
        )
        .await
        .map_err(driver)?;
    let mut named: HashMap<Vec<u8>, Vec<String>> = HashMap::new();
    for r in rows {
        let people = named.entry(r.get(0)).or_default();
        if people.len() < 2 {
            people.push(r.get(1));
        }
    }
    Ok(digests
        .iter()
        .map(|d| named.get(d).cloned().unwrap_or_default())
        .collect())
}

/// Upserts a batch of people in a few statements whatever its size: the
/// stored records read (and locked) in one query, then the changed people
/// and their identifiers written with one UNNEST each. A person named twice
/// ends as the last one says, as if upserted one after another.
async fn upsert_people_batch<C: GenericClient>(
    client: &C,
    people: Vec<PersonRecord>,
) -> Result<u64> {
    let count = people.len() as u64;
    let mut last: HashMap<String, PersonRecord> = HashMap::with_capacity(people.len());
    for person in people {
        last.insert(person.user_id.clone(), person);
    }
    let ids: Vec<&str> = last.keys().map(String::as_str).collect();
    let stored: HashMap<String, String> = client
        .query(
            "SELECT user_id, record FROM people WHERE user_id = ANY($1) ORDER BY user_id FOR UPDATE",
            &[&ids],
        )
        .await
        .map_err(driver)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let (mut users, mut records, mut times) = (Vec::new(), Vec::new(), Vec::new());
    let (mut old_users, mut old_digests) = (Vec::new(), Vec::new());
    let (mut id_users, mut id_digests, mut id_kinds) = (Vec::new(), Vec::new(), Vec::new());
    for person in last.values() {
        let record = stored_record(person)?;
        let before = stored.get(&person.user_id);
        // A daily full sync mostly repeats what is stored: leave those
        // people (and their updated_at) alone.
        if before == Some(&record) {
            continue;
        }
        if let Some(before) = before {
            for (_, digest) in from_json::<PersonRecord>(before)?.all_digests() {
                old_users.push(person.user_id.as_str());
                old_digests.push(digest_bytes(digest)?);
            }
        }
        for (kind, digest) in person.matchable_digests() {
            id_users.push(person.user_id.as_str());
            id_digests.push(digest_bytes(digest)?);
            id_kinds.push(kind.as_str());
        }
        users.push(person.user_id.as_str());
        records.push(record);
        times.push(person.updated_at);
    }
    if users.is_empty() {
        return Ok(count);
    }
    client
        .execute(
            "DELETE FROM identifiers i USING UNNEST($1::TEXT[], $2::BYTEA[]) AS k(user_id, digest)
             WHERE i.user_id = k.user_id AND i.digest = k.digest",
            &[&old_users, &old_digests],
        )
        .await
        .map_err(driver)?;
    client
        .execute(
            "INSERT INTO people (user_id, record, updated_at)
             SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[])
             ON CONFLICT (user_id) DO UPDATE SET record = excluded.record,
                                                 updated_at = excluded.updated_at",
            &[&users, &records, &times],
        )
        .await
        .map_err(driver)?;
    client
        .execute(
            "INSERT INTO identifiers (digest, user_id, kind)
             SELECT * FROM UNNEST($1::BYTEA[], $2::TEXT[], $3::TEXT[])
             ON CONFLICT DO NOTHING",
            &[&id_digests, &id_users, &id_kinds],
        )
        .await
        .map_err(driver)?;
    Ok(count)
}

/// Removes a person's rows from the identity index.
async fn forget_identifiers<C: GenericClient>(client: &C, person: &PersonRecord) -> Result<()> {
    let digests = person
        .all_digests()
        .into_iter()
        .map(|(_, d)| digest_bytes(d))
        .collect::<Result<Vec<_>>>()?;
    client
        .execute(
            "DELETE FROM identifiers WHERE user_id = $1 AND digest = ANY($2)",
            &[&person.user_id, &digests],
        )
        .await
        .map_err(driver)?;
    Ok(())
}

async fn add_members<C: GenericClient>(
    client: &C,
    list_id: &str,
    members: &[ListMember],
) -> Result<()> {
    if members.is_empty() {
        return Ok(());
    }
    let digests = members
        .iter()
        .map(|m| digest_bytes(&m.digest))
        .collect::<Result<Vec<_>>>()?;
    let users: Vec<&str> = members.iter().map(|m| m.user_id.as_str()).collect();
    client
        .execute(
            "INSERT INTO list_members (list_id, digest, user_id)
             SELECT $1, d, u FROM UNNEST($2::bytea[], $3::text[]) AS m(d, u)
             ON CONFLICT DO NOTHING",
            &[&list_id, &digests, &users],
        )
        .await
        .map_err(driver)?;
    Ok(())
}

/// Stores one event: resolves its person by the identity table, by a click
/// id adloom issued, or by the browser that sent it, and links that
/// browser's earlier anonymous events once it identifies itself.
/// Records a batch of events in a few statements whatever its size: the
/// people their keys name in one query, click ids and cookie links in one
/// each, the events in one insert. Each event is resolved as if recorded
/// one after another: a cookie an earlier event of the batch linked to a
/// person names that person for the later ones.
async fn record_event_batch<C: GenericClient>(
    client: &C,
    events: &[TrackedEvent],
) -> Result<Vec<EventOutcome>> {
    let digests: Vec<Vec<Vec<u8>>> = events
        .iter()
        .map(|e| {
            e.match_digests()
                .into_iter()
                .filter_map(|d| hex::decode(d).ok())
                .collect()
        })
        .collect();
    let all: Vec<Vec<u8>> = digests.iter().flatten().cloned().collect();
    let named: HashMap<&[u8], Vec<String>> = all
        .iter()
        .map(Vec::as_slice)
        .zip(people_named(client, &all).await?)
        .collect();
    let click_ids: Vec<&str> = events
        .iter()
        .filter_map(|e| e.keys.click_id.as_deref())
        .collect();
    let mut clicked: HashMap<(String, String), String> = HashMap::new();
    if !click_ids.is_empty() {
        for r in client
            .query(
                "SELECT click_id, ad_account_id, user_id FROM click_ids WHERE click_id = ANY($1)",
                &[&click_ids],
            )
            .await
            .map_err(driver)?
        {
            clicked.insert((r.get(0), r.get(1)), r.get(2));
        }
    }
    let (link_accounts, link_cookies): (Vec<&str>, Vec<&str>) = events
        .iter()
        .filter_map(|e| Some((e.ad_account_id.as_str(), e.keys.cookie_id.as_deref()?)))
        .unzip();
    let mut linked: HashMap<(String, String), String> = HashMap::new();
    if !link_cookies.is_empty() {
        for r in client
            .query(
                "SELECT l.ad_account_id, l.cookie_id, l.user_id FROM cookie_links l
                 JOIN UNNEST($1::TEXT[], $2::TEXT[]) AS k(ad_account_id, cookie_id)
                   ON l.ad_account_id = k.ad_account_id AND l.cookie_id = k.cookie_id",
                &[&link_accounts, &link_cookies],
            )
            .await
            .map_err(driver)?
        {
            linked.insert((r.get(0), r.get(1)), r.get(2));
        }
    }

    // Events already stored are duplicates, as is an event id seen earlier
    // in the batch; only new events link cookies.
    let (keys_accounts, keys_ids): (Vec<&str>, Vec<&str>) = events
        .iter()
        .map(|e| (e.ad_account_id.as_str(), e.event_id.as_str()))
        .unzip();
    // Each stored id with the door its event came in through.
    let mut stored: HashMap<(String, String), EventSource> = HashMap::new();
    for r in client
        .query(
            "SELECT e.ad_account_id, e.event_id, e.record FROM events e
             JOIN UNNEST($1::TEXT[], $2::TEXT[]) AS k(ad_account_id, event_id)
               ON e.ad_account_id = k.ad_account_id AND e.event_id = k.event_id",
            &[&keys_accounts, &keys_ids],
        )
        .await
        .map_err(driver)?
    {
        let record: TrackedEvent = from_json(r.get(2))?;
        stored.insert((r.get(0), r.get(1)), record.source);
    }
    // Stored pixels that an event of the batch supersedes (the API's own
    // event wins over a pixel that squatted its id).
    let (mut superseded_accounts, mut superseded_ids) = (Vec::new(), Vec::new());

    // Resolve in order, as if one after another.
    let mut columns = EventColumns::default();
    // The person of each new event; None for a duplicate.
    let mut users: Vec<Option<Option<String>>> = Vec::with_capacity(events.len());
    let mut new_links: HashMap<(&str, &str), String> = HashMap::new();
    // The first person each browser named in this batch: the one who,
    // recorded one by one, claims its earlier anonymous events.
    let mut first_links: HashMap<(&str, &str), String> = HashMap::new();
    for event in events {
        let account = event.ad_account_id.as_str();
        let cookie = event.keys.cookie_id.as_deref();
        // Everything was looked up above, for the whole batch.
        let Ok(user_id) = resolve_person::<Infallible>(
            event,
            |digest| {
                hex::decode(digest)
                    .ok()
                    .and_then(|d| named.get(d.as_slice()).cloned())
                    .unwrap_or_default()
            },
            |click, account| {
                Ok(clicked
                    .get(&(click.to_owned(), account.to_owned()))
                    .cloned())
            },
            |account, cookie| {
                Ok(linked
                    .get(&(account.to_owned(), cookie.to_owned()))
                    .cloned())
            },
        );
        let key = (account.to_owned(), event.event_id.clone());
        let new = match stored.get(&key) {
            None => true,
            Some(before) if event.source.supersedes(before) => {
                let earlier = columns
                    .ids
                    .iter()
                    .zip(&columns.accounts)
                    .position(|(i, a)| (a, i) == (&key.0, &key.1));
                if let Some(at) = earlier {
                    // Superseding an event of this same batch: replace its row.
                    columns.remove(at);
                } else {
                    superseded_accounts.push(key.0.clone());
                    superseded_ids.push(key.1.clone());
                }
                true
            }
            Some(_) => false,
        };
        if new {
            stored.insert(key, event.source.clone());
            columns.push(event, user_id.clone())?;
            if let (Some(user), Some(cookie)) = (&user_id, cookie) {
                linked.insert((account.to_owned(), cookie.to_owned()), user.clone());
                new_links.insert((account, cookie), user.clone());
                first_links
                    .entry((account, cookie))
                    .or_insert_with(|| user.clone());
            }
        }
        users.push(new.then_some(user_id));
    }
    // An anonymous event of a browser named later in the batch is that
    // person's (it found no link when it came, so none was made before).
    for ((account, cookie), user) in columns
        .accounts
        .iter()
        .zip(&columns.cookies)
        .zip(columns.users.iter_mut())
    {
        if let (None, Some(cookie)) = (&user, cookie) {
            *user = first_links
                .get(&(account.as_str(), cookie.as_str()))
                .cloned();
        }
    }
    if !superseded_ids.is_empty() {
        client
            .execute(
                "DELETE FROM events e
                 USING UNNEST($1::TEXT[], $2::TEXT[]) AS k(ad_account_id, event_id)
                 WHERE e.ad_account_id = k.ad_account_id AND e.event_id = k.event_id",
                &[&superseded_accounts, &superseded_ids],
            )
            .await
            .map_err(driver)?;
    }
    let inserted: HashSet<(String, String)> = client
        .query(
            "INSERT INTO events
               (ad_account_id, event_id, user_id, cookie_id, name, time, value_micros, record)
             SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[],
                                  $6::BIGINT[], $7::BIGINT[], $8::TEXT[])
             ON CONFLICT (ad_account_id, event_id) DO NOTHING
             RETURNING ad_account_id, event_id",
            &[
                &columns.accounts,
                &columns.ids,
                &columns.users,
                &columns.cookies,
                &columns.names,
                &columns.times,
                &columns.values,
                &columns.records,
            ],
        )
        .await
        .map_err(driver)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    // Another writer may have stored one of them meanwhile: only what this
    // insert stored counts as recorded here.
    let outcomes = events
        .iter()
        .zip(users)
        .map(|(event, user_id)| match user_id {
            Some(user_id)
                if inserted.contains(&(event.ad_account_id.clone(), event.event_id.clone())) =>
            {
                EventOutcome::Recorded { user_id }
            }
            _ => EventOutcome::Duplicate,
        })
        .collect();
    if !new_links.is_empty() {
        type Columns<'a> = (Vec<&'a str>, Vec<&'a str>, Vec<String>);
        fn columns<'a>(links: HashMap<(&'a str, &'a str), String>) -> Columns<'a> {
            let (mut accounts, mut cookies, mut users) = (Vec::new(), Vec::new(), Vec::new());
            for ((account, cookie), user) in links {
                accounts.push(account);
                cookies.push(cookie);
                users.push(user);
            }
            (accounts, cookies, users)
        }
        // The link each browser is left with is the last person it named.
        let (accounts, cookies, users) = columns(new_links);
        let changed: HashSet<(String, String)> = client
            .query(
                "INSERT INTO cookie_links AS l (ad_account_id, cookie_id, user_id)
                 SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[])
                 ON CONFLICT (ad_account_id, cookie_id) DO UPDATE SET user_id = excluded.user_id
                 WHERE l.user_id IS DISTINCT FROM excluded.user_id
                 RETURNING ad_account_id, cookie_id",
                &[&accounts, &cookies, &users],
            )
            .await
            .map_err(driver)?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        // Events of earlier batches that named no one are the first's. A
        // browser whose link stayed as it was has none: each came after the
        // link and resolved through it (and looking again would read all of
        // the browser's events on every visit).
        first_links.retain(|&(account, cookie), _| {
            changed.contains(&(account.to_owned(), cookie.to_owned()))
        });
        let (accounts, cookies, users) = columns(first_links);
        client
            .execute(
                "UPDATE events e SET user_id = k.user_id
                 FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[]) AS k(ad_account_id, cookie_id, user_id)
                 WHERE e.ad_account_id = k.ad_account_id AND e.cookie_id = k.cookie_id
                   AND e.user_id IS NULL",
                &[&accounts, &cookies, &users],
            )
            .await
            .map_err(driver)?;
    }
    Ok(outcomes)
}

const ACCESS_TOKEN_COLUMNS: &str =
    "t.id, t.created_at, t.expires_at, t.last_used_at, t.console_generation";

/// Access tokens from rows of `ACCESS_TOKEN_COLUMNS` and one granted
/// account each (none for a token of no account), in the rows' order.
fn access_tokens_from_rows(rows: &[Row]) -> Vec<AccessToken> {
    let mut tokens: Vec<AccessToken> = Vec::new();
    for r in rows {
        let id: String = r.get(0);
        if tokens.last().is_none_or(|t| t.id != id) {
            tokens.push(AccessToken {
                id,
                ad_account_ids: BTreeSet::new(),
                created_at: r.get(1),
                expires_at: r.get(2),
                last_used_at: r.get(3),
                console_generation: r.get(4),
            });
        }
        if let (Some(token), Some(account)) = (tokens.last_mut(), r.get::<_, Option<String>>(5)) {
            token.ad_account_ids.insert(account);
        }
    }
    tokens
}

/// Inserts an engagement once per (decision, ad, kind); `false` if it was
/// there already.
async fn insert_engagement<C: GenericClient>(client: &C, e: &Engagement) -> Result<bool> {
    let inserted = client
        .execute(
            "INSERT INTO engagements (decision_id, ad_id, kind, ad_group_id, campaign_id,
                ad_account_id, user_id, charge_micros, time, invalid_reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (decision_id, ad_id, kind) DO NOTHING",
            &[
                &e.decision_id,
                &e.ad_id,
                &e.kind.as_str(),
                &e.ad_group_id,
                &e.campaign_id,
                &e.ad_account_id,
                &e.user_id,
                &(e.charge_micros as i64),
                &e.time,
                &e.invalid.map(InvalidClick::code),
            ],
        )
        .await
        .map_err(driver)?;
    Ok(inserted == 1)
}

/// The oldest events, then the links of their cookies that have no event
/// left (a link says whose browser it is; without an event it says it for
/// nothing).
/// Stores a day's totals, marks the conversions they credited and moves
/// the mark past the day; a day rolled up before is left alone. The mark's
/// row is locked first, so that two nodes never roll up the same day.
async fn roll_up_day(
    tx: &deadpool_postgres::Transaction<'_>,
    day: i64,
    accounts: Vec<(String, RollUp)>,
) -> Result<()> {
    let before: i64 = tx
        .query_one(
            "SELECT value::bigint FROM meta WHERE key = 'engagements_rolled_up_before' FOR UPDATE",
            &[],
        )
        .await
        .map_err(driver)?
        .get(0);
    if day < before {
        return Ok(());
    }
    for (account, rollup) in &accounts {
        for totals in &rollup.days {
            tx.execute(
                "INSERT INTO engagement_days (ad_account_id, day, ad_id, record) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (ad_account_id, day, ad_id) DO UPDATE SET record = excluded.record",
                &[account, &day, &totals.ad_id, &to_json(totals)?],
            )
            .await
            .map_err(driver)?;
        }
        if !rollup.credited.is_empty() {
            tx.execute(
                "UPDATE events SET credited_day = $3 WHERE ad_account_id = $1 AND event_id = ANY($2)",
                &[account, &rollup.credited, &day],
            )
            .await
            .map_err(driver)?;
        }
    }
    tx.execute(
        "UPDATE meta SET value = $1 WHERE key = 'engagements_rolled_up_before'",
        &[&(day + 1).to_string()],
    )
    .await
    .map_err(driver)?;
    Ok(())
}

async fn purge_events(
    tx: &deadpool_postgres::Transaction<'_>,
    before: i64,
    limit: i64,
) -> Result<Purged> {
    let gone = tx
        .query(
            "DELETE FROM events WHERE seq IN
               (SELECT seq FROM events WHERE time < $1 ORDER BY time LIMIT $2)
             RETURNING ad_account_id, cookie_id",
            &[&before, &limit],
        )
        .await
        .map_err(driver)?;
    let mut purged = Purged {
        rows: gone.len() as u64,
        ..Purged::default()
    };
    let mut accounts = Vec::new();
    let mut cookies = Vec::new();
    for row in &gone {
        let account: String = row.get(0);
        if let Some(cookie) = row.get::<_, Option<String>>(1) {
            accounts.push(account.clone());
            cookies.push(cookie);
        }
        purged.accounts.insert(account);
    }
    purged.cookie_links = tx
        .execute(
            "DELETE FROM cookie_links c USING UNNEST($1::text[], $2::text[]) AS g(account, cookie)
             WHERE c.ad_account_id = g.account AND c.cookie_id = g.cookie
               AND NOT EXISTS (SELECT 1 FROM events e
                               WHERE e.ad_account_id = g.account AND e.cookie_id = g.cookie)",
            &[&accounts, &cookies],
        )
        .await
        .map_err(driver)?;
    Ok(purged)
}

/// Events as columns, for one `INSERT ... SELECT FROM UNNEST`.
#[derive(Default)]
struct EventColumns {
    accounts: Vec<String>,
    ids: Vec<String>,
    users: Vec<Option<String>>,
    cookies: Vec<Option<String>>,
    names: Vec<String>,
    times: Vec<i64>,
    values: Vec<Option<i64>>,
    records: Vec<String>,
}

impl EventColumns {
    fn push(&mut self, event: &TrackedEvent, user_id: Option<String>) -> Result<()> {
        self.accounts.push(event.ad_account_id.clone());
        self.ids.push(event.event_id.clone());
        self.users.push(user_id);
        self.cookies.push(event.keys.cookie_id.clone());
        self.names.push(event.name.as_str().to_owned());
        self.times.push(event.time);
        self.values.push(event.value_micros);
        self.records.push(to_json(event)?);
        Ok(())
    }

    fn remove(&mut self, at: usize) {
        self.accounts.remove(at);
        self.ids.remove(at);
        self.users.remove(at);
        self.cookies.remove(at);
        self.names.remove(at);
        self.times.remove(at);
        self.values.remove(at);
        self.records.remove(at);
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn upsert_people(&self, people: PersonBatch) -> Result<u64> {
        // The batch is an iterator that may read a spool file: collect it
        // before the transaction, so that no connection waits on the disk.
        let people = people
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|e| crate::rows::failed_with("people batch aborted", e))?;
        self.write(move |tx| Box::pin(async move { upsert_people_batch(tx, people).await }))
            .await
    }

    async fn get_person(&self, user_id: &str) -> Result<Option<PersonRecord>> {
        let row = self
            .query_opt(
                "SELECT record, updated_at FROM people WHERE user_id = $1",
                &[&user_id],
            )
            .await?;
        row.map(|r| {
            let mut person: PersonRecord = from_json(r.get::<_, &str>(0))?;
            person.updated_at = r.get(1);
            Ok(person)
        })
        .transpose()
    }

    async fn people_with_settings(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<(PersonRecord, Option<bool>)>> {
        self.people_page(after, limit, |mut person: PersonRecord, updated_at| {
            person.updated_at = updated_at;
            person
        })
        .await
    }

    async fn profiles_with_settings(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<(ProfileFields, Option<bool>)>> {
        self.people_page(after, limit, |fields: ProfileFields, _| fields)
            .await
    }

    async fn delete_person(&self, user_id: &str) -> Result<bool> {
        let user_id = user_id.to_owned();
        // The current setting goes with the person (ON DELETE CASCADE), the
        // identifiers by their keys; the setting history stays.
        self.write(move |tx| {
            Box::pin(async move {
                let stored: Option<String> = tx
                    .query_opt(
                        "SELECT record FROM people WHERE user_id = $1 FOR UPDATE",
                        &[&user_id],
                    )
                    .await
                    .map_err(driver)?
                    .map(|r| r.get(0));
                let Some(stored) = stored else {
                    return Ok(false);
                };
                forget_identifiers(tx, &from_json(&stored)?).await?;
                // Partner events resolved to the person, and the browsers
                // they identified, go too.
                for sql in [
                    "DELETE FROM events WHERE user_id = $1",
                    "DELETE FROM list_members WHERE user_id = $1",
                    "DELETE FROM click_ids WHERE user_id = $1",
                    "UPDATE engagements SET user_id = NULL WHERE user_id = $1",
                    "DELETE FROM cookie_links WHERE user_id = $1",
                    // What they asked through "Contact us" is theirs too.
                    "DELETE FROM support_requests WHERE record::jsonb ->> 'user_id' = $1",
                    "DELETE FROM people WHERE user_id = $1",
                ] {
                    tx.execute(sql, &[&user_id]).await.map_err(driver)?;
                }
                Ok(true)
            })
        })
        .await
    }

    async fn hide_ad(&self, user_id: &str, hidden: HiddenAd) -> Result<()> {
        let client = self.client().await?;
        let inserted = client
            .execute(
                "INSERT INTO hidden_ads (user_id, scope, target_id, record)
                 SELECT user_id, $2, $3, $4 FROM people WHERE user_id = $1
                 ON CONFLICT (user_id, scope, target_id) DO NOTHING",
                &[
                    &user_id,
                    &hidden.scope.as_str(),
                    &hidden.target(),
                    &to_json(&hidden)?,
                ],
            )
            .await
            .map_err(driver)?;
        if inserted == 0 && self.get_person(user_id).await?.is_none() {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn unhide_ad(&self, user_id: &str, scope: HideScope, target_id: &str) -> Result<bool> {
        let client = self.client().await?;
        let removed = client
            .execute(
                "DELETE FROM hidden_ads WHERE user_id = $1 AND scope = $2 AND target_id = $3",
                &[&user_id, &scope.as_str(), &target_id],
            )
            .await
            .map_err(driver)?;
        Ok(removed > 0)
    }

    async fn hidden_ads(&self, user_ids: &[String]) -> Result<Vec<(String, HiddenAd)>> {
        let rows = self
            .query(
                "SELECT user_id, record FROM hidden_ads WHERE user_id = ANY($1)",
                &[&user_ids],
            )
            .await?;
        let mut out = rows
            .iter()
            .map(|r| {
                Ok((
                    r.get::<_, String>(0),
                    from_json::<HiddenAd>(r.get::<_, &str>(1))?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        out.sort_by_key(|(user, h)| (user.clone(), h.hidden_time));
        Ok(out)
    }

    async fn report_ad(&self, user_id: &str, report: AdReport) -> Result<u64> {
        let user_id = user_id.to_owned();
        self.write(move |tx| {
            Box::pin(async move {
                let inserted = tx
                    .execute(
                        "INSERT INTO ad_reports (ad_id, user_id, record)
                         SELECT $1, user_id, $3 FROM people WHERE user_id = $2
                         ON CONFLICT (ad_id, user_id) DO UPDATE SET record = excluded.record",
                        &[&report.ad_id, &user_id, &to_json(&report)?],
                    )
                    .await
                    .map_err(driver)?;
                if inserted == 0 {
                    return Err(StoreError::NotFound);
                }
                let reporters: i64 = tx
                    .query_one(
                        "SELECT COUNT(*) FROM ad_reports WHERE ad_id = $1",
                        &[&report.ad_id],
                    )
                    .await
                    .map_err(driver)?
                    .get(0);
                Ok(reporters as u64)
            })
        })
        .await
    }

    async fn ad_reports(&self, ad_id: &str) -> Result<Vec<AdReport>> {
        let rows = self
            .query("SELECT record FROM ad_reports WHERE ad_id = $1", &[&ad_id])
            .await?;
        let mut reports = rows
            .iter()
            .map(|r| from_json::<AdReport>(r.get::<_, &str>(0)))
            .collect::<Result<Vec<_>>>()?;
        reports.sort_by_key(|r| r.reported_time);
        Ok(reports)
    }

    async fn ad_feedback_counts(&self, ad_ids: &[String]) -> Result<Vec<AdFeedbackCount>> {
        let rows = self
            .query(
                "SELECT id,
                    (SELECT COUNT(*) FROM hidden_ads WHERE scope = 'ad' AND target_id = id),
                    (SELECT COUNT(*) FROM ad_reports WHERE ad_id = id)
                 FROM UNNEST($1::text[]) AS id",
                &[&ad_ids],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| AdFeedbackCount {
                ad_id: r.get(0),
                hidden: r.get::<_, i64>(1) as u64,
                reported: r.get::<_, i64>(2) as u64,
            })
            .filter(|c| c.hidden > 0 || c.reported > 0)
            .collect())
    }

    async fn most_reported_ads(&self, limit: usize) -> Result<Vec<(String, u64)>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .query(
                "SELECT ad_id, COUNT(*) AS reporters FROM ad_reports GROUP BY ad_id
                 ORDER BY reporters DESC, ad_id LIMIT $1",
                &[&limit],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get::<_, i64>(1) as u64))
            .collect())
    }

    async fn put_media(&self, media: Media) -> Result<()> {
        self.query(
            "INSERT INTO media (id, ad_account_id, content_type, bytes, created_time)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
            &[
                &media.id,
                &media.ad_account_id,
                &media.content_type,
                &media.bytes,
                &media.created_time,
            ],
        )
        .await?;
        Ok(())
    }

    async fn get_media(&self, id: &str) -> Result<Option<Media>> {
        let rows = self
            .query(
                "SELECT id, ad_account_id, content_type, bytes, created_time FROM media WHERE id = $1",
                &[&id],
            )
            .await?;
        Ok(rows.first().map(|r| Media {
            id: r.get(0),
            ad_account_id: r.get(1),
            content_type: r.get(2),
            bytes: r.get(3),
            created_time: r.get(4),
        }))
    }

    async fn find_people_by_digest(&self, digest: &str) -> Result<Vec<String>> {
        let Ok(digest) = hex::decode(digest) else {
            return Ok(Vec::new());
        };
        let rows = self
            .query(
                "SELECT user_id FROM identifiers WHERE digest = $1 ORDER BY user_id",
                &[&digest],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn get_ads_setting(&self, user_id: &str) -> Result<AdsSetting> {
        let row = self
            .query_opt(
                "SELECT use_partner_info, updated_at FROM ads_settings WHERE user_id = $1",
                &[&user_id],
            )
            .await?;
        Ok(row
            .map(|r| AdsSetting {
                use_partner_info: r.get(0),
                updated_at: Some(r.get(1)),
            })
            .unwrap_or_default())
    }

    async fn record_ads_setting(&self, user_id: &str, change: SettingChange) -> Result<AdsSetting> {
        let user_id = user_id.to_owned();
        self.write(move |tx| {
            Box::pin(async move {
                // Locks the person against a delete until the change commits.
                let exists = tx
                    .query_opt("SELECT 1 FROM people WHERE user_id = $1 FOR SHARE", &[&user_id])
                    .await
                    .map_err(driver)?
                    .is_some();
                if !exists {
                    return Err(StoreError::NotFound);
                }
                tx.execute(
                    "INSERT INTO ads_settings (user_id, use_partner_info, updated_at) VALUES ($1, $2, $3)
                     ON CONFLICT (user_id) DO UPDATE SET use_partner_info = excluded.use_partner_info,
                                                         updated_at = excluded.updated_at",
                    &[&user_id, &change.use_partner_info, &change.changed_at],
                )
                .await
                .map_err(driver)?;
                tx.execute(
                    "INSERT INTO ads_setting_history (user_id, use_partner_info, changed_at, source)
                     VALUES ($1, $2, $3, $4)",
                    &[&user_id, &change.use_partner_info, &change.changed_at, &change.source],
                )
                .await
                .map_err(driver)?;
                Ok(AdsSetting {
                    use_partner_info: change.use_partner_info,
                    updated_at: Some(change.changed_at),
                })
            })
        })
        .await
    }

    async fn ads_setting_history(
        &self,
        user_id: &str,
        page: PageRequest,
    ) -> Result<Page<SettingChange>> {
        let before = bookmark_seq(&page)?;
        let rows = self
            .query(
                "SELECT seq, use_partner_info, changed_at, source FROM ads_setting_history
                 WHERE user_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3",
                &[&user_id, &before, &(i64::from(page.size) + 1)],
            )
            .await?;
        let rows: Vec<(i64, SettingChange)> = rows
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    SettingChange {
                        use_partner_info: r.get(1),
                        changed_at: r.get(2),
                        source: r.get(3),
                    },
                )
            })
            .collect();
        let page = page_of(rows, page.size, |(seq, _)| seq.to_string());
        Ok(Page {
            items: page.items.into_iter().map(|(_, c)| c).collect(),
            next: page.next,
        })
    }

    async fn create_ad_account(&self, account: AdAccount) -> Result<AdAccount> {
        let client = self.client().await?;
        let inserted = client
            .execute(
                &format!(
                    "INSERT INTO ad_accounts ({AD_ACCOUNT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (id) DO NOTHING"
                ),
                &[
                    &account.id,
                    &account.name,
                    &account.country.as_str(),
                    &account.currency,
                    &account.owner_user_id,
                    &account.created_time,
                    &account.updated_time,
                ],
            )
            .await
            .map_err(driver)?;
        if inserted == 0 {
            return Err(StoreError::AlreadyExists);
        }
        Ok(account)
    }

    async fn get_ad_account(&self, id: &str) -> Result<Option<AdAccount>> {
        self.query_opt(
            &format!("SELECT {AD_ACCOUNT_COLUMNS} FROM ad_accounts WHERE id = $1"),
            &[&id],
        )
        .await?
        .map(|r| ad_account_from_row(&r))
        .transpose()
    }

    async fn list_ad_accounts(
        &self,
        only: Option<&BTreeSet<String>>,
        page: PageRequest,
    ) -> Result<Page<AdAccount>> {
        let only: Option<Vec<String>> = only.map(|o| o.iter().cloned().collect());
        let rows = self
            .query(
                &format!(
                    "SELECT {AD_ACCOUNT_COLUMNS} FROM ad_accounts
                     WHERE id > $1 AND ($2::text[] IS NULL OR id = ANY($2))
                     ORDER BY id LIMIT $3"
                ),
                &[
                    &page.after.clone().unwrap_or_default(),
                    &only,
                    &(i64::from(page.size) + 1),
                ],
            )
            .await?;
        let accounts = rows
            .iter()
            .map(ad_account_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(page_of(accounts, page.size, |a| a.id.clone()))
    }

    async fn create_access_token(&self, token_hash: &str, token: &AccessToken) -> Result<()> {
        let token_hash = token_hash.to_owned();
        let token = token.clone();
        let ids: Vec<String> = token.ad_account_ids.iter().cloned().collect();
        self.write(move |tx| {
            Box::pin(async move {
                let found: i64 = tx
                    .query_one(
                        "SELECT COUNT(*) FROM ad_accounts WHERE id = ANY($1)",
                        &[&ids],
                    )
                    .await
                    .map_err(driver)?
                    .get(0);
                if found as usize != ids.len() {
                    return Err(StoreError::NotFound);
                }
                tx.execute(
                    "INSERT INTO access_tokens (token_hash, created_at, id, expires_at, console_generation)
                     VALUES ($1, $2, $3, $4, $5)",
                    &[
                        &token_hash,
                        &token.created_at,
                        &token.id,
                        &token.expires_at,
                        &token.console_generation,
                    ],
                )
                .await
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::AlreadyExists
                    } else {
                        driver(e)
                    }
                })?;
                tx.execute(
                    "INSERT INTO access_token_accounts (token_hash, ad_account_id)
                     SELECT $1, UNNEST($2::text[])",
                    &[&token_hash, &ids],
                )
                .await
                .map_err(driver)?;
                Ok(())
            })
        })
        .await
    }

    async fn access_token(&self, token_hash: &str) -> Result<Option<AccessToken>> {
        let rows = self
            .query(
                &format!(
                    "SELECT {ACCESS_TOKEN_COLUMNS}, a.ad_account_id FROM access_tokens t
                     LEFT JOIN access_token_accounts a ON a.token_hash = t.token_hash
                     WHERE t.token_hash = $1"
                ),
                &[&token_hash],
            )
            .await?;
        Ok(access_tokens_from_rows(&rows).into_iter().next())
    }

    async fn list_access_tokens(&self) -> Result<Vec<AccessToken>> {
        let rows = self
            .query(
                &format!(
                    "SELECT {ACCESS_TOKEN_COLUMNS}, a.ad_account_id FROM access_tokens t
                     LEFT JOIN access_token_accounts a ON a.token_hash = t.token_hash
                     ORDER BY t.id"
                ),
                &[],
            )
            .await?;
        Ok(access_tokens_from_rows(&rows))
    }

    async fn revoke_access_token(&self, id: &str) -> Result<bool> {
        let client = self.client().await?;
        let deleted = client
            .execute("DELETE FROM access_tokens WHERE id = $1", &[&id])
            .await
            .map_err(driver)?;
        Ok(deleted > 0)
    }

    async fn access_token_used(&self, token_hash: &str, now: i64) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE access_tokens SET last_used_at = $2 WHERE token_hash = $1",
                &[&token_hash, &now],
            )
            .await
            .map_err(driver)?;
        Ok(())
    }

    async fn created_since(&self, ad_account_id: &str, since: i64) -> Result<(u64, u64)> {
        let row = self
            .query(
                "SELECT
                   (SELECT COUNT(*) FROM customer_lists WHERE ad_account_id = $1
                      AND (record::jsonb ->> 'created_time')::BIGINT >= $2),
                   (SELECT COUNT(*) FROM audiences WHERE ad_account_id = $1 AND created_time >= $2)",
                &[&ad_account_id, &since],
            )
            .await?;
        let row = row.first().ok_or_else(|| internal("no count".into()))?;
        Ok((row.get::<_, i64>(0) as u64, row.get::<_, i64>(1) as u64))
    }

    async fn spend_once(&self, id: &str, expires_at: i64, now: i64) -> Result<bool> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM spent_tokens WHERE expires_at <= $1", &[&now])
            .await
            .map_err(driver)?;
        let inserted = client
            .execute(
                "INSERT INTO spent_tokens (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
                &[&id, &expires_at],
            )
            .await
            .map_err(driver)?;
        Ok(inserted == 1)
    }

    async fn end_console_sessions(&self, token_hash: &str) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE access_tokens SET console_generation = console_generation + 1
                 WHERE token_hash = $1",
                &[&token_hash],
            )
            .await
            .map_err(driver)?;
        Ok(())
    }

    async fn create_conversion_tag(&self, tag: ConversionTag) -> Result<ConversionTag> {
        let client = self.client().await?;
        let record = to_json(&tag)?;
        // Inserts only when the account exists and the id is new.
        let inserted = client
            .execute(
                "INSERT INTO conversion_tags (id, ad_account_id, record)
                 SELECT $1, id, $3 FROM ad_accounts WHERE id = $2
                 ON CONFLICT (id) DO NOTHING",
                &[&tag.id, &tag.ad_account_id, &record],
            )
            .await
            .map_err(driver)?;
        if inserted == 1 {
            return Ok(tag);
        }
        if self.get_ad_account(&tag.ad_account_id).await?.is_none() {
            return Err(StoreError::NotFound);
        }
        Err(StoreError::AlreadyExists)
    }

    async fn get_conversion_tag(&self, id: &str) -> Result<Option<ConversionTag>> {
        self.query_opt("SELECT record FROM conversion_tags WHERE id = $1", &[&id])
            .await?
            .map(|r| from_json(r.get::<_, &str>(0)))
            .transpose()
    }

    async fn update_conversion_tag(&self, tag: ConversionTag) -> Result<()> {
        let client = self.client().await?;
        let record = to_json(&tag)?;
        let updated = client
            .execute(
                "UPDATE conversion_tags SET record = $3 WHERE id = $1 AND ad_account_id = $2",
                &[&tag.id, &tag.ad_account_id, &record],
            )
            .await
            .map_err(driver)?;
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn add_blocked_pixels(&self, counts: Vec<BlockedPixels>) -> Result<()> {
        let (mut tags, mut reasons, mut adds) = (Vec::new(), Vec::new(), Vec::new());
        for c in counts {
            tags.push(c.tag_id);
            reasons.push(c.reason);
            adds.push(c.count as i64);
        }
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO blocked_pixels (tag_id, reason, count)
                 SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[])
                 ON CONFLICT (tag_id, reason) DO UPDATE SET count = blocked_pixels.count + excluded.count",
                &[&tags, &reasons, &adds],
            )
            .await
            .map_err(driver)?;
        Ok(())
    }

    async fn blocked_pixels(&self, tag_id: &str) -> Result<Vec<BlockedPixels>> {
        Ok(self
            .query(
                "SELECT reason, count FROM blocked_pixels WHERE tag_id = $1 ORDER BY reason",
                &[&tag_id],
            )
            .await?
            .iter()
            .map(|r| BlockedPixels {
                tag_id: tag_id.to_owned(),
                reason: r.get(0),
                count: r.get::<_, i64>(1) as u64,
            })
            .collect())
    }

    async fn list_conversion_tags(&self, ad_account_id: &str) -> Result<Vec<ConversionTag>> {
        self.query(
            "SELECT record FROM conversion_tags WHERE ad_account_id = $1 ORDER BY id",
            &[&ad_account_id],
        )
        .await?
        .iter()
        .map(|r| from_json(r.get::<_, &str>(0)))
        .collect()
    }

    async fn record_events(&self, events: Vec<TrackedEvent>) -> Result<Vec<EventOutcome>> {
        self.write(move |tx| Box::pin(async move { record_event_batch(tx, &events).await }))
            .await
    }

    async fn record_click_id(
        &self,
        click_id: &str,
        user_id: &str,
        ad_account_id: &str,
        time: i64,
    ) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO click_ids (click_id, user_id, ad_account_id, time) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (click_id) DO NOTHING",
                &[&click_id, &user_id, &ad_account_id, &time],
            )
            .await
            .map_err(driver)?;
        Ok(())
    }

    async fn get_event(&self, ad_account_id: &str, event_id: &str) -> Result<Option<StoredEvent>> {
        let rows = self
            .query(
                "SELECT record, user_id FROM events WHERE ad_account_id = $1 AND event_id = $2",
                &[&ad_account_id, &event_id],
            )
            .await?;
        Ok(stored_events(rows)?.pop())
    }

    async fn conversion_totals(&self, ad_account_id: &str) -> Result<Vec<ConversionTotal>> {
        let rows = self
            .query(
                "SELECT name, COUNT(*), COALESCE(SUM(value_micros), 0)::BIGINT FROM events
                 WHERE ad_account_id = $1 GROUP BY name ORDER BY name",
                &[&ad_account_id],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| ConversionTotal {
                name: r.get::<_, String>(0).into(),
                events: r.get::<_, i64>(1) as u64,
                value_micros: r.get(2),
            })
            .collect())
    }

    async fn people_by_digests(&self, digests: Vec<String>) -> Result<Vec<Vec<String>>> {
        // A digest that is not hex names no one; it keeps its place.
        let bytes: Vec<Vec<u8>> = digests
            .iter()
            .map(|d| hex::decode(d).unwrap_or_default())
            .collect();
        let client = self.client().await?;
        people_named(&client, &bytes).await
    }

    async fn consent_facts(&self, user_ids: Vec<String>) -> Result<Vec<ConsentFacts>> {
        let rows = self
            .query(
                "SELECT p.user_id, p.record, s.use_partner_info FROM people p
                 LEFT JOIN ads_settings s ON s.user_id = p.user_id
                 WHERE p.user_id = ANY($1)",
                &[&user_ids],
            )
            .await?;
        let mut found: HashMap<String, ConsentFacts> = HashMap::new();
        for r in rows {
            let person: PersonRecord = from_json(r.get::<_, &str>(1))?;
            let user_id: String = r.get(0);
            found.insert(
                user_id.clone(),
                ConsentFacts {
                    user_id,
                    use_partner_info: r.get(2),
                    country: person.country,
                    regs: person.regs,
                },
            );
        }
        // In the order asked, as the embedded backend answers.
        Ok(user_ids.iter().filter_map(|u| found.remove(u)).collect())
    }

    async fn create_customer_lists(
        &self,
        lists: Vec<(CustomerList, Vec<ListMember>)>,
    ) -> Result<Vec<CustomerList>> {
        self.write(move |tx| {
            Box::pin(async move {
                let mut made = Vec::with_capacity(lists.len());
                for (list, matched) in lists {
                    let inserted = tx
                        .execute(
                            "INSERT INTO customer_lists (id, ad_account_id, record) VALUES ($1, $2, $3)
                             ON CONFLICT (id) DO NOTHING",
                            &[&list.id, &list.ad_account_id, &to_json(&list)?],
                        )
                        .await
                        .map_err(driver)?;
                    if inserted == 0 {
                        return Err(StoreError::AlreadyExists);
                    }
                    add_members(tx, &list.id, &matched).await?;
                    made.push(list);
                }
                Ok(made)
            })
        })
        .await
    }

    async fn update_customer_list(&self, change: ListChange) -> Result<CustomerList> {
        self.write(move |tx| {
            Box::pin(async move {
                let record: String = tx
                    .query_opt(
                        "SELECT record FROM customer_lists WHERE id = $1 FOR UPDATE",
                        &[&change.list_id],
                    )
                    .await
                    .map_err(driver)?
                    .ok_or(StoreError::NotFound)?
                    .get(0);
                let mut list: CustomerList = from_json(&record)?;
                list.num_batches += 1;
                list.updated_time = change.now;
                if change.remove {
                    list.num_removed_user_records += change.uploaded;
                    let digests = change
                        .digests
                        .iter()
                        .map(|d| digest_bytes(d))
                        .collect::<Result<Vec<_>>>()?;
                    tx.execute(
                        "DELETE FROM list_members WHERE list_id = $1 AND digest = ANY($2)",
                        &[&change.list_id, &digests],
                    )
                    .await
                    .map_err(driver)?;
                } else {
                    list.num_uploaded_user_records += change.uploaded;
                    add_members(tx, &change.list_id, &change.matched).await?;
                }
                tx.execute(
                    "UPDATE customer_lists SET record = $2 WHERE id = $1",
                    &[&change.list_id, &to_json(&list)?],
                )
                .await
                .map_err(driver)?;
                Ok(list)
            })
        })
        .await
    }

    async fn get_customer_list(&self, id: &str) -> Result<Option<CustomerList>> {
        self.query_opt("SELECT record FROM customer_lists WHERE id = $1", &[&id])
            .await?
            .map(|r| from_json(r.get::<_, &str>(0)))
            .transpose()
    }

    async fn list_customer_lists(
        &self,
        ad_account_id: &str,
        page: PageRequest,
    ) -> Result<Page<CustomerList>> {
        let lists = self
            .query(
                "SELECT record FROM customer_lists WHERE ad_account_id = $1 AND id > $2
                 ORDER BY id LIMIT $3",
                &[
                    &ad_account_id,
                    &page.after.clone().unwrap_or_default(),
                    &(i64::from(page.size) + 1),
                ],
            )
            .await?
            .iter()
            .map(|r| from_json(r.get::<_, &str>(0)))
            .collect::<Result<Vec<CustomerList>>>()?;
        Ok(page_of(lists, page.size, |l| l.id.clone()))
    }

    async fn customer_list_members(&self, list_id: &str) -> Result<Vec<String>> {
        Ok(self
            .query(
                "SELECT DISTINCT user_id FROM list_members WHERE list_id = $1 ORDER BY user_id",
                &[&list_id],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    async fn put_audience(&self, audience: StoredAudience) -> Result<StoredAudience> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO audiences (id, ad_account_id, record, created_time, updated_time)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (id) DO UPDATE SET record = excluded.record,
                                                updated_time = excluded.updated_time
                 WHERE audiences.ad_account_id = excluded.ad_account_id",
                &[
                    &audience.id,
                    &audience.ad_account_id,
                    &to_json(&audience.record)?,
                    &audience.created_time,
                    &audience.updated_time,
                ],
            )
            .await
            .map_err(driver)?;
        Ok(audience)
    }

    async fn get_audience(&self, id: &str) -> Result<Option<StoredAudience>> {
        self.query_opt(
            "SELECT id, ad_account_id, record, created_time, updated_time FROM audiences WHERE id = $1",
            &[&id],
        )
        .await?
        .map(|r| audience_from_row(&r))
        .transpose()
    }

    async fn list_audiences(
        &self,
        ad_account_id: &str,
        page: PageRequest,
    ) -> Result<Page<StoredAudience>> {
        let audiences = self
            .query(
                "SELECT id, ad_account_id, record, created_time, updated_time FROM audiences
                 WHERE ad_account_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                &[
                    &ad_account_id,
                    &page.after.clone().unwrap_or_default(),
                    &(i64::from(page.size) + 1),
                ],
            )
            .await?
            .iter()
            .map(audience_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(page_of(audiences, page.size, |a| a.id.clone()))
    }

    async fn put_objects(&self, objects: Vec<StoredObject>) -> Result<()> {
        self.write(move |tx| {
            Box::pin(async move {
                for o in &objects {
                    tx.execute(
                        "INSERT INTO objects (kind, id, ad_account_id, record, created_time, updated_time)
                         VALUES ($1, $2, $3, $4, $5, $6)
                         ON CONFLICT (kind, id) DO UPDATE SET record = excluded.record,
                                                              updated_time = excluded.updated_time
                         WHERE objects.ad_account_id = excluded.ad_account_id",
                        &[
                            &o.record.kind().as_str(),
                            &o.id,
                            &o.ad_account_id,
                            &object_record(&o.record)?,
                            &o.created_time,
                            &o.updated_time,
                        ],
                    )
                    .await
                    .map_err(driver)?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn get_object(&self, kind: ObjectKind, id: &str) -> Result<Option<StoredObject>> {
        let kind = kind.as_str();
        self.query_opt(
            "SELECT id, ad_account_id, record, created_time, updated_time FROM objects
             WHERE kind = $1 AND id = $2",
            &[&kind, &id],
        )
        .await?
        .map(|r| object_from_row(kind, &r))
        .transpose()
    }

    async fn list_objects(
        &self,
        kind: ObjectKind,
        ad_account_id: &str,
    ) -> Result<Vec<StoredObject>> {
        let kind = kind.as_str();
        self.query(
            "SELECT id, ad_account_id, record, created_time, updated_time FROM objects
             WHERE kind = $1 AND ad_account_id = $2 ORDER BY id",
            &[&kind, &ad_account_id],
        )
        .await?
        .iter()
        .map(|r| object_from_row(kind, r))
        .collect()
    }

    async fn record_engagement(&self, e: Engagement) -> Result<Option<Engagement>> {
        if e.kind != EngagementKind::Click {
            // An impression is one insert: no transaction, no lock.
            let client = self.client().await?;
            let inserted = insert_engagement(&client, &e).await?;
            return Ok(inserted.then_some(e));
        }
        self.write(move |tx| {
            Box::pin(async move {
                let mut e = e;
                // One person's clicks on one ad group are judged one at a
                // time, whichever node takes them.
                let subject = format!(
                    "{}/{}",
                    e.user_id.as_deref().unwrap_or(&e.decision_id),
                    e.ad_group_id
                );
                tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&subject])
                    .await
                    .map_err(driver)?;
                let seen = |kind: &'static str| {
                    let (d, a) = (&e.decision_id, &e.ad_id);
                    async move {
                        tx.query_one(
                            "SELECT EXISTS(SELECT 1 FROM engagements WHERE decision_id = $1 AND ad_id = $2 AND kind = $3)",
                            &[d, a, &kind],
                        )
                        .await
                        .map(|r| r.get::<_, bool>(0))
                        .map_err(driver)
                    }
                };
                if seen("click").await? {
                    return Ok(None);
                }
                let impression = seen("impression").await?;
                let clicked_today = match &e.user_id {
                    Some(user) => {
                        let day = day_of(e.time) * 86_400;
                        tx.query_one(
                            "SELECT EXISTS(SELECT 1 FROM engagements WHERE user_id = $1 AND ad_group_id = $2
                                AND kind = 'click' AND time >= $3 AND time < $4)",
                            &[user, &e.ad_group_id, &day, &(day + 86_400)],
                        )
                        .await
                        .map_err(driver)?
                        .get::<_, bool>(0)
                    }
                    None => false,
                };
                if let Some(reason) = judge_click(impression, clicked_today) {
                    e.kind = EngagementKind::InvalidClick;
                    e.invalid = Some(reason);
                    e.charge_micros = 0;
                }
                let inserted = insert_engagement(tx, &e).await?;
                Ok(inserted.then_some(e))
            })
        })
        .await
    }

    async fn partner_data_about(&self, user_id: &str) -> Result<Vec<PartnerData>> {
        let lists = self
            .query(
                "SELECT DISTINCT l.ad_account_id, l.record FROM list_members m
                 JOIN customer_lists l ON l.id = m.list_id WHERE m.user_id = $1",
                &[&user_id],
            )
            .await?;
        let mut rows = Vec::new();
        for r in &lists {
            let list: CustomerList = from_json(r.get::<_, &str>(1))?;
            rows.push(PartnerData {
                ad_account_id: r.get(0),
                source: PartnerSource::CustomerList,
                first_time: list.created_time,
                last_time: list.updated_time,
            });
        }
        let events = self
            .query(
                "SELECT ad_account_id, (record::jsonb ->> 'source') = 'api', MIN(time), MAX(time)
                 FROM events WHERE user_id = $1 GROUP BY 1, 2",
                &[&user_id],
            )
            .await?;
        rows.extend(events.iter().map(|r| PartnerData {
            ad_account_id: r.get(0),
            source: if r.get::<_, Option<bool>>(1).unwrap_or(false) {
                PartnerSource::Conversions
            } else {
                PartnerSource::Tag
            },
            first_time: r.get(2),
            last_time: r.get(3),
        }));
        Ok(merge_partner_data(rows))
    }

    async fn spend_by_account(&self, since: i64, until: i64) -> Result<Vec<(String, u64)>> {
        let rows = self
            .query(
                "SELECT ad_account_id, SUM(charge_micros)::BIGINT FROM engagements
                 WHERE time >= $1 AND time < $2 AND charge_micros > 0
                 GROUP BY ad_account_id ORDER BY ad_account_id",
                &[&since, &until],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get::<_, i64>(1) as u64))
            .collect())
    }

    async fn engagements(
        &self,
        ad_account_id: &str,
        since: i64,
        until: i64,
    ) -> Result<Vec<Engagement>> {
        let rows = self
            .query(
                "SELECT decision_id, ad_id, kind, ad_group_id, campaign_id, ad_account_id, user_id,
                        charge_micros, time, invalid_reason
                 FROM engagements WHERE ad_account_id = $1 AND time >= $2 AND time < $3 ORDER BY time",
                &[&ad_account_id, &since, &until],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let (kind, invalid) = engagement_kind(r.get(2), r.get(9));
                Engagement {
                    decision_id: r.get(0),
                    ad_id: r.get(1),
                    kind,
                    invalid,
                    ad_group_id: r.get(3),
                    campaign_id: r.get(4),
                    ad_account_id: r.get(5),
                    user_id: r.get(6),
                    charge_micros: r.get::<_, i64>(7) as u64,
                    time: r.get(8),
                }
            })
            .collect())
    }

    async fn resolved_events(
        &self,
        ad_account_id: &str,
        since: i64,
        until: i64,
    ) -> Result<Vec<StoredEvent>> {
        stored_events(
            self.query(
                "SELECT record, user_id FROM events
                 WHERE ad_account_id = $1 AND time >= $2 AND time < $3 AND user_id IS NOT NULL
                   AND credited_day IS NULL
                 ORDER BY seq",
                &[&ad_account_id, &since, &until],
            )
            .await?,
        )
    }

    async fn oldest_engagement(&self, since: i64) -> Result<Option<i64>> {
        Ok(self
            .query_opt(
                "SELECT MIN(time) FROM engagements WHERE time >= $1",
                &[&since],
            )
            .await?
            .and_then(|r| r.get(0)))
    }

    async fn roll_up_day(&self, day: i64, accounts: Vec<(String, RollUp)>) -> Result<()> {
        self.write(move |tx| Box::pin(roll_up_day(tx, day, accounts)))
            .await
    }

    async fn rolled_up_before(&self) -> Result<i64> {
        let row = self
            .query_opt(
                "SELECT value::bigint FROM meta WHERE key = 'engagements_rolled_up_before'",
                &[],
            )
            .await?;
        Ok(row.map_or(0, |r| r.get(0)))
    }

    async fn engagement_days(
        &self,
        ad_account_id: &str,
        since_day: i64,
        until_day: i64,
    ) -> Result<Vec<DayTotals>> {
        self.query(
            "SELECT record FROM engagement_days
             WHERE ad_account_id = $1 AND day >= $2 AND day < $3 ORDER BY day, ad_id",
            &[&ad_account_id, &since_day, &until_day],
        )
        .await?
        .iter()
        .map(|r| from_json(r.get(0)))
        .collect()
    }

    async fn latest_events(&self, ad_account_id: &str, limit: usize) -> Result<Vec<StoredEvent>> {
        stored_events(
            self.query(
                "SELECT record, user_id FROM events
                 WHERE ad_account_id = $1 ORDER BY seq DESC LIMIT $2",
                &[&ad_account_id, &(limit as i64)],
            )
            .await?,
        )
    }

    async fn instance_secret(&self) -> Result<String> {
        self.query_opt("SELECT value FROM meta WHERE key = 'secret'", &[])
            .await?
            .map(|r| r.get(0))
            .ok_or_else(|| internal("the instance secret is missing".to_owned()))
    }

    async fn create_support_request(&self, request: SupportRequest) -> Result<SupportRequest> {
        let client = self.client().await?;
        let inserted = client
            .execute(
                "INSERT INTO support_requests (id, record) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
                &[&request.id, &to_json(&request)?],
            )
            .await
            .map_err(driver)?;
        if inserted == 0 {
            return Err(StoreError::AlreadyExists);
        }
        Ok(request)
    }

    async fn support_requests(&self, page: PageRequest) -> Result<Page<SupportRequest>> {
        let before = bookmark_seq(&page)?;
        let rows = self
            .query(
                "SELECT seq, record FROM support_requests WHERE seq < $1 ORDER BY seq DESC LIMIT $2",
                &[&before, &(i64::from(page.size) + 1)],
            )
            .await?;
        let rows: Vec<(i64, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        let page = page_of(rows, page.size, |(seq, _)| seq.to_string());
        Ok(Page {
            items: page
                .items
                .iter()
                .map(|(_, record)| from_json(record))
                .collect::<Result<_>>()?,
            next: page.next,
        })
    }

    async fn hold_reported_size(
        &self,
        id: &str,
        period: i64,
        size: ReportedSize,
    ) -> Result<ReportedSize> {
        let client = self.client().await?;
        let proposed = size.size.map(|s| s as i64);
        // A later period replaces the held size; the same period keeps it.
        let held = client
            .query_opt(
                "INSERT INTO reported_sizes (id, period, ready, size) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO UPDATE SET period = excluded.period, ready = excluded.ready,
                                                size = excluded.size
                 WHERE reported_sizes.period < excluded.period
                 RETURNING period, ready, size",
                &[&id, &period, &size.ready, &proposed],
            )
            .await
            .map_err(driver)?;
        // No row: one is held for this period (or a later) already.
        let row = match held {
            Some(row) => row,
            None => client
                .query_one(
                    "SELECT period, ready, size FROM reported_sizes WHERE id = $1",
                    &[&id],
                )
                .await
                .map_err(driver)?,
        };
        if row.get::<_, i64>(0) != period {
            // Another node is already in a later period (clocks differ):
            // answer with this node's own.
            return Ok(size);
        }
        Ok(ReportedSize {
            ready: row.get(1),
            size: row.get::<_, Option<i64>>(2).map(|s| s as u64),
        })
    }

    async fn announce(&self, payload: &str) -> Result<()> {
        let client = self.client().await?;
        client
            .execute("SELECT pg_notify($1, $2)", &[&CHANGES, &payload])
            .await
            .map_err(driver)?;
        Ok(())
    }

    async fn follow(&self) -> Result<Option<tokio::sync::mpsc::Receiver<String>>> {
        let (tx, rx) = tokio::sync::mpsc::channel(4096);
        // Listening before this returns: the caller loads its state after,
        // so that nothing committed in between is missed.
        let (mut client, mut forward) = listen(&self.url, tx.clone()).await?;
        let url = self.url.clone();
        tokio::spawn(async move {
            loop {
                let _ = (&mut forward).await;
                drop(client);
                if tx.is_closed() {
                    return;
                }
                tracing::warn!(
                    "lost the connection that follows other nodes' changes; reconnecting"
                );
                loop {
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    if let Ok(again) = listen(&url, tx.clone()).await {
                        (client, forward) = again;
                        break;
                    }
                }
                // What was announced while disconnected is lost.
                if tx.send(crate::RESYNC.to_owned()).await.is_err() {
                    return;
                }
            }
        });
        Ok(Some(rx))
    }

    async fn ready(&self) -> Result<()> {
        self.client().await.map(drop)
    }

    async fn purge(&self, kind: PurgeKind, before: i64, limit: usize) -> Result<Purged> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let delete = |sql: &'static str| async move {
            let n = self.client().await?.execute(sql, &[&before, &limit]).await;
            Ok::<_, StoreError>(Purged {
                rows: n.map_err(driver)?,
                ..Purged::default()
            })
        };
        match kind {
            PurgeKind::Events => {
                self.write(move |tx| Box::pin(purge_events(tx, before, limit)))
                    .await
            }
            PurgeKind::ClickIds => {
                delete(
                    "DELETE FROM click_ids WHERE click_id IN
                       (SELECT click_id FROM click_ids WHERE time < $1 ORDER BY time LIMIT $2)",
                )
                .await
            }
            PurgeKind::Engagements => {
                delete(
                    "DELETE FROM engagements WHERE ctid IN
                       (SELECT ctid FROM engagements WHERE time < $1 ORDER BY time LIMIT $2)",
                )
                .await
            }
            PurgeKind::SupportRequests => {
                delete(
                    "DELETE FROM support_requests WHERE seq IN
                       (SELECT seq FROM support_requests
                        WHERE (record::jsonb ->> 'created_time')::bigint < $1
                        ORDER BY seq LIMIT $2)",
                )
                .await
            }
            PurgeKind::SettingsHistory => {
                delete(
                    "DELETE FROM ads_setting_history WHERE seq IN
                       (SELECT h.seq FROM ads_setting_history h
                        WHERE h.changed_at < $1
                          AND h.seq < (SELECT MAX(l.seq) FROM ads_setting_history l
                                       WHERE l.user_id = h.user_id)
                        ORDER BY h.seq LIMIT $2)",
                )
                .await
            }
        }
    }

    async fn claim_job(&self, name: &str, holder: &str, now: i64, until: i64) -> Result<bool> {
        // meta holds "holder until"; a claim replaces one of its own
        // holder's or one that ran out.
        let key = format!("job.{name}");
        let claimed = self
            .query_opt(
                "INSERT INTO meta (key, value) VALUES ($1, $2 || ' ' || ($4::bigint)::text)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value
                 WHERE split_part(meta.value, ' ', 1) = $2
                    OR split_part(meta.value, ' ', 2)::bigint <= $3
                 RETURNING 1",
                &[&key, &holder, &now, &until],
            )
            .await?;
        Ok(claimed.is_some())
    }

    async fn close(&self) -> Result<()> {
        // Every write was committed before it returned: nothing to flush.
        self.pool.close();
        Ok(())
    }
}
