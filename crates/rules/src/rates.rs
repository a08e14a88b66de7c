//! Authorization rates, passed in by the caller for `auth_rate` actions
//! (docs/rules.md, "Routing by authorization rate"). The engine reads no
//! clock and no store: the worker hands it the mode's recent rates, a
//! preview the rates a person typed or loaded.
//!
//! Each entry counts a processor's attempts and authorizations in one group
//! of payments: a card brand, brand and issuing country, or brand, country
//! and funding (or none of them: all its payments). An entry counts toward
//! every coarser group too, so the groups of a payment are, finest first:
//! brand + country + funding, brand + country, brand, all.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::issue::{did_you_mean, Issue, Issues, Pointer};
use crate::payment::Payment;
use crate::values::{Brand, Country, Funding, MinorUnits};

/// The most entries a rate table takes.
pub const MAX_RATES: usize = 100_000;

/// Attempts and authorizations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Count {
    pub attempts: u64,
    pub authorized: u64,
}

impl Count {
    fn add(&mut self, o: Count) {
        self.attempts = self.attempts.saturating_add(o.attempts);
        self.authorized = self.authorized.saturating_add(o.authorized);
    }
    /// Whether this rate is above `o`'s (exact: cross-multiplied).
    pub(crate) fn beats(self, o: Count) -> bool {
        u128::from(self.authorized) * u128::from(o.attempts)
            > u128::from(o.authorized) * u128::from(self.attempts)
    }
    pub fn rate(self) -> Option<f64> {
        (self.attempts > 0).then(|| self.authorized as f64 / self.attempts as f64)
    }
}

/// The groups of a payment, finest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    BrandCountryFunding = 0,
    BrandCountry = 1,
    Brand = 2,
    All = 3,
}

impl Level {
    pub const ALL: [Level; 4] = [
        Level::BrandCountryFunding,
        Level::BrandCountry,
        Level::Brand,
        Level::All,
    ];
}

/// A payment's group values: brand, issuing country, funding. A payment
/// without them is in the `unknown` group of each (as the worker's
/// metrics count it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Group {
    brand: u64,
    country: u64,
    funding: u64,
}

/// The code of an unknown country (no country has code 0).
const NO_COUNTRY: u64 = 0;

impl Group {
    pub fn of(p: &Payment) -> Group {
        Group::new(p.brand, p.card_country, p.funding)
    }
    pub fn new(brand: Option<Brand>, country: Option<Country>, funding: Option<Funding>) -> Group {
        Group {
            brand: u64::from(brand.unwrap_or(Brand::Unknown).code()),
            country: country.map_or(NO_COUNTRY, |c| u64::from(c.code())),
            funding: u64::from(funding.unwrap_or(Funding::Unknown).code()),
        }
    }
    /// The key of this group at a level: the level, then the values it keeps.
    fn key(self, level: Level) -> u64 {
        let (b, c, f) = match level {
            Level::BrandCountryFunding => (self.brand, self.country, self.funding),
            Level::BrandCountry => (self.brand, self.country, 0),
            Level::Brand => (self.brand, 0, 0),
            Level::All => (0, 0, 0),
        };
        (level as u64) << 48 | b << 32 | c << 8 | f
    }
}

/// One processor's groups: an open-addressing hash table of group keys
/// (linear probing, a power of two of cells, at most three quarters
/// full), kept in the table's bytes as they travel (`Rates::encode`):
/// an isolate that receives a table reads it in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slab {
    /// Where its cells start in `Rates::bytes`.
    at: usize,
    /// `64 - log2(cells)`.
    shift: u32,
}

/// A cell: key, attempts, authorized (u64 each, little-endian).
const CELL: usize = 24;
/// No group has this key (its level bits are 3 at most).
const EMPTY: u64 = u64::MAX;

fn word(b: &[u8], at: usize) -> Option<u64> {
    let mut w = [0u8; 8];
    w.copy_from_slice(b.get(at..at + 8)?);
    Some(u64::from_le_bytes(w))
}

impl Slab {
    fn cells(self) -> usize {
        1 << (64 - self.shift)
    }

    fn slot(self, key: u64) -> usize {
        ((key ^ (key >> 29)).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> self.shift) as usize
    }

    /// Appends the table of `groups` to `out`.
    fn write(groups: &BTreeMap<u64, Count>, out: &mut Vec<u8>) {
        let bits = (groups.len() + groups.len() / 3 + 1)
            .max(2)
            .next_power_of_two()
            .trailing_zeros();
        out.push(bits as u8);
        let slab = Slab {
            at: out.len(),
            shift: 64 - bits,
        };
        let mut cells = vec![[EMPTY, 0, 0]; slab.cells()];
        let mask = cells.len() - 1;
        for (key, c) in groups {
            let mut i = slab.slot(*key);
            while cells[i][0] != EMPTY {
                i = (i + 1) & mask;
            }
            cells[i] = [*key, c.attempts, c.authorized];
        }
        for cell in cells {
            for v in cell {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }

    fn get(self, bytes: &[u8], key: u64) -> Option<Count> {
        let mask = self.cells() - 1;
        let mut i = self.slot(key);
        // A table always has a free cell (`decode` checks it): this ends.
        loop {
            let at = self.at + i * CELL;
            let cell = bytes.get(at..at + CELL)?;
            let k = word(cell, 0)?;
            if k == key {
                let attempts = word(cell, 8)?;
                return Some(Count {
                    attempts,
                    authorized: word(cell, 16)?.min(attempts),
                });
            }
            if k == EMPTY {
                return None;
            }
            i = (i + 1) & mask;
        }
    }
}

/// A rate table: per processor, the counts of each group by key, in the
/// form it travels in (`encode`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rates {
    bytes: Vec<u8>,
    /// Each processor's name hash (`name_hash`), name and table.
    processors: Vec<(u64, String, Slab)>,
}

/// FNV-1a of a processor's name: a router keeps its processors' hashes,
/// so that finding one in a table compares integers, not names.
pub fn name_hash(name: &str) -> u64 {
    crate::hash::fnv1a(name.as_bytes())
}

/// No rates at all: `auth_rate` then decides by its fixed order.
pub static NO_RATES: Rates = Rates {
    bytes: Vec::new(),
    processors: Vec::new(),
};

/// One entry of a rate table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateEntry {
    pub processor: String,
    pub brand: Option<Brand>,
    pub country: Option<Option<Country>>,
    pub funding: Option<Funding>,
    pub count: Count,
}

impl Rates {
    /// Builds a table from entries (each counted toward its own group and
    /// every coarser one). `country: Some(None)` is the unknown country.
    pub fn from_entries<I: IntoIterator<Item = RateEntry>>(entries: I) -> Rates {
        let mut acc: BTreeMap<String, BTreeMap<u64, Count>> = BTreeMap::new();
        for e in entries {
            let g = Group::new(e.brand, e.country.flatten(), e.funding);
            // The finest level the entry is precise enough for.
            let finest = match (e.brand, e.country, e.funding) {
                (Some(_), Some(_), Some(_)) => 0,
                (Some(_), Some(_), None) => 1,
                (Some(_), None, _) => 2,
                (None, _, _) => 3,
            };
            let groups = acc.entry(e.processor).or_default();
            for level in &Level::ALL[finest..] {
                groups.entry(g.key(*level)).or_default().add(e.count);
            }
        }
        if acc.is_empty() {
            return Rates::default();
        }
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(acc.len() as u32).to_le_bytes());
        for (name, groups) in &acc {
            out.extend_from_slice(&(name.len().min(usize::from(u16::MAX)) as u16).to_le_bytes());
            out.extend_from_slice(&name.as_bytes()[..name.len().min(usize::from(u16::MAX))]);
            Slab::write(groups, &mut out);
        }
        Rates::decode(out).unwrap_or_default()
    }

    /// The counts of a processor's group at a level (zero when none).
    pub fn count(&self, processor: &str, g: Group, level: Level) -> Count {
        let Some(groups) = self.slab(name_hash(processor), processor) else {
            return Count::default();
        };
        groups.get(&self.bytes, g.key(level)).unwrap_or_default()
    }

    fn slab(&self, hash: u64, name: &str) -> Option<Slab> {
        self.processors
            .iter()
            .find(|(h, n, _)| *h == hash && n == name)
            .map(|(_, _, s)| *s)
    }

    /// A processor's rate for a payment's group: the finest level with at
    /// least `min_sample` attempts, or `None`.
    pub fn rated(&self, processor: &str, g: Group, min_sample: u64) -> Option<(Level, Count)> {
        self.rated_hashed(name_hash(processor), processor, g, min_sample)
    }

    /// `rated`, the processor's name hash given (`name_hash`).
    pub fn rated_hashed(
        &self,
        hash: u64,
        processor: &str,
        g: Group,
        min_sample: u64,
    ) -> Option<(Level, Count)> {
        let groups = self.slab(hash, processor)?;
        let need = min_sample.max(1);
        Level::ALL.into_iter().find_map(|level| {
            let c = groups.get(&self.bytes, g.key(level))?;
            (c.attempts >= need).then_some((level, c))
        })
    }

    /// The table in its binary form, for a table computed once and handed
    /// to many isolates (the worker's rates object): [`Rates::decode`]
    /// reads it in place, without JSON and without building anything.
    ///
    /// `SYR2`, the processor count (u32), then per processor its name's
    /// length (u16) and UTF-8 bytes, log2 of its cell count (u8) and its
    /// hash table's cells (key, attempts, authorized: u64 each; a free
    /// cell's key is 2^64 - 1), all little-endian.
    pub fn encode(&self) -> Vec<u8> {
        if self.bytes.is_empty() {
            let mut out = MAGIC.to_vec();
            out.extend_from_slice(&0u32.to_le_bytes());
            return out;
        }
        self.bytes.clone()
    }

    /// Takes [`Rates::encode`]'s form; `None` for anything else (never a
    /// panic, nor a lookup that does not end: the bytes come from another
    /// object). The table is checked, not copied.
    pub fn decode(bytes: Vec<u8>) -> Option<Rates> {
        let mut r = Reader(&bytes);
        if r.take(4)? != MAGIC {
            return None;
        }
        let count = r.u32()?;
        let mut processors: Vec<(u64, String, Slab)> = Vec::new();
        for _ in 0..count {
            let len = usize::from(u16::from_le_bytes(r.take(2)?.try_into().ok()?));
            let name = std::str::from_utf8(r.take(len)?).ok()?.to_owned();
            let bits = u32::from(*r.take(1)?.first()?);
            if !(1..=24).contains(&bits) {
                return None;
            }
            let at = bytes.len() - r.0.len();
            let slab = Slab {
                at,
                shift: 64 - bits,
            };
            let cells = r.take(slab.cells().checked_mul(CELL)?)?;
            // a free cell ends every lookup
            if !cells.chunks_exact(CELL).any(|c| c[..8] == [0xff; 8]) {
                return None;
            }
            if processors.iter().any(|(_, n, _)| *n == name) {
                return None;
            }
            processors.push((name_hash(&name), name, slab));
        }
        if !r.0.is_empty() {
            return None;
        }
        if processors.is_empty() {
            return Some(Rates::default());
        }
        Some(Rates { bytes, processors })
    }

    /// Reads a rate table given as JSON (docs/rules.md): an array of
    /// `{processor, brand?, country?, funding?, attempts, authorized}`.
    /// Every problem at once, each with a JSON Pointer under `at`.
    pub fn from_value(v: &Value, at: &str) -> Result<Rates, Vec<Issue>> {
        let mut out = Issues::default();
        let root = Pointer(at.to_owned());
        let Some(items) = v.as_array() else {
            out.error(
                &root,
                "wrong_type",
                "rates are an array of {processor, brand, country, funding, attempts, authorized}",
            );
            return Err(out.errors);
        };
        if items.len() > MAX_RATES {
            out.error(
                &root,
                "too_many_rates",
                format!(
                    "rates hold at most {MAX_RATES} entries; these hold {}",
                    items.len()
                ),
            );
            return Err(out.errors);
        }
        let mut entries = Vec::with_capacity(items.len());
        // The first entry of each group, by a hash of the group (the same
        // map type the router uses, so no new code for the binding).
        let mut seen: std::collections::HashMap<u64, u32> = Default::default();
        for (i, item) in items.iter().enumerate() {
            let ip = root.idx(i);
            if let Some(e) = entry(item, &ip, &mut out) {
                let group = Group::new(e.brand, e.country.flatten(), e.funding);
                let given = u64::from(e.brand.is_some())
                    | u64::from(e.country.is_some()) << 1
                    | u64::from(e.funding.is_some()) << 2;
                let h = name_hash(&e.processor)
                    ^ group
                        .key(Level::BrandCountryFunding)
                        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                    ^ given.wrapping_mul(0xbf58_476d_1ce4_e5b9);
                let same = |j: &u32| {
                    entries.get(*j as usize).is_some_and(|f: &RateEntry| {
                        f.processor == e.processor
                            && f.brand == e.brand
                            && f.country == e.country
                            && f.funding == e.funding
                    })
                };
                if seen.get(&h).is_some_and(same) {
                    out.error(
                        &ip,
                        "duplicate_rate",
                        format!(
                            "processor \"{}\" has this group twice: give each group once",
                            e.processor
                        ),
                    );
                } else {
                    seen.entry(h).or_insert(entries.len() as u32);
                    entries.push(e);
                }
            }
        }
        if out.errors.is_empty() {
            Ok(Rates::from_entries(entries))
        } else {
            Err(out.errors)
        }
    }
}

const MAGIC: &[u8; 4] = b"SYR2";

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
}

const ENTRY_KEYS: &[&str] = &[
    "processor",
    "brand",
    "country",
    "funding",
    "attempts",
    "authorized",
];

fn entry(v: &Value, at: &Pointer, out: &mut Issues) -> Option<RateEntry> {
    let Some(o) = v.as_object() else {
        out.error(
            at,
            "wrong_type",
            "a rate is an object {processor, brand, country, funding, attempts, authorized}",
        );
        return None;
    };
    for k in o.keys() {
        if !ENTRY_KEYS.contains(&k.as_str()) {
            let hint = did_you_mean(k, ENTRY_KEYS.iter().copied());
            out.error(
                &at.key(k),
                "unknown_key",
                format!("unknown key \"{k}\" in a rate{hint}"),
            );
        }
    }
    let processor = match o.get("processor") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 64 => Some(s.clone()),
        Some(_) => {
            out.error(
                &at.key("processor"),
                "wrong_type",
                "a rate's processor is a processor id (a string of 1 to 64 characters)",
            );
            None
        }
        None => {
            out.error(
                &at.key("processor"),
                "missing_key",
                "a rate needs a \"processor\"",
            );
            None
        }
    };
    let brands: Vec<&str> = Brand::names().collect();
    let fundings: Vec<&str> = Funding::names().collect();
    let brand = keyword(o, at, "brand", out, Brand::parse, &brands);
    let funding = keyword(o, at, "funding", out, Funding::parse, &fundings);
    let country = match o.get("country") {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(s)) if s == "unknown" => Some(Some(None)),
        Some(Value::String(s)) => match Country::parse(s) {
            Some(c) => Some(Some(Some(c))),
            None => {
                out.error(
                    &at.key("country"),
                    "invalid_value",
                    format!("\"{s}\" is not an ISO 3166-1 alpha-2 country code or \"unknown\""),
                );
                None
            }
        },
        Some(_) => {
            out.error(
                &at.key("country"),
                "wrong_type",
                "a rate's country is a string (\"US\", or \"unknown\")",
            );
            None
        }
    };
    let attempts = count(o, at, "attempts", out);
    let authorized = count(o, at, "authorized", out);
    if let (Some(n), Some(a)) = (attempts, authorized) {
        if a > n {
            out.error(
                &at.key("authorized"),
                "invalid_count",
                format!("authorized ({a}) cannot exceed attempts ({n})"),
            );
            return None;
        }
    }
    Some(RateEntry {
        processor: processor?,
        brand: brand?,
        country: country?,
        funding: funding?,
        count: Count {
            attempts: attempts?,
            authorized: authorized?,
        },
    })
}

/// An optional keyword (`brand`, `funding`): `Some(None)` when absent.
fn keyword<T: Copy>(
    o: &Map<String, Value>,
    at: &Pointer,
    key: &str,
    out: &mut Issues,
    parse: fn(&str) -> Option<T>,
    names: &[&'static str],
) -> Option<Option<T>> {
    match o.get(key) {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(s)) => match parse(s) {
            Some(t) => Some(Some(t)),
            None => {
                let hint = did_you_mean(s, names.iter().copied());
                out.error(
                    &at.key(key),
                    "invalid_value",
                    format!("\"{s}\" is not a {key}: one of {}{hint}", names.join(", ")),
                );
                None
            }
        },
        Some(_) => {
            out.error(
                &at.key(key),
                "wrong_type",
                format!("a rate's {key} is a string"),
            );
            None
        }
    }
}

fn count(o: &Map<String, Value>, at: &Pointer, key: &str, out: &mut Issues) -> Option<u64> {
    match o.get(key) {
        Some(Value::Number(n)) => match n.as_u64().filter(|c| *c <= MinorUnits::MAX) {
            Some(c) => Some(c),
            None => {
                out.error(
                    &at.key(key),
                    "invalid_count",
                    format!("{key} is a whole number from 0 to 2^53 - 1, not {n}"),
                );
                None
            }
        },
        Some(_) => {
            out.error(
                &at.key(key),
                "wrong_type",
                format!("{key} is a whole number"),
            );
            None
        }
        None => {
            out.error(
                &at.key(key),
                "missing_key",
                format!("a rate needs \"{key}\""),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn codes(v: Value) -> Vec<(String, &'static str)> {
        match Rates::from_value(&v, "/rates") {
            Ok(_) => Vec::new(),
            Err(issues) => issues.into_iter().map(|i| (i.path, i.code)).collect(),
        }
    }

    #[test]
    fn every_problem_is_named_by_path_and_code() {
        assert_eq!(codes(json!({})), [("/rates".into(), "wrong_type")]);
        assert_eq!(codes(json!([3])), [("/rates/0".into(), "wrong_type")]);
        let got = codes(json!([
            {"processor": "stripe", "attempts": 10, "authorised": 9},
            {"processor": "", "brand": "vsa", "country": "XX", "funding": 7, "attempts": -1, "authorized": 1.5},
            {"processor": "stripe", "attempts": 5, "authorized": 6},
            {"processor": "adyen", "attempts": 5, "authorized": 5},
            {"processor": "adyen", "attempts": 1, "authorized": 0}
        ]));
        assert_eq!(
            got,
            [
                ("/rates/0/authorised".into(), "unknown_key"),
                ("/rates/0/authorized".into(), "missing_key"),
                ("/rates/1/processor".into(), "wrong_type"),
                ("/rates/1/brand".into(), "invalid_value"),
                ("/rates/1/funding".into(), "wrong_type"),
                ("/rates/1/country".into(), "invalid_value"),
                ("/rates/1/attempts".into(), "invalid_count"),
                ("/rates/1/authorized".into(), "invalid_count"),
                ("/rates/2/authorized".into(), "invalid_count"),
                ("/rates/4".into(), "duplicate_rate"),
            ]
        );
        let err = Rates::from_value(
            &json!([{"processor": "a", "brand": "vsa", "attempts": 1, "authorized": 1}]),
            "",
        );
        let msg = err.err().and_then(|e| e.first().map(|i| i.message.clone()));
        assert!(msg.is_some_and(|m| m.contains("did you mean") || m.contains("visa")));
    }

    #[test]
    fn the_binary_form_reads_back_and_refuses_anything_else() {
        let r = Rates::from_value(
            &json!([
                {"processor": "a", "brand": "visa", "country": "US", "funding": "credit", "attempts": 10, "authorized": 9},
                {"processor": "bé", "attempts": 5, "authorized": 5}
            ]),
            "",
        )
        .unwrap_or_default();
        let bytes = r.encode();
        assert_eq!(Rates::decode(bytes.clone()), Some(r));
        assert_eq!(
            Rates::decode(Rates::default().encode()),
            Some(Rates::default())
        );
        for cut in 0..bytes.len() {
            assert_eq!(Rates::decode(bytes[..cut].to_vec()), None, "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(Rates::decode(longer), None);
        assert_eq!(Rates::decode(b"SYR2\xff\xff\xff\xff".to_vec()), None);
        // a table without a free cell would make a lookup go round forever
        let mut full = b"SYR2\x01\x00\x00\x00\x01\x00a\x01".to_vec();
        for key in [1u64, 2] {
            for v in [key, 5, 5] {
                full.extend_from_slice(&v.to_le_bytes());
            }
        }
        assert_eq!(Rates::decode(full), None);
    }

    #[test]
    fn entries_count_toward_their_group_and_every_coarser_one() {
        let r = Rates::from_value(
            &json!([
                {"processor": "a", "brand": "visa", "country": "us", "funding": "credit", "attempts": 10, "authorized": 9},
                {"processor": "a", "brand": "visa", "country": "FR", "attempts": 5, "authorized": 5},
                {"processor": "a", "country": "US", "attempts": 100, "authorized": 0},
                {"processor": "a", "brand": "visa", "country": "unknown", "funding": "unknown", "attempts": 2, "authorized": 1}
            ]),
            "",
        )
        .unwrap_or_default();
        let us = Group::new(
            Some(Brand::Visa),
            Country::parse("US"),
            Some(Funding::Credit),
        );
        let c = |g, l| r.count("a", g, l);
        assert_eq!(c(us, Level::BrandCountryFunding).attempts, 10);
        assert_eq!(c(us, Level::BrandCountry).attempts, 10);
        assert_eq!(c(us, Level::Brand).attempts, 17);
        // an entry without a brand counts only toward all payments
        assert_eq!(c(us, Level::All).attempts, 117);
        let none = Group::new(Some(Brand::Visa), None, None);
        assert_eq!(c(none, Level::BrandCountryFunding).attempts, 2);
        assert_eq!(
            r.rated("a", us, 11),
            Some((
                Level::Brand,
                Count {
                    attempts: 17,
                    authorized: 15
                }
            ))
        );
        assert_eq!(r.rated("b", us, 1), None);
    }
}
