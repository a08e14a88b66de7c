//! The worker's configuration: API keys and each mode's processors, read
//! from its settings (`[vars]`, secrets, `.dev.vars`). Pure: the edge reads
//! the settings once per isolate and keeps the parsed `Config`.

use switchyard_processors::config::{
    default_processors, missing_credentials, parse_credentials, parse_processors,
};
use switchyard_processors::{ProcessorConfig, ProcessorKind};

use crate::auth::{Keys, Mode};
use crate::error::ApiError;

/// The settings the worker reads.
pub const TEST_SECRET_KEY: &str = "SWITCHYARD_TEST_SECRET_KEY";
pub const TEST_PUBLISHABLE_KEY: &str = "SWITCHYARD_TEST_PUBLISHABLE_KEY";
pub const LIVE_SECRET_KEY: &str = "SWITCHYARD_LIVE_SECRET_KEY";
pub const LIVE_PUBLISHABLE_KEY: &str = "SWITCHYARD_LIVE_PUBLISHABLE_KEY";
pub const TEST_PROCESSORS: &str = "SWITCHYARD_TEST_PROCESSORS";
pub const LIVE_PROCESSORS: &str = "SWITCHYARD_LIVE_PROCESSORS";
/// The real processors' secrets of a mode: `{"<processor id>": {"api_key":
/// ...}}` (Braintree: `public_key` and `private_key`). A secret
/// (`wrangler secret put`), never a `[vars]` entry.
/// How often each metrics shard rolls its minutes up (seconds, 1 to 3600;
/// default 300).
pub const METRICS_ROLLUP_SECONDS: &str = "SWITCHYARD_METRICS_ROLLUP_SECONDS";
pub const DEFAULT_METRICS_ROLLUP_SECONDS: u64 = 300;
/// The window of the authorization rates `auth_rate` routes by (seconds,
/// 60 to 86,400; default 900): the mode's attempts of the last 15 minutes.
pub const RATES_WINDOW_SECONDS: &str = "SWITCHYARD_RATES_WINDOW_SECONDS";
pub const DEFAULT_RATES_WINDOW_SECONDS: u64 = 900;
/// How old an isolate's rates may grow before it refreshes them in the
/// background (seconds, 1 to 600; default 10).
pub const RATES_REFRESH_SECONDS: &str = "SWITCHYARD_RATES_REFRESH_SECONDS";
pub const DEFAULT_RATES_REFRESH_SECONDS: u64 = 10;
pub const TEST_CREDENTIALS: &str = "SWITCHYARD_TEST_CREDENTIALS";
pub const LIVE_CREDENTIALS: &str = "SWITCHYARD_LIVE_CREDENTIALS";

/// Keys and processors, parsed once.
#[derive(Debug)]
pub struct Config {
    pub keys: Keys,
    /// How often a metrics shard rolls its minutes up, in milliseconds.
    pub metrics_rollup_ms: u64,
    /// The window of `auth_rate`'s rates, in seconds.
    pub rates_window_s: u64,
    /// How often an isolate refreshes its rates, in milliseconds.
    pub rates_refresh_ms: u64,
    test: Result<Vec<ProcessorConfig>, ApiError>,
    live: Result<Vec<ProcessorConfig>, ApiError>,
    problems: Vec<Problem>,
}

/// Something wrong with the configuration: the setting, what is wrong
/// (never a secret's value), and whether it matters only for a deployed
/// worker (a local `wrangler dev` may run on the documented default keys,
/// and route live mode to sandboxes to test the separation of modes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub setting: &'static str,
    pub message: String,
    pub deployed_only: bool,
}

/// What kind of key a value is, by its prefix alone (never more of it).
fn kind_of(key: &str) -> &'static str {
    match key.get(..8).unwrap_or(key) {
        "sk_live_" => "a live secret key",
        "sk_test_" => "a test secret key",
        "pk_live_" => "a live publishable key",
        "pk_test_" => "a test publishable key",
        _ if key.starts_with("rk_") => "a restricted key",
        _ => "a value that is not an API key",
    }
}

/// Each key of a setting (comma-separated) must be of its slot's kind.
fn slot_problems(setting: &'static str, value: Option<&str>, prefix: &str, out: &mut Vec<Problem>) {
    for key in value.unwrap_or("").split(',').map(str::trim) {
        if !key.is_empty() && !key.starts_with(prefix) {
            out.push(Problem {
                setting,
                message: format!(
                    "holds {} where {prefix}… keys belong; nothing is accepted until it is fixed",
                    kind_of(key)
                ),
                deployed_only: false,
            });
        }
    }
}

/// Gives each real processor of a mode its credentials from the mode's
/// credentials secret, and notes what is missing: a real processor without
/// its credentials, an Adyen processor without its merchant account, a
/// deployed worker calling a processor over plain HTTP. Messages name the
/// setting and the processor, never a value.
fn attach_credentials(
    [name, list_name]: [&'static str; 2],
    json: Option<&str>,
    list: &mut Result<Vec<ProcessorConfig>, ApiError>,
    problems: &mut Vec<Problem>,
) {
    let mut problem = |setting: &'static str, message: String, deployed_only: bool| {
        problems.push(Problem {
            setting,
            message,
            deployed_only,
        })
    };
    let mut credentials = match json.filter(|s| !s.trim().is_empty()) {
        None => Default::default(),
        Some(json) => match parse_credentials(json) {
            Ok(c) => c,
            Err(e) => {
                problem(name, e, false);
                Default::default()
            }
        },
    };
    let Ok(list) = list else { return };
    for p in list.iter_mut() {
        p.credentials = credentials.remove(&p.id);
        if let Some(missing) = missing_credentials(p.kind, p.credentials.as_ref()) {
            problem(
                name,
                format!(
                    "processor '{}' ({}) has no {missing} here",
                    p.id,
                    p.kind.as_str()
                ),
                false,
            );
        }
        if p.kind == ProcessorKind::Adyen && p.account.as_deref().is_none_or(str::is_empty) {
            problem(
                list_name,
                format!(
                    "processor '{}' (adyen) needs its merchant account in \"account\" of the processors list",
                    p.id
                ),
                false,
            );
        }
        if p.kind != ProcessorKind::Sandbox
            && p.base_url
                .as_deref()
                .is_some_and(|u| !u.starts_with("https://"))
        {
            problem(
                list_name,
                format!(
                    "processor '{}' is called over plain HTTP: a deployed worker sends card data over HTTPS only",
                    p.id
                ),
                true,
            );
        }
    }
    for id in credentials.keys() {
        problem(
            name,
            format!("credentials for '{id}', which is not a configured processor of this mode"),
            false,
        );
    }
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
        let mut test = processors(TEST_PROCESSORS, Mode::Test);
        let mut live = processors(LIVE_PROCESSORS, Mode::Live);
        let mut problems = Vec::new();
        for (name, list_name, list) in [
            (TEST_CREDENTIALS, TEST_PROCESSORS, &mut test),
            (LIVE_CREDENTIALS, LIVE_PROCESSORS, &mut live),
        ] {
            let json = setting(name);
            attach_credentials([name, list_name], json.as_deref(), list, &mut problems);
        }
        let slots = [
            (TEST_SECRET_KEY, "sk_test_"),
            (TEST_PUBLISHABLE_KEY, "pk_test_"),
            (LIVE_SECRET_KEY, "sk_live_"),
            (LIVE_PUBLISHABLE_KEY, "pk_live_"),
        ];
        let mut none_configured = true;
        for (name, prefix) in slots {
            let value = setting(name);
            none_configured &= value.as_deref().is_none_or(|v| v.trim().is_empty());
            slot_problems(name, value.as_deref(), prefix, &mut problems);
        }
        if none_configured {
            problems.push(Problem {
                setting: TEST_SECRET_KEY,
                message: format!(
                    "no API key is configured (the documented default keys work only on a local wrangler dev): set {TEST_SECRET_KEY}, {LIVE_SECRET_KEY} and their publishable keys"
                ),
                deployed_only: true,
            });
        }
        for (name, list) in [(TEST_PROCESSORS, &test), (LIVE_PROCESSORS, &live)] {
            if let Err(e) = list {
                problems.push(Problem {
                    setting: name,
                    message: e
                        .message
                        .trim_start_matches(name)
                        .trim_start_matches(": ")
                        .to_owned(),
                    deployed_only: false,
                });
            }
        }
        for p in live.as_deref().unwrap_or_default() {
            if p.kind == ProcessorKind::Sandbox {
                problems.push(Problem {
                    setting: LIVE_PROCESSORS,
                    message: format!(
                        "processor '{}' is a sandbox: live mode moves real money and takes real processors only",
                        p.id
                    ),
                    deployed_only: true,
                });
            }
        }
        let mut seconds =
            |name: &'static str, range: std::ops::RangeInclusive<u64>, default| match setting(name)
                .filter(|s| !s.trim().is_empty())
            {
                None => default,
                Some(v) => match v.trim().parse::<u64>() {
                    Ok(n) if range.contains(&n) => n,
                    _ => {
                        problems.push(Problem {
                            setting: name,
                            message: format!(
                                "must be a number of seconds from {} to {}",
                                range.start(),
                                range.end()
                            ),
                            deployed_only: false,
                        });
                        default
                    }
                },
            };
        let metrics_rollup_ms = seconds(
            METRICS_ROLLUP_SECONDS,
            1..=3600,
            DEFAULT_METRICS_ROLLUP_SECONDS,
        ) * 1000;
        let rates_window_s = seconds(
            RATES_WINDOW_SECONDS,
            60..=86_400,
            DEFAULT_RATES_WINDOW_SECONDS,
        );
        let rates_refresh_ms = seconds(
            RATES_REFRESH_SECONDS,
            1..=600,
            DEFAULT_RATES_REFRESH_SECONDS,
        ) * 1000;
        Config {
            keys,
            metrics_rollup_ms,
            rates_window_s,
            rates_refresh_ms,
            test,
            live,
            problems,
        }
    }

    /// Every problem of the configuration (for the log, at start-up).
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// Whether the worker may answer a request here: a configuration
    /// problem refuses every request, naming the settings; `local` (a
    /// request to a loopback address: `wrangler dev`) waives the problems
    /// that only a deployed worker must not have.
    pub fn check(&self, local: bool) -> Result<(), ApiError> {
        let applying: Vec<&Problem> = self
            .problems
            .iter()
            .filter(|p| !(local && p.deployed_only))
            .collect();
        if applying.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = applying
            .iter()
            .map(|p| format!("{}: {}", p.setting, p.message))
            .collect();
        Err(ApiError::configuration(format!(
            "The worker's configuration is not usable: {}.",
            list.join("; ")
        )))
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
    fn the_metrics_rollup_period_is_read_and_checked() {
        assert_eq!(config(&[]).metrics_rollup_ms, 300_000);
        assert_eq!(
            config(&[(METRICS_ROLLUP_SECONDS, "2")]).metrics_rollup_ms,
            2_000
        );
        for bad in ["0", "3601", "soon"] {
            let c = config(&[(METRICS_ROLLUP_SECONDS, bad)]);
            assert_eq!(c.metrics_rollup_ms, 300_000);
            assert!(c
                .problems()
                .iter()
                .any(|p| p.setting == METRICS_ROLLUP_SECONDS && !p.deployed_only));
        }
    }

    #[test]
    fn the_rates_window_and_refresh_are_read_and_checked() {
        let c = config(&[]);
        assert_eq!((c.rates_window_s, c.rates_refresh_ms), (900, 10_000));
        let c = config(&[(RATES_WINDOW_SECONDS, "60"), (RATES_REFRESH_SECONDS, "1")]);
        assert_eq!((c.rates_window_s, c.rates_refresh_ms), (60, 1_000));
        for (name, bad) in [
            (RATES_WINDOW_SECONDS, "59"),
            (RATES_WINDOW_SECONDS, "86401"),
            (RATES_REFRESH_SECONDS, "0"),
            (RATES_REFRESH_SECONDS, "a while"),
        ] {
            let c = config(&[(name, bad)]);
            assert_eq!((c.rates_window_s, c.rates_refresh_ms), (900, 10_000));
            assert!(c.problems().iter().any(|p| p.setting == name));
        }
    }

    #[test]
    fn keys_in_the_wrong_slot_are_named_without_their_value() {
        let c = config(&[
            (TEST_SECRET_KEY, "sk_test_good,pk_test_SECRETVALUE1"),
            (LIVE_SECRET_KEY, "sk_test_SECRETVALUE2"),
            (LIVE_PUBLISHABLE_KEY, "pk_live_ok"),
        ]);
        let e = c.check(true).err().map(|e| (e.status, e.message.clone()));
        let (status, message) = e.unwrap_or_default();
        assert_eq!(status, 503);
        assert!(
            message.contains(TEST_SECRET_KEY) && message.contains("a test publishable key"),
            "{message}"
        );
        assert!(
            message.contains(LIVE_SECRET_KEY) && message.contains("a test secret key"),
            "{message}"
        );
        assert!(!message.contains("SECRETVALUE"), "{message}");
        assert_eq!(c.problems().len(), 2);
    }

    #[test]
    fn default_keys_and_live_sandboxes_are_for_local_runs_only() {
        let c = config(&[]);
        assert!(
            c.check(true).is_ok(),
            "wrangler dev with nothing configured"
        );
        let e = c
            .check(false)
            .err()
            .map(|e| e.message.clone())
            .unwrap_or_default();
        assert!(e.contains(TEST_SECRET_KEY) && e.contains("local"), "{e}");
        let c = config(&[
            (TEST_SECRET_KEY, "sk_test_a"),
            (LIVE_SECRET_KEY, "sk_live_a"),
            (LIVE_PROCESSORS, "[{\"id\":\"sbx\",\"type\":\"sandbox\"}]"),
        ]);
        assert!(c.check(true).is_ok());
        let e = c
            .check(false)
            .err()
            .map(|e| e.message.clone())
            .unwrap_or_default();
        assert!(
            e.contains(LIVE_PROCESSORS) && e.contains("'sbx' is a sandbox"),
            "{e}"
        );
        let ok = config(&[
            (TEST_SECRET_KEY, "sk_test_a"),
            (LIVE_SECRET_KEY, "sk_live_a"),
        ]);
        assert!(ok.check(false).is_ok());
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

    #[test]
    fn real_processors_need_their_credentials_never_shown() {
        let procs = r#"[{"id":"st","type":"stripe","base_url":"https://api.stripe.com"},
            {"id":"ad","type":"adyen","base_url":"https://checkout-test.adyen.com/v71"},
            {"id":"bt","type":"braintree","base_url":"http://127.0.0.1:9","currency":"usd"}]"#;
        let c = config(&[
            (TEST_SECRET_KEY, "sk_test_a"),
            (TEST_PROCESSORS, procs),
            (
                TEST_CREDENTIALS,
                r#"{"st":{"api_key":"sk_test_SECRET1"},"bt":{"public_key":"pub"},"zz":{"api_key":"x"}}"#,
            ),
        ]);
        let problems: Vec<String> = c
            .problems()
            .iter()
            .map(|p| format!("{}: {}", p.setting, p.message))
            .collect();
        let all = problems.join("\n");
        assert!(
            all.contains("SWITCHYARD_TEST_CREDENTIALS: processor 'ad' (adyen) has no api_key"),
            "{all}"
        );
        assert!(
            all.contains("processor 'bt' (braintree) has no public_key and private_key"),
            "{all}"
        );
        assert!(
            all.contains(
                "SWITCHYARD_TEST_PROCESSORS: processor 'ad' (adyen) needs its merchant account"
            ),
            "{all}"
        );
        assert!(all.contains("credentials for 'zz'"), "{all}");
        assert!(!all.contains("SECRET1"), "a secret in a message: {all}");
        // Plain HTTP is for a local run only.
        let http = c
            .problems()
            .iter()
            .find(|p| p.message.contains("'bt' is called over plain HTTP"));
        assert!(http.is_some_and(|p| p.deployed_only), "{all}");
        // The credentials reach the processor's configuration, and never
        // its Debug.
        let st = c.processor(Mode::Test, "st").ok().flatten().cloned();
        let st = st.unwrap_or_else(|| panic!("st"));
        assert_eq!(
            st.credentials.as_ref().and_then(|c| c.api_key.as_deref()),
            Some("sk_test_SECRET1")
        );
        assert!(!format!("{st:?}").contains("SECRET1"));
        // A secret that does not parse is named, its text never quoted.
        let c = config(&[(TEST_CREDENTIALS, r#"{"st": "sk_live_LEAK"#)]);
        let all: Vec<String> = c.problems().iter().map(|p| p.message.clone()).collect();
        assert!(
            all.iter()
                .any(|m| m.starts_with("invalid processor credentials")),
            "{all:?}"
        );
        assert!(!all.join(" ").contains("LEAK"));
    }
}
