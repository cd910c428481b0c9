//! Recording a person's choice of "Use info from our ad partners".

use adloom_core::ads_setting::{AdsSetting, SettingChange};
use adloom_store::bus::SettingChanged;
use adloom_store::StoreError;

use crate::{Engine, EngineError};

/// Records a change of setting, and applies it to the serving mirror in
/// the same step: the next decision honours it. With an event bus, the
/// change is acknowledged once the bus holds it too, for the other nodes
/// and whoever follows the installation's settings.
pub async fn record(
    engine: &Engine,
    user_id: &str,
    change: SettingChange,
) -> Result<AdsSetting, EngineError> {
    let time = change.changed_at;
    let setting = engine
        .serving
        .people
        .write(
            || async {
                match engine.store.record_ads_setting(user_id, change).await {
                    Err(StoreError::NotFound) => Err(EngineError::NotFound("person")),
                    other => Ok(other?),
                }
            },
            |setting: &AdsSetting, mirror| {
                mirror.update(user_id, |p| p.use_partner_info = setting.use_partner_info);
            },
        )
        .await?;
    engine.changed(crate::Change::People(vec![user_id.to_owned()]));
    if let Some(bus) = &engine.bus {
        // Committed already: a retry of the same change is harmless.
        bus.publish_setting(&SettingChanged {
            user_id: user_id.to_owned(),
            use_partner_info: setting.use_partner_info,
            time,
        })
        .await?;
    }
    Ok(setting)
}
