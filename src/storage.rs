//! What the objects' state logic needs of storage, as traits, and the
//! idempotency records with Stripe's semantics written once over them. Pure:
//! the edge adapts a Durable Object's SQLite to these traits
//! (`edge::sql::SqlStore`); tests use [`memory::MemoryStore`].
//!
//! Every method is synchronous: code that uses only these and does not
//! await runs without interleaving with any other request to its object.

use serde::{de::DeserializeOwned, Serialize};

use crate::error::ApiError;
use crate::protocol::{Answer, Idem};

/// How long an idempotency record is replayed.
pub const IDEM_TTL_MS: u64 = 24 * 60 * 60 * 1000;
/// An in-flight record older than this was abandoned (the object was
/// restarted mid-call); a retry with the same key takes it over.
pub const IDEM_STALE_MS: u64 = 60_000;

/// JSON documents by key.
pub trait Docs {
    fn doc_text(&self, key: &str) -> Result<Option<String>, ApiError>;
    fn put_doc_text(&self, key: &str, text: &str) -> Result<(), ApiError>;

    fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, ApiError> {
        match self.doc_text(key)? {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
                ApiError::internal(format!("stored document {key} is unreadable: {e}"))
            }),
        }
    }

    fn put<T: Serialize>(&self, key: &str, doc: &T) -> Result<(), ApiError> {
        let text = serde_json::to_string(doc)
            .map_err(|e| ApiError::internal(format!("could not serialise {key}: {e}")))?;
        self.put_doc_text(key, &text)
    }
}

/// One idempotency key's record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdemRecord {
    pub fingerprint: String,
    /// The stored answer; `None` while the first request is in flight.
    pub answer: Option<StoredAnswer>,
    pub created_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAnswer {
    pub status: u16,
    /// JSON text.
    pub body: String,
}

/// Idempotency records by key.
pub trait IdemRecords {
    fn idem(&self, key: &str) -> Result<Option<IdemRecord>, ApiError>;
    /// Inserts or replaces the record of `key`.
    fn put_idem(&self, key: &str, record: &IdemRecord) -> Result<(), ApiError>;
    /// Stores the answer of `key`'s record.
    fn set_idem_answer(&self, key: &str, answer: &StoredAnswer) -> Result<(), ApiError>;
    /// Deletes `key`'s record if it has no answer yet.
    fn delete_idem_in_flight(&self, key: &str) -> Result<(), ApiError>;
}

pub enum IdemCheck {
    /// First use (or an expired / abandoned record): the key is now claimed.
    Claimed,
    Replay(Answer),
}

/// Checks an idempotency key and claims it. Errors: 400 `idempotency_error`
/// when the key was used with other parameters, 409 while the first request
/// is in flight.
pub fn claim(store: &impl IdemRecords, idem: &Idem, now_ms: u64) -> Result<IdemCheck, ApiError> {
    if let Some(r) = store.idem(&idem.key)? {
        let age = now_ms.saturating_sub(r.created_ms);
        if age <= IDEM_TTL_MS {
            if r.fingerprint != idem.fingerprint {
                return Err(ApiError::idempotency_reused());
            }
            if let Some(a) = r.answer {
                return Answer::from_text(a.status, a.body).map(IdemCheck::Replay);
            }
            if age < IDEM_STALE_MS {
                return Err(ApiError::idempotency_in_flight());
            }
        }
    }
    store.put_idem(
        &idem.key,
        &IdemRecord {
            fingerprint: idem.fingerprint.clone(),
            answer: None,
            created_ms: now_ms,
        },
    )?;
    Ok(IdemCheck::Claimed)
}

/// Stores the answer of a claimed key.
pub fn complete(store: &impl IdemRecords, key: &str, answer: &Answer) -> Result<(), ApiError> {
    store.set_idem_answer(
        key,
        &StoredAnswer {
            status: answer.status,
            body: answer.body.get().to_owned(),
        },
    )
}

/// Forgets a claimed key whose request was refused before it started
/// executing (Stripe saves no result then). A completed record stays.
pub fn release(store: &impl IdemRecords, key: &str) -> Result<(), ApiError> {
    store.delete_idem_in_flight(key)
}

/// A key's binding in the mode's key index (across payments and endpoints).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyBinding {
    pub fingerprint: String,
    pub created_ms: u64,
    /// For a create: the payment the key made. A retry (after a crash too)
    /// reaches the same payment; after 24 hours the key starts anew.
    pub payment_id: Option<String>,
}

/// Binding `fingerprint` to a key whose binding is `existing`: the live
/// binding's payment (`Ok(Some(Some(id)))` for a create), `Ok(None)` when
/// the key is free (never used, or expired: it is bound anew, to
/// `proposed`), a 400 `idempotency_error` when it is bound to another
/// request.
pub fn bind_key(
    existing: Option<&KeyBinding>,
    fingerprint: &str,
    now_ms: u64,
) -> Result<Option<Option<String>>, ApiError> {
    match existing {
        Some(b) if now_ms.saturating_sub(b.created_ms) <= IDEM_TTL_MS => {
            if b.fingerprint == fingerprint {
                Ok(Some(b.payment_id.clone()))
            } else {
                Err(ApiError::idempotency_reused())
            }
        }
        _ => Ok(None),
    }
}

/// Storage in memory, for native tests and the CPU timing.
#[cfg(test)]
pub mod memory {
    use std::cell::{Cell, RefCell};
    use std::collections::BTreeMap;

    use super::{Docs, IdemRecord, IdemRecords, StoredAnswer};
    use crate::error::ApiError;

    #[derive(Default)]
    pub struct MemoryStore {
        /// Whether the tables were made (`PaymentStore::open`).
        pub tables: Cell<bool>,
        pub docs: RefCell<BTreeMap<String, String>>,
        pub idem: RefCell<BTreeMap<String, IdemRecord>>,
    }

    impl Docs for MemoryStore {
        fn doc_text(&self, key: &str) -> Result<Option<String>, ApiError> {
            Ok(self.docs.borrow().get(key).cloned())
        }
        fn put_doc_text(&self, key: &str, text: &str) -> Result<(), ApiError> {
            self.docs
                .borrow_mut()
                .insert(key.to_owned(), text.to_owned());
            Ok(())
        }
    }

    impl IdemRecords for MemoryStore {
        fn idem(&self, key: &str) -> Result<Option<IdemRecord>, ApiError> {
            Ok(self.idem.borrow().get(key).cloned())
        }
        fn put_idem(&self, key: &str, record: &IdemRecord) -> Result<(), ApiError> {
            self.idem
                .borrow_mut()
                .insert(key.to_owned(), record.clone());
            Ok(())
        }
        fn set_idem_answer(&self, key: &str, answer: &StoredAnswer) -> Result<(), ApiError> {
            if let Some(r) = self.idem.borrow_mut().get_mut(key) {
                r.answer = Some(answer.clone());
            }
            Ok(())
        }
        fn delete_idem_in_flight(&self, key: &str) -> Result<(), ApiError> {
            let mut idem = self.idem.borrow_mut();
            if idem.get(key).is_some_and(|r| r.answer.is_none()) {
                idem.remove(key);
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::memory::MemoryStore;
    use super::*;
    use serde_json::json;

    fn idem(fp: &str) -> Idem {
        Idem {
            key: "k".into(),
            fingerprint: fp.into(),
        }
    }

    #[test]
    fn a_key_reaches_its_payment_for_24_hours_then_starts_anew() {
        let b = KeyBinding {
            fingerprint: "f".into(),
            created_ms: 0,
            payment_id: Some("pi_first".into()),
        };
        assert_eq!(
            bind_key(Some(&b), "f", IDEM_TTL_MS).ok(),
            Some(Some(Some("pi_first".to_owned())))
        );
        assert_eq!(
            bind_key(Some(&b), "g", 5).err().map(|e| e.status),
            Some(400)
        );
        // Expired: free, with any parameters, and a new payment.
        assert_eq!(bind_key(Some(&b), "f", IDEM_TTL_MS + 1).ok(), Some(None));
        assert_eq!(bind_key(Some(&b), "g", IDEM_TTL_MS + 1).ok(), Some(None));
        assert_eq!(bind_key(None, "f", 0).ok(), Some(None));
    }

    #[test]
    fn claim_replay_conflict_expiry() {
        let s = MemoryStore::default();
        assert!(matches!(claim(&s, &idem("a"), 0), Ok(IdemCheck::Claimed)));
        // In flight: 409; with other parameters: 400.
        assert_eq!(claim(&s, &idem("a"), 10).err().map(|e| e.status), Some(409));
        assert_eq!(claim(&s, &idem("b"), 10).err().map(|e| e.status), Some(400));
        // Abandoned: taken over.
        assert!(matches!(
            claim(&s, &idem("a"), IDEM_STALE_MS + 1),
            Ok(IdemCheck::Claimed)
        ));
        let answer = Answer::json(402, &json!({"error": {"type": "card_error"}}));
        assert!(complete(&s, "k", &answer).is_ok());
        match claim(&s, &idem("a"), IDEM_STALE_MS + 2) {
            Ok(IdemCheck::Replay(a)) => assert_eq!(a, answer),
            _ => panic!("a completed key replays"),
        }
        // A completed record is never released.
        assert!(release(&s, "k").is_ok());
        assert!(s.idem("k").ok().flatten().is_some());
        // After 24 hours the key starts anew, with any parameters.
        let later = IDEM_STALE_MS + 2 + IDEM_TTL_MS + 1;
        assert!(matches!(
            claim(&s, &idem("b"), later),
            Ok(IdemCheck::Claimed)
        ));
        assert!(release(&s, "k").is_ok());
        assert!(s.idem("k").ok().flatten().is_none());
    }
}
