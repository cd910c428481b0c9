//! Which ad account a tag id belongs to, cached: every pixel asks, and tags
//! never move between accounts.

use std::collections::HashMap;
use std::sync::RwLock;

use adloom_store::{Store, StoreError};

#[derive(Default)]
pub struct TagDirectory {
    accounts: RwLock<HashMap<String, String>>,
}

impl TagDirectory {
    pub async fn ad_account_of(
        &self,
        tag_id: &str,
        store: &dyn Store,
    ) -> Result<Option<String>, StoreError> {
        if let Some(account) = self
            .accounts
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(tag_id)
        {
            return Ok(Some(account.clone()));
        }
        // Unknown ids are not cached, so a flood of made-up ids cannot fill
        // memory; they cost one indexed read each.
        let Some(tag) = store.get_conversion_tag(tag_id).await? else {
            return Ok(None);
        };
        self.accounts
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(tag.id, tag.ad_account_id.clone());
        Ok(Some(tag.ad_account_id))
    }
}
