//! Simulation over payments handed over as columns (one array per field)
//! rather than as JSON text: what the JS binding builds from an array of
//! objects, so that a million payments cross into wasm in a few copies.
//!
//! Each row is validated by [`Payment::from_input`]'s own code, from
//! borrowed text, with no allocation per payment. Rows the caller could not
//! put in columns (flagged) are read from their JSON text exactly as
//! [`simulate_json`](crate::simulate_json) reads an element of its array.

use serde::Deserialize;
use serde_json::Value;

use crate::issue::Issue;
use crate::payment::{
    BillingInput, CardInput, Payment, PaymentInput, StrictInput, Text, MAX_ROUTING_KEY,
};
use crate::rates::Rates;
#[cfg(test)]
use crate::router::simulate_json;
use crate::router::{at_index, Router, Simulation, Tally};

/// A column of optional strings, one per payment.
#[derive(Debug, Default)]
pub struct TextColumn<'a> {
    /// Byte span of each row in `text`; `None` when the payment has no value.
    rows: Vec<Option<(u32, u32)>>,
    ids: Option<&'a [u32]>,
    dict: Vec<&'a str>,
    text: &'a str,
}

/// The length of a missing row in [`TextColumn::joined`].
pub const MISSING: u32 = u32::MAX;

/// Byte spans of consecutive pieces of `text`, given their lengths in UTF-16
/// code units (JavaScript string lengths); [`MISSING`] for no piece.
fn spans(text: &str, lens: &[u32]) -> Option<Vec<Option<(u32, u32)>>> {
    u32::try_from(text.len()).ok()?;
    let mut out = Vec::with_capacity(lens.len());
    let mut at = 0usize;
    if text.is_ascii() {
        for &l in lens {
            if l == MISSING {
                out.push(None);
                continue;
            }
            let end = at.checked_add(l as usize)?;
            if end > text.len() {
                return None;
            }
            out.push(Some((at as u32, end as u32)));
            at = end;
        }
    } else {
        let mut chars = text.char_indices();
        for &l in lens {
            if l == MISSING {
                out.push(None);
                continue;
            }
            let start = at;
            let mut units = 0u32;
            while units < l {
                let (i, c) = chars.next()?;
                units += c.len_utf16() as u32;
                at = i + c.len_utf8();
            }
            if units != l {
                return None;
            }
            out.push(Some((start as u32, at as u32)));
        }
    }
    (at == text.len()).then_some(out)
}

impl<'a> TextColumn<'a> {
    /// No payment has this field.
    pub fn absent() -> TextColumn<'a> {
        TextColumn::default()
    }

    /// The rows' strings one after the other in `text`, with each row's
    /// length in UTF-16 code units, or [`MISSING`]. `None` when the lengths
    /// do not add up to `text`.
    pub fn joined(text: &'a str, lens: &[u32]) -> Option<TextColumn<'a>> {
        Some(TextColumn {
            rows: spans(text, lens)?,
            ids: None,
            dict: Vec::new(),
            text,
        })
    }

    /// Each row an id into a dictionary: 0 for no value, `k` for the `k`th
    /// string. The dictionary's strings are joined in `text`, with their
    /// UTF-16 lengths in `lens`. `None` when the lengths do not add up.
    pub fn interned(ids: &'a [u32], text: &'a str, lens: &[u32]) -> Option<TextColumn<'a>> {
        let dict = spans(text, lens)?
            .into_iter()
            .map(|s| s.and_then(|(a, b)| text.get(a as usize..b as usize)))
            .collect::<Option<Vec<&str>>>()?;
        Some(TextColumn {
            rows: Vec::new(),
            ids: Some(ids),
            dict,
            text,
        })
    }

    fn get(&self, row: usize) -> Option<&'a str> {
        match self.ids {
            Some(ids) => {
                let id = *ids.get(row)? as usize;
                self.dict.get(id.checked_sub(1)?).copied()
            }
            None => {
                let (a, b) = (*self.rows.get(row)?)?;
                self.text.get(a as usize..b as usize)
            }
        }
    }
}

/// Booleans of a column: 0 for no value, 1 for false, 2 for true.
fn flag(col: &[i8], row: usize) -> Option<bool> {
    match col.get(row) {
        Some(1) => Some(false),
        Some(2) => Some(true),
        _ => None,
    }
}

/// Payments as columns: row `i` of every column is payment `i`.
#[derive(Debug, Default)]
pub struct PaymentColumns<'a> {
    /// `NaN` for a payment without an amount.
    pub amount: &'a [f64],
    /// Nonzero for a payment to read from its JSON text instead.
    pub flagged: &'a [u8],
    pub currency: TextColumn<'a>,
    pub card_number: TextColumn<'a>,
    pub card_bin: TextColumn<'a>,
    pub card_brand: TextColumn<'a>,
    pub card_country: TextColumn<'a>,
    pub card_funding: TextColumn<'a>,
    pub card_issuer: TextColumn<'a>,
    pub billing_country: TextColumn<'a>,
    pub capture_method: TextColumn<'a>,
    pub routing_key: TextColumn<'a>,
    /// 0 missing, 1 false, 2 true.
    pub off_session: &'a [i8],
    pub three_d_secure: &'a [i8],
    /// `(key, values)` for the metadata keys the rules read
    /// ([`Router::metadata_keys`]); other keys do not change a decision.
    pub metadata: Vec<(&'a str, TextColumn<'a>)>,
}

/// Why a columnar simulation stopped.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnsError {
    /// Payment `index` is invalid; `issues` carry its index in their paths,
    /// as [`simulate_json`](crate::simulate_json) reports them.
    Invalid { index: usize, issues: Vec<Issue> },
    /// The answer is the JSON path's alone (a payment that is not JSON, or
    /// that only the lenient JSON reading accepts): simulate from the JSON
    /// text of the whole list.
    NeedsJson,
}

/// How [`simulate_json`](crate::simulate_json) reads one element of its
/// array, given the element's JSON text.
enum Element {
    Valid(Payment),
    /// Refused; `strict`: by the strict reading (the JSON path then stops
    /// at it), else by the lenient one (which reads the whole list first).
    Invalid {
        issues: Vec<Issue>,
        strict: bool,
    },
    /// Not one the strict reading takes, nor refused by the lenient one.
    Unsure,
}

fn read_element(router: &Router, text: &str) -> Element {
    let mut de = serde_json::Deserializer::from_str(text);
    if let Ok(StrictInput::<Text<'_>>(input)) = StrictInput::deserialize(&mut de) {
        if de.end().is_ok() {
            return match Payment::from_input_keeping(input, |k| router.reads_metadata(k)) {
                Ok(p) => Element::Valid(p),
                Err(issues) => Element::Invalid {
                    issues,
                    strict: true,
                },
            };
        }
    }
    // The strict reading refused it: the JSON path reads the whole list as
    // JSON values (nested one level, in its array).
    match serde_json::from_str::<Value>(&format!("[{text}]")) {
        Ok(Value::Array(list)) => match list.first().map(Payment::from_value) {
            Some(Err(issues)) => Element::Invalid {
                issues,
                strict: false,
            },
            _ => Element::Unsure,
        },
        _ => Element::Unsure,
    }
}

/// True when `text`, one element of a list, reads as JSON within an array:
/// a list holding it does not make the JSON path give up on the whole list.
pub fn element_is_json(text: &str) -> bool {
    serde_json::from_str::<Value>(&format!("[{text}]")).is_ok()
}

/// Decides every payment of `cols` (`n` rows) and counts the outcomes, as
/// [`simulate_json`](crate::simulate_json) does for the same payments as a
/// JSON array: a payment without a routing key is keyed by its index, and
/// the first invalid payment stops the run. `json(i)` gives the JSON text of
/// a flagged payment (`None` when it has none).
pub fn simulate_columns(
    router: &Router,
    n: usize,
    cols: &PaymentColumns<'_>,
    rates: &Rates,
    mut json: impl FnMut(usize) -> Option<String>,
) -> Result<Simulation, ColumnsError> {
    let mut tally = Tally::default();
    let mut key = String::new();
    // Reused for every payment: the happy path allocates nothing per row.
    let mut issuer = String::new();
    let mut metadata = std::collections::BTreeMap::<String, String>::new();
    for i in 0..n {
        if cols.flagged.get(i).is_some_and(|f| *f != 0) {
            let Some(text) = json(i) else {
                return Err(ColumnsError::NeedsJson);
            };
            match read_element(router, &text) {
                Element::Valid(p) => tally_keyed(router, rates, &mut tally, &p, &mut key, i),
                Element::Invalid { issues, strict } => {
                    return invalid(i, issues, strict, n, cols, &mut json)
                }
                Element::Unsure => return Err(ColumnsError::NeedsJson),
            }
            continue;
        }
        let amount = cols.amount.get(i).copied().filter(|a| !a.is_nan());
        let routing_key = cols.routing_key.get(i);
        // A key within bounds goes straight to the tally; one too long is
        // validated, to be refused.
        let long_key = routing_key.filter(|k| k.len() > MAX_ROUTING_KEY);
        let input = PaymentInput::<&str> {
            amount,
            currency: cols.currency.get(i),
            card: Some(CardInput {
                number: cols.card_number.get(i),
                bin: cols.card_bin.get(i),
                brand: cols.card_brand.get(i),
                country: cols.card_country.get(i),
                funding: cols.card_funding.get(i),
                issuer: None,
            }),
            billing: Some(BillingInput {
                country: cols.billing_country.get(i),
            }),
            capture_method: cols.capture_method.get(i),
            off_session: flag(cols.off_session, i),
            three_d_secure: flag(cols.three_d_secure, i),
            metadata: None,
            routing_key: long_key,
        };
        match Payment::from_input_keeping(input, |_| false) {
            Ok(mut p) => {
                // Issuer and metadata are not validated: fill them in the
                // reused buffers.
                p.issuer = cols.card_issuer.get(i).map(|s| {
                    let mut b = std::mem::take(&mut issuer);
                    b.clear();
                    b.push_str(s);
                    b
                });
                for (k, col) in &cols.metadata {
                    match col.get(i) {
                        Some(v) => match metadata.get_mut(*k) {
                            Some(slot) => {
                                slot.clear();
                                slot.push_str(v);
                            }
                            None => {
                                metadata.insert((*k).to_owned(), v.to_owned());
                            }
                        },
                        None => {
                            metadata.remove(*k);
                        }
                    }
                }
                p.metadata = std::mem::take(&mut metadata);
                match routing_key {
                    Some(k) => router.tally(&mut tally, &p, k, rates),
                    None => tally_keyed(router, rates, &mut tally, &p, &mut key, i),
                }
                metadata = std::mem::take(&mut p.metadata);
                if let Some(b) = p.issuer.take() {
                    issuer = b;
                }
            }
            Err(_) => {
                // The issues as the JSON path gives them, from its own text.
                let Some(text) = json(i) else {
                    return Err(ColumnsError::NeedsJson);
                };
                return match read_element(router, &text) {
                    Element::Invalid { issues, strict } => {
                        invalid(i, issues, strict, n, cols, &mut json)
                    }
                    _ => Err(ColumnsError::NeedsJson),
                };
            }
        }
    }
    Ok(tally.finish(router))
}

/// Most later flagged payments [`invalid`] checks one by one.
const MAX_CHECKED: usize = 10_000;

/// Payment `i` is refused: its issues are the answer unless a later payment
/// has no JSON text (the list as a whole then has none), or, when the lenient
/// reading refused it, a later payment is not JSON the lenient reading takes.
fn invalid(
    i: usize,
    issues: Vec<Issue>,
    strict: bool,
    n: usize,
    cols: &PaymentColumns<'_>,
    json: &mut impl FnMut(usize) -> Option<String>,
) -> Result<Simulation, ColumnsError> {
    let mut checked = 0usize;
    for k in i + 1..n {
        if cols.flagged.get(k).is_some_and(|f| *f != 0) {
            checked += 1;
            if checked > MAX_CHECKED {
                // As quick to read the JSON text of the whole list.
                return Err(ColumnsError::NeedsJson);
            }
            match json(k) {
                None => return Err(ColumnsError::NeedsJson),
                Some(t) if !strict && !element_is_json(&t) => return Err(ColumnsError::NeedsJson),
                Some(_) => {}
            }
        }
    }
    Err(ColumnsError::Invalid {
        index: i,
        issues: at_index(i, issues),
    })
}

fn tally_keyed(
    router: &Router,
    rates: &Rates,
    tally: &mut Tally,
    p: &Payment,
    key: &mut String,
    i: usize,
) {
    match p.routing_key() {
        Some(k) => router.tally(tally, p, k, rates),
        None => {
            use std::fmt::Write;
            key.clear();
            let _ = write!(key, "{i}");
            router.tally(tally, p, key, rates);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issue::ValidateOptions;
    use serde_json::json;

    /// A text column of `rows` (each value's pointer), joined or interned as
    /// the JS binding builds them; rows with a non-string value are flagged.
    struct Built {
        text: String,
        lens: Vec<u32>,
        ids: Vec<u32>,
        dict: String,
        dict_lens: Vec<u32>,
    }

    fn build(rows: &[Value], at: &str, flagged: &mut [u8]) -> Built {
        let mut b = Built {
            text: String::new(),
            lens: Vec::new(),
            ids: Vec::new(),
            dict: String::new(),
            dict_lens: Vec::new(),
        };
        let mut seen: Vec<String> = Vec::new();
        for (i, r) in rows.iter().enumerate() {
            match r.pointer(at) {
                Some(Value::String(s)) => {
                    b.text.push_str(s);
                    b.lens.push(s.encode_utf16().count() as u32);
                    let id = match seen.iter().position(|x| x == s) {
                        Some(k) => k + 1,
                        None => {
                            seen.push(s.clone());
                            b.dict.push_str(s);
                            b.dict_lens.push(s.encode_utf16().count() as u32);
                            seen.len()
                        }
                    };
                    b.ids.push(id as u32);
                }
                None => {
                    b.lens.push(MISSING);
                    b.ids.push(0);
                }
                Some(_) => {
                    b.lens.push(MISSING);
                    b.ids.push(0);
                    flagged[i] = 1;
                }
            }
        }
        b
    }

    fn router() -> Router {
        let rules = json!({
            "rules": [
                {"name": "tier", "if": {"field": "metadata.tier", "eq": "gold"}, "then": {"route": ["a"]}},
                {"name": "issuer", "if": {"field": "card.issuer", "prefix": "Soc"}, "then": {"route": ["b"]}},
                {"name": "bins", "if": {"field": "card.bin", "prefix": "4242"}, "then": {"decline": {"code": "x"}}},
                {"name": "jp", "if": {"all": [{"field": "billing.country", "eq": "JP"}, {"field": "off_session", "eq": true}]}, "then": {"route": ["c"]}},
                {"name": "eur", "if": {"field": "currency", "eq": "eur"}, "then": {"split": [{"processor": "a", "weight": 1}, {"processor": "b", "weight": 1}]}}
            ],
            "default": {"split": [{"processor": "c", "weight": 3}, {"processor": "b", "weight": 1}]}
        });
        match Router::from_value(&rules, &ValidateOptions::default()) {
            Ok(r) => r,
            Err(e) => panic!("{e:?}"),
        }
    }

    fn run(router: &Router, list: &[Value], interned: bool) -> Result<Simulation, ColumnsError> {
        let n = list.len();
        let mut flagged = vec![0u8; n];
        let amount: Vec<f64> = list
            .iter()
            .map(|p| p.get("amount").and_then(Value::as_f64).unwrap_or(f64::NAN))
            .collect();
        let bools = |k: &str| -> Vec<i8> {
            list.iter()
                .map(|p| match p.get(k) {
                    Some(Value::Bool(b)) => 1 + i8::from(*b),
                    _ => 0,
                })
                .collect()
        };
        let (off, tds) = (bools("off_session"), bools("three_d_secure"));
        let at = [
            "/currency",
            "/card/number",
            "/card/bin",
            "/card/brand",
            "/card/country",
            "/card/funding",
            "/card/issuer",
            "/billing/country",
            "/capture_method",
            "/routing_key",
            "/metadata/tier",
        ];
        let built: Vec<Built> = at.iter().map(|a| build(list, a, &mut flagged)).collect();
        for (i, p) in list.iter().enumerate() {
            let simple = p.as_object().is_some_and(|o| {
                o.iter().all(|(k, v)| match k.as_str() {
                    "amount" => v.as_f64().is_some_and(|a| a.fract() == 0.0),
                    "off_session" | "three_d_secure" => v.is_boolean(),
                    // "n": a payment to read from its JSON text
                    "metadata" if v.get("n").is_some() => false,
                    "metadata" => v
                        .as_object()
                        .is_some_and(|m| m.values().all(Value::is_string)),
                    "card" | "billing" => v.as_object().is_some_and(|m| {
                        m.iter().all(|(k, v)| {
                            v.is_string()
                                && ["number", "bin", "brand", "country", "funding", "issuer"]
                                    .contains(&k.as_str())
                        })
                    }),
                    "currency" | "capture_method" | "routing_key" => v.is_string(),
                    _ => false,
                })
            });
            if !simple {
                flagged[i] = 1;
            }
        }
        let mut cols = built.iter().map(|b| {
            if interned {
                TextColumn::interned(&b.ids, &b.dict, &b.dict_lens)
            } else {
                TextColumn::joined(&b.text, &b.lens)
            }
            .unwrap_or_default()
        });
        let mut next = || cols.next().unwrap_or_default();
        let columns = PaymentColumns {
            amount: &amount,
            flagged: &flagged,
            currency: next(),
            card_number: next(),
            card_bin: next(),
            card_brand: next(),
            card_country: next(),
            card_funding: next(),
            card_issuer: next(),
            billing_country: next(),
            capture_method: next(),
            routing_key: next(),
            off_session: &off,
            three_d_secure: &tds,
            metadata: vec![("tier", next())],
        };
        simulate_columns(router, n, &columns, &crate::rates::NO_RATES, |i| {
            list.get(i).map(Value::to_string)
        })
    }

    fn pick(xs: &[&'static str], i: u32) -> &'static str {
        xs.get(i as usize % xs.len()).copied().unwrap_or_default()
    }

    fn sample() -> Vec<Value> {
        let mut list = Vec::new();
        for i in 0..300u32 {
            let mut p = json!({"amount": 100 + i, "currency": pick(&["eur", "USD", "jpy"], i)});
            if i % 2 == 0 {
                p["routing_key"] = json!(format!("kéy-😀-{i}"));
            }
            if i % 3 == 0 {
                p["card"] = json!({"bin": pick(&["424242", "555555"], i), "issuer": pick(&["Société", "日本", ""], i)});
            }
            if i % 5 == 0 {
                p["card"] =
                    json!({"number": "4000 0025 0000 3155", "country": "FR", "funding": "credit"});
            }
            if i % 4 == 0 {
                p["billing"] = json!({"country": "JP"});
                p["off_session"] = json!(i % 8 == 0);
            }
            if i % 7 == 0 {
                p["metadata"] = json!({"tier": pick(&["gold", "sïlver"], i), "other": "x"});
            }
            if i % 11 == 0 {
                // read from its JSON text
                p["card"] = json!({"brand": "visa"});
                p["metadata"] = json!({"n": "1"});
            }
            list.push(p);
        }
        list
    }

    #[test]
    fn columns_count_like_simulate_json() {
        let r = router();
        let list = sample();
        let want = simulate_json(
            &r,
            &Value::Array(list.clone()).to_string(),
            &crate::rates::NO_RATES,
        );
        assert!(want.is_ok(), "{want:?}");
        for interned in [false, true] {
            assert_eq!(run(&r, &list, interned).ok(), want.clone().ok());
        }
    }

    #[test]
    fn columns_refuse_like_simulate_json() {
        let r = router();
        let bad = [
            json!({"amount": 1, "currency": "xyz"}),
            json!({"amount": 1.5, "currency": "eur"}),
            json!({"currency": "eur", "card": {"number": "4242424242424241"}}),
            json!({"amount": 1, "currency": "eur", "card": {"nope": "1"}}),
            json!({"amount": 1, "currency": "eur", "metadata": {"tier": 1}}),
            json!(null),
            json!([1]),
            json!({"amount": 1, "currency": "eur", "routing_key": "k".repeat(1025)}),
        ];
        for b in bad {
            for at in [0usize, 150, 299] {
                let mut list = sample();
                list[at] = b.clone();
                let want = simulate_json(
                    &r,
                    &Value::Array(list.clone()).to_string(),
                    &crate::rates::NO_RATES,
                );
                let Err(want) = want else {
                    panic!("{b} accepted")
                };
                for interned in [false, true] {
                    match run(&r, &list, interned) {
                        Err(ColumnsError::Invalid { index, issues }) => {
                            assert_eq!((index, &issues), (at, &want), "{b}")
                        }
                        other => panic!("{b}: {other:?}"),
                    }
                }
            }
        }
    }

    #[test]
    fn spans_count_utf16() {
        let text = "a😀éz";
        let Some(c) = TextColumn::joined(text, &[1, MISSING, 2, 1, 1]) else {
            panic!("spans")
        };
        let got: Vec<Option<&str>> = (0..6).map(|i| c.get(i)).collect();
        assert_eq!(
            got,
            [Some("a"), None, Some("😀"), Some("é"), Some("z"), None]
        );
        assert!(TextColumn::joined(text, &[1, 1]).is_none());
        assert!(TextColumn::joined(text, &[1, 1, 2, 1]).is_none());
        assert!(TextColumn::joined(text, &[1, 3, 1]).is_some());
        assert!(TextColumn::joined(text, &[9]).is_none());
    }
}
