//! The worker's configuration, read from its settings once per isolate
//! (settings change only with a new deployment, which starts new isolates).

use std::rc::Rc;

use worker::{console_error, Env};

use crate::config::Config;

thread_local! {
    static CONFIG: std::cell::OnceCell<Rc<Config>> = const { std::cell::OnceCell::new() };
}

/// A setting (`[vars]`, or a secret / `.dev.vars` entry).
fn setting(env: &Env, name: &str) -> Option<String> {
    if let Ok(s) = env.secret(name) {
        return Some(s.to_string());
    }
    env.var(name).ok().map(|v| v.to_string())
}

/// This isolate's configuration. Its problems are logged once, when it is
/// read (at the isolate's start), by setting and never with a value.
pub(crate) fn config(env: &Env) -> Rc<Config> {
    CONFIG.with(|c| {
        c.get_or_init(|| {
            let config = Config::from_settings(|name| setting(env, name));
            for p in config.problems() {
                console_error!(
                    "configuration: {}: {}{}",
                    p.setting,
                    p.message,
                    if p.deployed_only {
                        " (waived on a local wrangler dev)"
                    } else {
                        ""
                    }
                );
            }
            Rc::new(config)
        })
        .clone()
    })
}
