//! The rules between advertiser objects: what a record may refer to in its
//! ad account, and what follows from it. A record's own rules are the
//! core's (`Campaign::check` and its siblings).

use std::collections::HashMap;

use adloom_core::campaign::Pin;
use adloom_core::object::{ObjectKind, Record, StoredObject};
use adloom_core::review;
use adloom_core::targeting::TargetingSpec;
use adloom_core::Invalid;
use adloom_store::StoredAudience;

use crate::{Engine, EngineError};

/// What a batch of records refers to, read from the store at once
/// ([`Engine::read_ahead`]): checking a batch of thirty, or of ten
/// thousand, then reads the store twice, not once or more a record.
/// Each key read maps to what was stored then, or to `None`.
#[derive(Debug, Default)]
pub struct ReadAhead {
    objects: HashMap<(ObjectKind, String), Option<StoredObject>>,
    /// The audiences ad groups target.
    audiences: HashMap<String, Option<StoredAudience>>,
}

impl Engine {
    /// Makes a checked record ready to store: its references checked
    /// ([`Engine::check_references`]), what the server set on the stored
    /// version (`before`) kept, an ad reviewed (`adloom_core::review`), and
    /// a pin's image kept when the operator chose so
    /// ([`Engine::keep_pin_image`]).
    pub async fn prepare_write(
        &self,
        account: &str,
        record: &mut Record,
        before: Option<&Record>,
    ) -> Result<(), EngineError> {
        self.prepare_write_ahead(account, record, before, None)
            .await
    }

    /// [`Engine::prepare_write`] for one record of a batch, its references
    /// looked up in what [`Engine::read_ahead`] read for the batch.
    pub async fn prepare_write_ahead(
        &self,
        account: &str,
        record: &mut Record,
        before: Option<&Record>,
        ahead: Option<&ReadAhead>,
    ) -> Result<(), EngineError> {
        let ad_pin = self.referenced(ahead, account, record).await?;
        if let Record::Pin(pin) = record {
            return self.keep_pin_image(account, pin).await;
        }
        let Record::Ad(ad) = record else {
            return Ok(());
        };
        let before = match before {
            Some(Record::Ad(b)) => Some(b),
            _ => None,
        };
        if let Some(b) = before {
            ad.decisions = b.decisions.clone();
        }
        let Some(pin) = ad_pin else {
            return Err(refused(
                "pin_id",
                format!("no pin {} of this ad account", ad.pin_id),
            ));
        };
        let verdict = review::on_write(&self.config.review, ad, &pin, before);
        ad.set_review(verdict);
        Ok(())
    }

    /// What these records refer to (an ad group's campaign and audiences,
    /// an ad's ad group and pin, a keyword's ad group), read from the store
    /// at once.
    pub async fn read_ahead<'a>(
        &self,
        records: impl IntoIterator<Item = &'a Record>,
    ) -> Result<ReadAhead, EngineError> {
        let mut objects: HashMap<(ObjectKind, String), Option<StoredObject>> = HashMap::new();
        let mut audiences: HashMap<String, Option<StoredAudience>> = HashMap::new();
        for record in records {
            match record {
                Record::AdGroup(group) => {
                    objects.insert((ObjectKind::Campaign, group.campaign_id.clone()), None);
                    // A targeting that does not parse is refused when the
                    // group is checked.
                    if let Ok(targeting) = group.targeting() {
                        for id in targeting
                            .audience_include
                            .iter()
                            .chain(&targeting.audience_exclude)
                        {
                            audiences.insert(id.clone(), None);
                        }
                    }
                }
                Record::Ad(ad) => {
                    objects.insert((ObjectKind::AdGroup, ad.ad_group_id.clone()), None);
                    objects.insert((ObjectKind::Pin, ad.pin_id.clone()), None);
                }
                Record::Keyword(keyword) => {
                    objects.insert((ObjectKind::AdGroup, keyword.parent_id.clone()), None);
                }
                Record::Campaign(_) | Record::Pin(_) => {}
            }
        }
        let wanted = objects.keys().cloned().collect();
        for found in self.store.get_objects(wanted).await? {
            objects.insert((found.record.kind(), found.id.clone()), Some(found));
        }
        if !audiences.is_empty() {
            let wanted = audiences.keys().cloned().collect();
            for found in self.store.get_audiences(wanted).await? {
                audiences.insert(found.id.clone(), Some(found));
            }
        }
        Ok(ReadAhead { objects, audiences })
    }

    /// The object `id` of `kind` when `account` owns it, from `ahead` when
    /// it was read there.
    async fn owned(
        &self,
        ahead: Option<&ReadAhead>,
        account: &str,
        kind: ObjectKind,
        id: &str,
    ) -> Result<Option<StoredObject>, EngineError> {
        match ahead.and_then(|a| a.objects.get(&(kind, id.to_owned()))) {
            Some(read) => Ok(read.clone().filter(|o| o.ad_account_id == account)),
            None => self.owned_object(account, kind, id).await,
        }
    }

    /// The object `id` of `kind` when `account` owns it.
    pub async fn owned_object(
        &self,
        account: &str,
        kind: ObjectKind,
        id: &str,
    ) -> Result<Option<StoredObject>, EngineError> {
        Ok(self
            .store
            .get_object(kind, id)
            .await?
            .filter(|o| o.ad_account_id == account))
    }

    /// Checks that the audiences a targeting includes and excludes are live
    /// audiences of `account`.
    pub async fn check_audiences(
        &self,
        account: &str,
        targeting: &TargetingSpec,
    ) -> Result<(), EngineError> {
        self.check_audiences_ahead(None, account, targeting).await
    }

    /// [`Engine::check_audiences`], with the audiences looked up in `ahead`
    /// when it read them.
    async fn check_audiences_ahead(
        &self,
        ahead: Option<&ReadAhead>,
        account: &str,
        targeting: &TargetingSpec,
    ) -> Result<(), EngineError> {
        for (key, ids) in [
            ("AUDIENCE_INCLUDE", &targeting.audience_include),
            ("AUDIENCE_EXCLUDE", &targeting.audience_exclude),
        ] {
            for id in ids {
                let stored = match ahead.and_then(|a| a.audiences.get(id)) {
                    Some(read) => read.clone(),
                    None => self.store.get_audience(id).await?,
                };
                let live = stored
                    .filter(|a| a.ad_account_id == account && a.record.get("removed").is_none());
                if live.is_none() {
                    return Err(refused(
                        &format!("targeting_spec.{key}"),
                        format!("no audience {id} in this ad account"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Checks what a record refers to against its ad account (an ad group's
    /// campaign and audiences; an ad's ad group and pin) and fills in what
    /// follows from it (an ad's campaign). A reference outside the account
    /// is refused as if it did not exist: another account's audience would
    /// otherwise pick whom this one reaches.
    pub async fn check_references(
        &self,
        account: &str,
        record: &mut Record,
    ) -> Result<(), EngineError> {
        self.referenced(None, account, record).await.map(|_| ())
    }

    /// [`Engine::check_references`], returning an ad's pin, which its
    /// review reads (one read, not two, for each ad written).
    async fn referenced(
        &self,
        ahead: Option<&ReadAhead>,
        account: &str,
        record: &mut Record,
    ) -> Result<Option<Pin>, EngineError> {
        match record {
            Record::AdGroup(group) => {
                let campaign = &group.campaign_id;
                if self
                    .owned(ahead, account, ObjectKind::Campaign, campaign)
                    .await?
                    .is_none()
                {
                    return Err(refused(
                        "campaign_id",
                        format!("no campaign {campaign} in this ad account"),
                    ));
                }
                self.check_audiences_ahead(ahead, account, &group.targeting()?)
                    .await?;
            }
            Record::Ad(ad) => {
                let Some(group) = self
                    .owned(ahead, account, ObjectKind::AdGroup, &ad.ad_group_id)
                    .await?
                else {
                    return Err(refused(
                        "ad_group_id",
                        format!("no ad group {} in this ad account", ad.ad_group_id),
                    ));
                };
                let Some(Record::Pin(pin)) = self
                    .owned(ahead, account, ObjectKind::Pin, &ad.pin_id)
                    .await?
                    .map(|o| o.record)
                else {
                    return Err(refused(
                        "pin_id",
                        format!("no pin {} of this ad account", ad.pin_id),
                    ));
                };
                if let Record::AdGroup(group) = group.record {
                    ad.campaign_id = group.campaign_id;
                }
                return Ok(Some(pin));
            }
            Record::Keyword(keyword) => {
                let group = &keyword.parent_id;
                if self
                    .owned(ahead, account, ObjectKind::AdGroup, group)
                    .await?
                    .is_none()
                {
                    return Err(refused(
                        "parent_id",
                        format!("no ad group {group} in this ad account"),
                    ));
                }
            }
            Record::Campaign(_) | Record::Pin(_) => {}
        }
        Ok(None)
    }
}

fn refused(field: &str, reason: String) -> EngineError {
    EngineError::Invalid(Invalid::new(field, reason))
}
