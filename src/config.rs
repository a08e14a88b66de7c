//! The worker's configuration: API keys and each mode's processors, read
//! from its settings (`[vars]`, secrets, `.dev.vars`). Pure: the edge reads
//! the settings once per isolate and keeps the parsed `Config`.

use switchyard_processors::config::{default_processors, parse_processors};
use switchyard_processors::ProcessorConfig;

use crate::auth::{Keys, Mode};
use crate::error::ApiError;

/// The settings the worker reads.
pub const TEST_SECRET_KEY: &str = "SWITCHYARD_TEST_SECRET_KEY";
pub const TEST_PUBLISHABLE_KEY: &str = "SWITCHYARD_TEST_PUBLISHABLE_KEY";
pub const LIVE_SECRET_KEY: &str = "SWITCHYARD_LIVE_SECRET_KEY";
pub const LIVE_PUBLISHABLE_KEY: &str = "SWITCHYARD_LIVE_PUBLISHABLE_KEY";
pub const TEST_PROCESSORS: &str = "SWITCHYARD_TEST_PROCESSORS";
pub const LIVE_PROCESSORS: &str = "SWITCHYARD_LIVE_PROCESSORS";

/// Keys and processors, parsed once.
#[derive(Debug)]
pub struct Config {
    pub keys: Keys,
    test: Result<Vec<ProcessorConfig>, ApiError>,
    live: Result<Vec<ProcessorConfig>, ApiError>,
}

impl Config {
    /// From the settings, by name. A processor list that does not parse is
    /// kept as its error: the calls that need that mode's processors fail
    /// with it (naming the setting), the others work.
    pub fn from_settings(setting: impl Fn(&str) -> Option<String>) -> Config {
        let keys = Keys::from_config(
            setting(TEST_SECRET_KEY).as_deref(),
            setting(TEST_PUBLISHABLE_KEY).as_deref(),
            setting(LIVE_SECRET_KEY).as_deref(),
            setting(LIVE_PUBLISHABLE_KEY).as_deref(),
        );
        let processors = |name: &str, mode: Mode| {
            match setting(name).filter(|s| !s.trim().is_empty()) {
                Some(json) => {
                    parse_processors(&json).map_err(|e| ApiError::internal(format!("{name}: {e}")))
                }
                // Test mode with nothing configured: three sandboxes.
                None if mode == Mode::Test => Ok(default_processors()),
                None => Ok(Vec::new()),
            }
        };
        Config {
            keys,
            test: processors(TEST_PROCESSORS, Mode::Test),
            live: processors(LIVE_PROCESSORS, Mode::Live),
        }
    }

    /// The processors of a mode.
    pub fn processors(&self, mode: Mode) -> Result<&[ProcessorConfig], ApiError> {
        let list = match mode {
            Mode::Test => &self.test,
            Mode::Live => &self.live,
        };
        list.as_deref().map_err(Clone::clone)
    }

    /// A processor of a mode, by id.
    pub fn processor(&self, mode: Mode, id: &str) -> Result<Option<&ProcessorConfig>, ApiError> {
        Ok(self.processors(mode)?.iter().find(|p| p.id == id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::KeyKind;

    fn config(pairs: &[(&str, &str)]) -> Config {
        Config::from_settings(|name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn nothing_configured_is_the_test_sandbox() {
        let c = config(&[]);
        let ids: Vec<&str> = c
            .processors(Mode::Test)
            .unwrap_or_default()
            .iter()
            .map(|p| p.id.as_str())
            .collect();
        assert_eq!(ids, ["sandbox_a", "sandbox_b", "sandbox_c"]);
        assert_eq!(c.processors(Mode::Live).map(<[_]>::len).ok(), Some(0));
        let p = c
            .keys
            .authenticate(Some("Bearer sk_test_switchyard_sandbox"))
            .ok();
        assert_eq!(
            p.map(|p| (p.mode, p.kind)),
            Some((Mode::Test, KeyKind::Secret))
        );
    }

    #[test]
    fn a_bad_processor_list_is_an_error_of_its_mode_only() {
        let c = config(&[
            (LIVE_PROCESSORS, "[{\"id\": 1}]"),
            (
                TEST_PROCESSORS,
                "[{\"id\":\"sandbox_x\",\"type\":\"sandbox\"}]",
            ),
        ]);
        let e = c.processors(Mode::Live).err().map(|e| e.message.clone());
        assert!(
            e.is_some_and(|m| m.starts_with(LIVE_PROCESSORS)),
            "the error names the setting"
        );
        assert!(matches!(c.processor(Mode::Test, "sandbox_x"), Ok(Some(_))));
        assert!(matches!(c.processor(Mode::Test, "sandbox_a"), Ok(None)));
    }
}
