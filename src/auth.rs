//! API keys: which key was presented (Bearer or Basic), which mode and kind
//! it grants, compared in constant time.

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// The two separate worlds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    Test,
    Live,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Test => "test",
            Mode::Live => "live",
        }
    }
    pub fn livemode(self) -> bool {
        self == Mode::Live
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// `sk_…`: every call.
    Secret,
    /// `pk_…`: the preview endpoint only.
    Publishable,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Principal {
    pub mode: Mode,
    pub kind: KeyKind,
}

/// The documented default keys of a worker with no configuration (test mode
/// only; never used when any test key is configured).
pub const DEFAULT_TEST_SECRET_KEY: &str = "sk_test_switchyard_sandbox";
pub const DEFAULT_TEST_PUBLISHABLE_KEY: &str = "pk_test_switchyard_sandbox";

/// The configured keys, kept only as SHA-256 digests so that every
/// comparison is of 32 bytes, in constant time, whatever the lengths.
#[derive(Clone, Default)]
pub struct Keys {
    entries: Vec<([u8; 32], Principal)>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keys({} configured)", self.entries.len())
    }
}

fn digest(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&Sha256::digest(s.as_bytes()));
    out
}

fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b.iter()) {
        diff |= x ^ y;
    }
    // Keep the compiler from short-cutting the loop.
    std::hint::black_box(diff) == 0
}

impl Keys {
    /// From the worker's secrets. Each value may list several keys separated
    /// by commas (rotation). With no key configured at all, the documented
    /// default sandbox keys are accepted, in test mode only.
    pub fn from_config(
        test_secret: Option<&str>,
        test_publishable: Option<&str>,
        live_secret: Option<&str>,
        live_publishable: Option<&str>,
    ) -> Keys {
        let mut keys = Keys::default();
        let mut add = |list: Option<&str>, mode, kind| {
            for k in list.unwrap_or("").split(',').map(str::trim) {
                if !k.is_empty() {
                    keys.entries.push((digest(k), Principal { mode, kind }));
                }
            }
        };
        let unset = |v: Option<&str>| v.is_none_or(|s| s.trim().is_empty());
        let none_configured = unset(test_secret)
            && unset(test_publishable)
            && unset(live_secret)
            && unset(live_publishable);
        if none_configured {
            add(Some(DEFAULT_TEST_SECRET_KEY), Mode::Test, KeyKind::Secret);
            add(
                Some(DEFAULT_TEST_PUBLISHABLE_KEY),
                Mode::Test,
                KeyKind::Publishable,
            );
        } else {
            add(test_secret, Mode::Test, KeyKind::Secret);
            add(test_publishable, Mode::Test, KeyKind::Publishable);
        }
        add(live_secret, Mode::Live, KeyKind::Secret);
        add(live_publishable, Mode::Live, KeyKind::Publishable);
        keys
    }

    /// Checks the `Authorization` header.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, ApiError> {
        let presented = presented_key(authorization)?;
        let d = digest(&presented);
        // Compare with every entry, no early exit.
        let mut found = None;
        for (k, p) in &self.entries {
            if ct_eq(k, &d) && found.is_none() {
                found = Some(*p);
            }
        }
        found.ok_or_else(|| {
            ApiError::unauthorized(format!("Invalid API Key provided: {}", redact(&presented)))
        })
    }
}

/// Who made a change, as the rule sets record it: the key that was used,
/// redacted (`sk_test_********wxyz`).
pub fn key_label(authorization: Option<&str>) -> Option<String> {
    presented_key(authorization).ok().map(|k| redact(&k))
}

/// `sk_test_abc…xyz` → `sk_test_********xyz` (as Stripe prints them).
fn redact(key: &str) -> String {
    let prefix_len = key
        .char_indices()
        .filter(|(_, c)| *c == '_')
        .nth(1)
        .map_or(0, |(i, _)| i + 1);
    let prefix: String = key.chars().take(prefix_len.min(8)).collect();
    let tail: String = if key.chars().count() > 12 {
        key.chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect()
    } else {
        String::new()
    };
    format!("{prefix}********{tail}")
}

/// The key in `Authorization: Bearer <key>` or `Basic base64(<key>:)`.
pub fn presented_key(authorization: Option<&str>) -> Result<String, ApiError> {
    let missing = || {
        ApiError::unauthorized(
            "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        )
    };
    let h = authorization
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or_else(missing)?;
    let (scheme, rest) = h.split_once(' ').ok_or_else(missing)?;
    let rest = rest.trim();
    let key = if scheme.eq_ignore_ascii_case("bearer") {
        rest.to_owned()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .map_err(|_| ApiError::unauthorized("Invalid Basic authorization header."))?;
        let s = String::from_utf8(raw)
            .map_err(|_| ApiError::unauthorized("Invalid Basic authorization header."))?;
        s.split_once(':').map_or(s.clone(), |(u, _)| u.to_owned())
    } else {
        return Err(missing());
    };
    if key.is_empty() {
        return Err(missing());
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_only_without_configuration() {
        let k = Keys::from_config(None, None, None, None);
        let p = k
            .authenticate(Some("Bearer sk_test_switchyard_sandbox"))
            .ok();
        assert_eq!(
            p,
            Some(Principal {
                mode: Mode::Test,
                kind: KeyKind::Secret
            })
        );
        assert!(k.entries.iter().all(|(_, p)| p.mode != Mode::Live));
        let k = Keys::from_config(Some("sk_test_a,sk_test_b"), None, Some("sk_live_x"), None);
        assert!(k
            .authenticate(Some("Bearer sk_test_switchyard_sandbox"))
            .is_err());
        assert!(k.authenticate(Some("Bearer sk_test_b")).is_ok());
        // Configuring only live keys also turns the defaults off.
        let only_live = Keys::from_config(None, None, Some("sk_live_x"), None);
        assert!(only_live
            .authenticate(Some("Bearer sk_test_switchyard_sandbox"))
            .is_err());
        let live = k.authenticate(Some("Bearer sk_live_x")).ok();
        assert_eq!(live.map(|p| p.mode), Some(Mode::Live));
    }

    #[test]
    fn basic_and_errors() {
        let k = Keys::from_config(None, None, None, None);
        // base64("pk_test_switchyard_sandbox:")
        let b = base64::engine::general_purpose::STANDARD.encode("pk_test_switchyard_sandbox:");
        let p = k.authenticate(Some(&format!("Basic {b}"))).ok();
        assert_eq!(p.map(|p| p.kind), Some(KeyKind::Publishable));
        for bad in [
            None,
            Some(""),
            Some("Bearer"),
            Some("Basic !!!"),
            Some("Token x"),
        ] {
            let e = k.authenticate(bad).err();
            assert_eq!(e.map(|e| e.status), Some(401));
        }
        let e = k
            .authenticate(Some("Bearer sk_test_wrong_key_123456"))
            .err();
        let msg = e.map(|e| e.message.clone()).unwrap_or_default();
        assert!(!msg.contains("wrong_key"), "{msg}");
    }
}
