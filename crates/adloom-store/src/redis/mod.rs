//! The shared counters in Redis (`--counters redis://...`): see
//! [`crate::counters`] for what they hold.
//!
//! Keys, under the installation's prefix (`adloom:ID`, the same for every
//! node on one store):
//! - `PREFIX:spend:g:GROUP` and `PREFIX:spend:c:CAMPAIGN`: hashes with
//!   `day`, `today` and `life` (micro-currency) and one `hBUCKET` field per
//!   ten seconds of live holds (deliveries' charges and nodes' leases);
//! - `PREFIX:freq:DAY:PERSON`: a hash of `GROUP` → impressions that day and
//!   `GROUP|BUCKET` → slots held, expiring after two days.

use std::collections::HashMap;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;
use tokio::sync::{mpsc, oneshot};

use crate::counters::{
    LeaseLeft, LeaseWanted, Reservation, Settlement, SharedCounters, SharedSpend, Taken,
    HOLD_BUCKET_SECS, HOLD_SECS,
};
use crate::{Result, StoreError};

const DAY: i64 = 86_400;

/// What the budget scripts start with: ARGV 1 to 3 (the hold bucket, the
/// oldest live bucket, the day), and reading a spender's hash once per
/// call (lapsed hold buckets dropped on the way), kept up to date as the
/// call takes from it.
macro_rules! spenders_lua {
    () => {
        r#"
local bucket, live_from, day = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local spenders = {}
local function spender(key)
  local s = spenders[key]
  if s then return s end
  local fields = redis.call('HGETALL', key)
  local d
  s = {today = 0, life = 0, held = 0}
  for i = 1, #fields, 2 do
    local f, v = fields[i], tonumber(fields[i + 1])
    if f == 'day' then d = v
    elseif f == 'today' then s.today = v
    elseif f == 'life' then s.life = v
    elseif tonumber(string.sub(f, 2)) < live_from then redis.call('HDEL', key, f)
    else s.held = s.held + v end
  end
  if d ~= day then s.today = 0 end
  spenders[key] = s
  return s
end
-- How much more a spender may hold under its caps (-1: no cap).
local function room(s, daily, lifetime)
  local r = math.huge
  if daily >= 0 then r = math.min(r, daily - s.today - s.held) end
  if lifetime >= 0 then r = math.min(r, lifetime - s.life - s.held) end
  return r
end
local function hold(key, amount)
  redis.call('HINCRBY', key, 'h' .. bucket, amount)
  spenders[key].held = spenders[key].held + amount
end
"#
    };
}

/// Frees `amount` of a hold field, never below nothing.
macro_rules! free_lua {
    () => {
        r#"
local function free(key, field, amount)
  local held = tonumber(redis.call('HGET', key, field) or '0')
  local freed = math.min(held, amount)
  if held - freed <= 0 then redis.call('HDEL', key, field)
  else redis.call('HINCRBY', key, field, -freed) end
end
"#
    };
}

/// Takes, for each delivery, its budget hold and frequency slot, or none of
/// them. KEYS: each key the deliveries name, once (spends and people's
/// frequency hashes). ARGV: bucket, oldest live bucket, day, frequency TTL,
/// then per delivery its charge; when it is above 0, the group's and the
/// campaign's spend (by their place in KEYS) and the four caps; then the
/// frequency cap; when it is 0 or more, the person's frequency hash (by
/// its place in KEYS) and the group id. -1 is "no cap". Only what a
/// delivery needs is sent: most need only a frequency slot, and Redis reads
/// every argument of the call before the script runs (four arguments and
/// a person's key for a decision's three such deliveries, where they were
/// ten and three keys each).
/// Answers per delivery: 1 taken, 0 a budget is full, -1 the cap is
/// reached.
const RESERVE: &str = concat!(
    spenders_lua!(),
    r#"
local ttl = tonumber(ARGV[4])
-- Each person's counts are read once per call, then kept up to date here
-- as deliveries take from them.
local people, expiring = {}, {}
local function seen(key)
  local p = people[key]
  if p then return p end
  p = {}
  local fields = redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    local f, v = fields[i], tonumber(fields[i + 1])
    local group, b = string.match(f, '^(.*)|(%d+)$')
    if not group then
      p[f] = (p[f] or 0) + v
    elseif tonumber(b) < live_from then
      redis.call('HDEL', key, f)
    else
      p[group] = (p[group] or 0) + v
    end
  end
  people[key] = p
  return p
end
local taken = {}
local a = 5
while a <= #ARGV do
  local charge = tonumber(ARGV[a])
  local gk, ck, caps
  if charge > 0 then
    gk, ck, caps = KEYS[tonumber(ARGV[a + 1])], KEYS[tonumber(ARGV[a + 2])], a + 3
    a = a + 7
  else
    a = a + 1
  end
  local fcap = tonumber(ARGV[a])
  local fk, group
  if fcap >= 0 then
    fk, group = KEYS[tonumber(ARGV[a + 1])], ARGV[a + 2]
    a = a + 3
  else
    a = a + 1
  end
  local outcome = 1
  if charge > 0 and not (room(spender(gk), tonumber(ARGV[caps]), tonumber(ARGV[caps + 1])) >= charge
      and room(spender(ck), tonumber(ARGV[caps + 2]), tonumber(ARGV[caps + 3])) >= charge) then
    outcome = 0
  elseif fcap >= 0 and (seen(fk)[group] or 0) >= fcap then
    outcome = -1
  end
  if outcome == 1 then
    if charge > 0 then
      hold(gk, charge)
      hold(ck, charge)
    end
    if fcap >= 0 then
      redis.call('HINCRBY', fk, group .. '|' .. bucket, 1)
      -- Once per person and call: a decision's deliveries share the key.
      if not expiring[fk] then
        redis.call('EXPIRE', fk, ttl)
        expiring[fk] = true
      end
      local p = seen(fk)
      p[group] = (p[group] or 0) + 1
    end
  end
  taken[#taken + 1] = outcome
end
return taken
"#
);

/// Holds leases. KEYS: two per lease (group spend, campaign spend). ARGV:
/// bucket, oldest live bucket, day, then six per lease (least, most, four
/// caps; -1 is "no cap"). Answers per lease: the micros held.
const LEASE: &str = concat!(
    spenders_lua!(),
    r#"
local granted = {}
for i = 0, #KEYS / 2 - 1 do
  local a = 4 + i * 6
  local gk, ck = KEYS[i * 2 + 1], KEYS[i * 2 + 2]
  local amount = math.min(tonumber(ARGV[a + 1]),
    room(spender(gk), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])),
    room(spender(ck), tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])))
  if amount < tonumber(ARGV[a]) then amount = 0 end
  if amount > 0 then
    hold(gk, amount)
    hold(ck, amount)
  end
  granted[#granted + 1] = amount
end
return granted
"#
);

/// Gives back what leases left. KEYS: two per lease (group spend, campaign
/// spend). ARGV: two per lease (its bucket, the micros left).
const GIVE_BACK: &str = concat!(
    free_lua!(),
    r#"
for i = 0, #KEYS / 2 - 1 do
  local field, amount = 'h' .. ARGV[i * 2 + 1], tonumber(ARGV[i * 2 + 2])
  free(KEYS[i * 2 + 1], field, amount)
  free(KEYS[i * 2 + 2], field, amount)
end
return 1
"#
);

/// Settles one counted beacon. KEYS: group spend, campaign spend,
/// frequency. ARGV: the hold's bucket, the day of the charge, the charge,
/// group id, 1 for an impression of a known person, frequency TTL.
const SETTLE: &str = concat!(
    free_lua!(),
    r#"
local bucket, day, charge, group, impression, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5] == '1', tonumber(ARGV[6])
if charge > 0 then
  for k = 1, 2 do
    local key = KEYS[k]
    free(key, 'h' .. bucket, charge)
    local d = tonumber(redis.call('HGET', key, 'day') or '-1')
    if d < day then redis.call('HSET', key, 'day', day, 'today', 0) d = day end
    if d == day then redis.call('HINCRBY', key, 'today', charge) end
    redis.call('HINCRBY', key, 'life', charge)
  end
end
if impression then
  free(KEYS[3], group .. '|' .. bucket, 1)
  redis.call('HINCRBY', KEYS[3], group, 1)
  redis.call('EXPIRE', KEYS[3], ttl)
end
return 1
"#
);

/// The counters all nodes share, in one Redis.
#[derive(Clone)]
pub struct RedisCounters {
    redis: Redis,
    /// Reservations on their way to the next script call.
    waiting: mpsc::Sender<Waiting>,
}

/// The connection, the key prefix and the scripts.
#[derive(Clone)]
struct Redis {
    connection: ConnectionManager,
    prefix: String,
    reserve: Script,
    lease: Script,
    give_back: Script,
    settle: Script,
}

/// One decision's reservations, waiting to be taken with others'.
struct Waiting {
    deliveries: Vec<Reservation>,
    now: i64,
    reply: oneshot::Sender<Result<Vec<Taken>>>,
}

/// Most deliveries one script call takes (it holds Redis while it runs).
const MAX_PER_CALL: usize = 500;

impl std::fmt::Debug for RedisCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCounters")
            .field("prefix", &self.redis.prefix)
            .finish()
    }
}

fn failed(e: redis::RedisError) -> StoreError {
    tracing::error!(error = %e, "shared counters");
    StoreError::caused_by("shared counters", e)
}

/// The oldest hold bucket still live at `now`.
fn live_from(now: i64) -> i64 {
    (now - HOLD_SECS).div_euclid(HOLD_BUCKET_SECS) + 1
}

/// `-1` for "no cap", as the scripts read it.
fn cap(value: Option<u64>) -> i64 {
    value.map_or(-1, |v| v.min(i64::MAX as u64) as i64)
}

impl RedisCounters {
    /// Connects to `redis://...`; keys start with `prefix`. The connection
    /// reconnects by itself.
    pub async fn connect(url: &str, prefix: &str) -> Result<RedisCounters> {
        let client = redis::Client::open(url).map_err(failed)?;
        // A decision waits on these calls: when Redis is gone, they fail
        // within a second (two quick reconnects), not after the default
        // six with backoff (about ten seconds), and budgets fail closed.
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(2)
            .set_max_delay(std::time::Duration::from_millis(200))
            .set_connection_timeout(Some(std::time::Duration::from_millis(500)));
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(failed)?;
        let redis = Redis {
            connection,
            prefix: prefix.to_owned(),
            reserve: Script::new(RESERVE),
            lease: Script::new(LEASE),
            give_back: Script::new(GIVE_BACK),
            settle: Script::new(SETTLE),
        };
        let (waiting, queue) = mpsc::channel(4_096);
        tokio::spawn(redis.clone().take_in_turn(queue));
        Ok(RedisCounters { redis, waiting })
    }

    /// Impressions of this person per ad group today, with held slots.
    pub async fn frequency(&self, person: &str, now: i64) -> Result<HashMap<String, u32>> {
        self.redis.frequency(person, now).await
    }
}

#[async_trait::async_trait]
impl SharedCounters for RedisCounters {
    /// Takes what each delivery needs, all of it or nothing, atomically
    /// across nodes; says which deliveries may be answered.
    async fn reserve(&self, deliveries: Vec<Reservation>, now: i64) -> Result<Vec<Taken>> {
        if deliveries.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        let gone = || StoreError::internal("shared counters: the reserving task stopped");
        self.waiting
            .send(Waiting {
                deliveries,
                now,
                reply,
            })
            .await
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    async fn lease(&self, wanted: Vec<LeaseWanted>, now: i64) -> Result<Vec<u64>> {
        self.redis.lease(&wanted, now).await
    }

    async fn give_back(&self, left: Vec<LeaseLeft>) -> Result<()> {
        self.redis.give_back(&left).await
    }

    /// Settles a beacon counted for the first time.
    async fn settle(&self, s: &Settlement) -> Result<()> {
        self.redis.settle(s).await
    }

    /// The shared totals of these ad groups and campaigns, for pacing.
    async fn spend(
        &self,
        groups: &[String],
        campaigns: &[String],
        now: i64,
    ) -> Result<(HashMap<String, SharedSpend>, HashMap<String, SharedSpend>)> {
        self.redis.spend(groups, campaigns, now).await
    }
}

impl Redis {
    /// Takes reservations as they come, folding whatever waits into one
    /// script call, as a group commit does: under load, one round trip and
    /// one script run serve many decisions. Ends when every handle is gone.
    async fn take_in_turn(self, mut queue: mpsc::Receiver<Waiting>) {
        while let Some(first) = queue.recv().await {
            let mut group = vec![first];
            let mut count = group[0].deliveries.len();
            while count < MAX_PER_CALL {
                match queue.try_recv() {
                    Ok(next) => {
                        count += next.deliveries.len();
                        group.push(next);
                    }
                    Err(_) => break,
                }
            }
            // One call per second of decision time (its buckets and day).
            group.sort_by_key(|w| w.now);
            let mut rest = group.into_iter().peekable();
            while let Some(first) = rest.next() {
                let now = first.now;
                let mut same = vec![first];
                while let Some(w) = rest.next_if(|w| w.now == now) {
                    same.push(w);
                }
                let all: Vec<Reservation> = same
                    .iter()
                    .flat_map(|w| w.deliveries.iter().cloned())
                    .collect();
                let answer = self.reserve_now(&all, now).await;
                let mut from = 0;
                for w in same {
                    let to = from + w.deliveries.len();
                    let reply = match &answer {
                        Ok(taken) => Ok(taken[from..to].to_vec()),
                        Err(e) => Err(StoreError::internal(e.to_string())),
                    };
                    from = to;
                    // The decision may have stopped waiting.
                    let _ = w.reply.send(reply);
                }
            }
        }
    }

    fn group_key(&self, group: &str) -> String {
        format!("{}:spend:g:{group}", self.prefix)
    }

    fn campaign_key(&self, campaign: &str) -> String {
        format!("{}:spend:c:{campaign}", self.prefix)
    }

    fn frequency_key(&self, day: i64, person: &str) -> String {
        format!("{}:freq:{day}:{person}", self.prefix)
    }

    /// One script call for these deliveries.
    async fn reserve_now(&self, deliveries: &[Reservation], now: i64) -> Result<Vec<Taken>> {
        let bucket = now.div_euclid(HOLD_BUCKET_SECS);
        let live_from = live_from(now);
        let day = now.div_euclid(DAY);
        let mut call = self.reserve.prepare_invoke();
        call.arg(bucket).arg(live_from).arg(day).arg(2 * DAY);
        // Each key once, by its place in KEYS (from 1, as Lua counts).
        let mut places: HashMap<String, usize> = HashMap::new();
        let mut place = |call: &mut redis::ScriptInvocation<'_>, key: String| {
            let next = places.len() + 1;
            *places.entry(key).or_insert_with_key(|key| {
                call.key(key);
                next
            })
        };
        for d in deliveries {
            call.arg(d.charge_micros);
            if d.charge_micros > 0 {
                let group = place(&mut call, self.group_key(&d.ad_group_id));
                let campaign = place(&mut call, self.campaign_key(&d.campaign_id));
                call.arg(group)
                    .arg(campaign)
                    .arg(cap(d.caps.group_daily))
                    .arg(cap(d.caps.group_lifetime))
                    .arg(cap(d.caps.campaign_daily))
                    .arg(cap(d.caps.campaign_lifetime));
            }
            match &d.frequency {
                Some((person, most)) => {
                    let seen = place(&mut call, self.frequency_key(day, person));
                    call.arg(i64::from(*most)).arg(seen).arg(&d.ad_group_id);
                }
                None => {
                    call.arg(-1);
                }
            }
        }
        let taken: Vec<i64> = call
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(failed)?;
        Ok(taken
            .into_iter()
            .map(|t| match t {
                1 => Taken::Yes,
                0 => Taken::BudgetFull,
                _ => Taken::Capped,
            })
            .collect())
    }

    async fn lease(&self, wanted: &[LeaseWanted], now: i64) -> Result<Vec<u64>> {
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let mut call = self.lease.prepare_invoke();
        call.arg(now.div_euclid(HOLD_BUCKET_SECS))
            .arg(live_from(now))
            .arg(now.div_euclid(DAY));
        for w in wanted {
            call.key(self.group_key(&w.ad_group_id))
                .key(self.campaign_key(&w.campaign_id))
                .arg(w.least_micros)
                .arg(w.most_micros)
                .arg(cap(w.caps.group_daily))
                .arg(cap(w.caps.group_lifetime))
                .arg(cap(w.caps.campaign_daily))
                .arg(cap(w.caps.campaign_lifetime));
        }
        let granted: Vec<i64> = call
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(failed)?;
        Ok(granted.into_iter().map(|g| g.max(0) as u64).collect())
    }

    async fn give_back(&self, left: &[LeaseLeft]) -> Result<()> {
        if left.is_empty() {
            return Ok(());
        }
        let mut call = self.give_back.prepare_invoke();
        for l in left {
            call.key(self.group_key(&l.ad_group_id))
                .key(self.campaign_key(&l.campaign_id))
                .arg(l.granted_at.div_euclid(HOLD_BUCKET_SECS))
                .arg(l.micros);
        }
        let _: i64 = call
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(failed)?;
        Ok(())
    }

    async fn settle(&self, s: &Settlement) -> Result<()> {
        let decided_day = s.decided_at.div_euclid(DAY);
        let person = s.impression_of.as_deref().unwrap_or("");
        let _: i64 = self
            .settle
            .key(self.group_key(&s.ad_group_id))
            .key(self.campaign_key(&s.campaign_id))
            .key(self.frequency_key(decided_day, person))
            .arg(s.decided_at.div_euclid(HOLD_BUCKET_SECS))
            .arg(s.time.div_euclid(DAY))
            .arg(s.charge_micros)
            .arg(&s.ad_group_id)
            .arg(if s.impression_of.is_some() { "1" } else { "0" })
            .arg(2 * DAY)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(failed)?;
        Ok(())
    }

    async fn spend(
        &self,
        groups: &[String],
        campaigns: &[String],
        now: i64,
    ) -> Result<(HashMap<String, SharedSpend>, HashMap<String, SharedSpend>)> {
        let day = now.div_euclid(DAY);
        let live_from = live_from(now);
        let mut pipe = redis::pipe();
        for g in groups {
            pipe.hgetall(self.group_key(g));
        }
        for c in campaigns {
            pipe.hgetall(self.campaign_key(c));
        }
        let rows: Vec<HashMap<String, i64>> = pipe
            .query_async(&mut self.connection.clone())
            .await
            .map_err(failed)?;
        let read = |fields: &HashMap<String, i64>| {
            let mut s = SharedSpend::default();
            let today = fields.get("day") == Some(&day);
            for (f, v) in fields {
                let v = (*v).max(0) as u64;
                match f.as_str() {
                    "day" => {}
                    "today" if today => s.today = v,
                    "today" => {}
                    "life" => s.lifetime = v,
                    hold => {
                        if hold[1..].parse::<i64>().is_ok_and(|b| b >= live_from) {
                            s.held += v;
                        }
                    }
                }
            }
            s
        };
        let mut rows = rows.iter();
        let groups = groups
            .iter()
            .zip(rows.by_ref())
            .map(|(g, f)| (g.clone(), read(f)))
            .collect();
        let campaigns = campaigns
            .iter()
            .zip(rows)
            .map(|(c, f)| (c.clone(), read(f)))
            .collect();
        Ok((groups, campaigns))
    }

    async fn frequency(&self, person: &str, now: i64) -> Result<HashMap<String, u32>> {
        let day = now.div_euclid(DAY);
        let live_from = live_from(now);
        let fields: HashMap<String, i64> = redis::cmd("HGETALL")
            .arg(self.frequency_key(day, person))
            .query_async(&mut self.connection.clone())
            .await
            .map_err(failed)?;
        let mut seen: HashMap<String, u32> = HashMap::new();
        for (f, v) in fields {
            let (group, live) = match f.split_once('|') {
                None => (f.as_str(), true),
                Some((g, b)) => (g, b.parse::<i64>().is_ok_and(|b| b >= live_from)),
            };
            if live {
                *seen.entry(group.to_owned()).or_default() += v.max(0) as u32;
            }
        }
        Ok(seen)
    }
}
