//! The payment as the engine sees it: validated facts, never a card number.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::ast::{FieldKind, FieldRef};
use crate::card;
use crate::issue::{did_you_mean, Issue, Issues, Pointer};
use crate::values::{Brand, CaptureMethod, CardBin, Country, Currency, Funding, MinorUnits};

/// The payment input of rules.md, as it arrives (JSON or a JS object).
/// Strict: unknown keys are refused. `S` is the string type: `String`, or a
/// borrowed [`Text`] when reading JSON text without copying it.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "S: Deserialize<'de> + Ord"))]
pub struct PaymentInput<S = String> {
    #[serde(default, deserialize_with = "some")]
    pub amount: Option<f64>,
    #[serde(default, deserialize_with = "some")]
    pub currency: Option<S>,
    #[serde(default, deserialize_with = "map_only")]
    pub card: Option<CardInput<S>>,
    #[serde(default, deserialize_with = "map_only")]
    pub billing: Option<BillingInput<S>>,
    #[serde(default, deserialize_with = "some")]
    pub capture_method: Option<S>,
    #[serde(default, deserialize_with = "some")]
    pub off_session: Option<bool>,
    #[serde(default, deserialize_with = "some")]
    pub three_d_secure: Option<bool>,
    #[serde(default, deserialize_with = "some")]
    pub metadata: Option<BTreeMap<S, S>>,
    #[serde(default, deserialize_with = "some")]
    pub routing_key: Option<S>,
}

/// Card facts of a payment input. `number` is read once to derive the BIN
/// and brand and is then dropped; `Debug` never prints it.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "S: Deserialize<'de>"))]
pub struct CardInput<S = String> {
    #[serde(default, deserialize_with = "some")]
    pub number: Option<S>,
    #[serde(default, deserialize_with = "some")]
    pub bin: Option<S>,
    #[serde(default, deserialize_with = "some")]
    pub brand: Option<S>,
    #[serde(default, deserialize_with = "some")]
    pub country: Option<S>,
    #[serde(default, deserialize_with = "some")]
    pub funding: Option<S>,
    #[serde(default, deserialize_with = "some")]
    pub issuer: Option<S>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for CardInput<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardInput")
            .field("number", &self.number.as_ref().map(|_| "[redacted]"))
            .field("bin", &self.bin)
            .field("brand", &self.brand)
            .field("country", &self.country)
            .field("funding", &self.funding)
            .field("issuer", &self.issuer)
            .finish()
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "S: Deserialize<'de>"))]
pub struct BillingInput<S = String> {
    #[serde(default, deserialize_with = "some")]
    pub country: Option<S>,
}

/// Text borrowed from the JSON it was read from (copied only when it has
/// escapes).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Text<'a>(pub std::borrow::Cow<'a, str>);

impl AsRef<str> for Text<'_> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Deserialises a struct from a JSON object only: serde's derived impls
/// also take arrays (fields by position), which a payment must not be.
fn map_only<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Only<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Only<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Option<T>, A::Error> {
            T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Some)
        }
    }
    d.deserialize_any(Only(std::marker::PhantomData))
}

/// A present value: `null` is refused (the JSON path calls it the wrong
/// type), a missing key is `None` through `#[serde(default)]`.
fn some<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// A payment input that is a JSON object (not an array, not null).
pub(crate) struct StrictInput<S = String>(pub(crate) PaymentInput<S>);

impl<'de, S: Deserialize<'de> + Ord> Deserialize<'de> for StrictInput<S> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match map_only(d)? {
            Some(p) => Ok(StrictInput(p)),
            None => Err(serde::de::Error::custom("not a payment")),
        }
    }
}

/// A validated payment: the facts rules can test.
#[derive(Clone, Debug, PartialEq)]
pub struct Payment {
    pub amount: MinorUnits,
    pub currency: Currency,
    pub brand: Option<Brand>,
    pub bin: Option<CardBin>,
    pub card_country: Option<Country>,
    pub funding: Option<Funding>,
    pub issuer: Option<String>,
    pub billing_country: Option<Country>,
    pub capture_method: Option<CaptureMethod>,
    pub off_session: Option<bool>,
    pub three_d_secure: Option<bool>,
    pub metadata: BTreeMap<String, String>,
    pub routing_key: Option<String>,
}

/// A payment fact, borrowed, as the evaluator compares it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Fact<'a> {
    Int(u64),
    Code(u32),
    Bool(bool),
    Str(&'a str),
}

/// The longest routing key, in bytes (rules.md, Payment input).
pub const MAX_ROUTING_KEY: usize = 1024;

impl Payment {
    /// Reads a payment from JSON (rules.md, Payment input).
    pub fn from_value(v: &Value) -> Result<Payment, Vec<Issue>> {
        let input = read_input(v)?;
        Payment::from_input(input)
    }

    /// Reads a payment from JSON text.
    pub fn from_json_str(s: &str) -> Result<Payment, Vec<Issue>> {
        // Fast path: straight into the strict wire type. Only when that
        // fails is the text read again to find every problem with its path.
        let mut de = serde_json::Deserializer::from_str(s);
        if let Ok(StrictInput(input)) = StrictInput::<Text<'_>>::deserialize(&mut de) {
            if de.end().is_ok() {
                return Payment::from_input(input);
            }
        }
        let v: Value = serde_json::from_str(s).map_err(|e| {
            vec![Issue {
                path: String::new(),
                code: "invalid_json",
                message: format!("malformed JSON: {e}"),
            }]
        })?;
        Payment::from_value(&v)
    }

    /// Validates a wire payment; every problem at once.
    pub fn from_input<S: AsRef<str>>(i: PaymentInput<S>) -> Result<Payment, Vec<Issue>> {
        Payment::from_input_keeping(i, |_| true)
    }

    /// As [`Payment::from_input`], keeping only the metadata keys `keep`
    /// accepts (a simulation keeps those its rules read).
    pub(crate) fn from_input_keeping<S: AsRef<str>>(
        i: PaymentInput<S>,
        keep: impl Fn(&str) -> bool,
    ) -> Result<Payment, Vec<Issue>> {
        // A borrowed view, so that one copy of the validation serves every
        // string type (it is the larger part of the wasm otherwise).
        fn s<S: AsRef<str>>(x: &Option<S>) -> Option<&str> {
            x.as_ref().map(AsRef::as_ref)
        }
        let view = PaymentInput::<&str> {
            amount: i.amount,
            currency: s(&i.currency),
            card: i.card.as_ref().map(|c| CardInput {
                number: s(&c.number),
                bin: s(&c.bin),
                brand: s(&c.brand),
                country: s(&c.country),
                funding: s(&c.funding),
                issuer: s(&c.issuer),
            }),
            billing: i.billing.as_ref().map(|b| BillingInput {
                country: s(&b.country),
            }),
            capture_method: s(&i.capture_method),
            off_session: i.off_session,
            three_d_secure: i.three_d_secure,
            metadata: None,
            routing_key: s(&i.routing_key),
        };
        let mut meta = i
            .metadata
            .iter()
            .flatten()
            .map(|(k, v)| (k.as_ref(), v.as_ref()))
            .filter(|(k, _)| keep(k));
        Payment::from_view(view, &mut meta)
    }

    fn from_view(
        i: PaymentInput<&str>,
        metadata: &mut dyn Iterator<Item = (&str, &str)>,
    ) -> Result<Payment, Vec<Issue>> {
        let mut out = Issues::default();
        let root = Pointer::root();
        let amount = match i.amount {
            None => {
                out.error(
                    &root.key("amount"),
                    "missing_key",
                    "a payment needs an amount",
                );
                None
            }
            Some(a) => match MinorUnits::from_amount(a) {
                Ok(m) => Some(m),
                Err(problem) => {
                    out.error(&root.key("amount"), "invalid_value", problem);
                    None
                }
            },
        };
        let currency = match i.currency {
            None => {
                out.error(
                    &root.key("currency"),
                    "missing_key",
                    "a payment needs a currency",
                );
                None
            }
            Some(c) => {
                let cur = Currency::parse(c);
                if cur.is_none() {
                    out.error(
                        &root.key("currency"),
                        "invalid_value",
                        "currency is not an ISO 4217 currency code",
                    );
                }
                cur
            }
        };
        let mut p = Payment {
            amount: amount.unwrap_or(MinorUnits(0)),
            currency: currency.unwrap_or(Currency::NONE),
            brand: None,
            bin: None,
            card_country: None,
            funding: None,
            issuer: None,
            billing_country: None,
            capture_method: None,
            off_session: i.off_session,
            three_d_secure: i.three_d_secure,
            metadata: BTreeMap::new(),
            routing_key: None,
        };
        // Inserted one by one, not collected: `collect` would sort first,
        // and the sort's code is kilobytes of the JS binding's wasm. Either
        // way a repeated key keeps its last value.
        for (k, v) in metadata {
            p.metadata.insert(k.to_owned(), v.to_owned());
        }
        if let Some(c) = i.card {
            // Built only for an error: the happy path allocates no pointers.
            let cp = |k: &str| Pointer(format!("/card/{k}"));
            let mut from_number: Option<(CardBin, Brand)> = None;
            if let Some(n) = c.number {
                match card::normalise_number(n) {
                    Ok(digits) => {
                        if let Some(bin) = card::bin_of(&digits) {
                            from_number = Some((bin, card::brand_of(&digits)));
                        }
                    }
                    Err(problem) => {
                        out.error(&cp("number"), "invalid_card_number", problem.describe())
                    }
                }
            }
            if let Some(b) = c.bin {
                match CardBin::parse(b) {
                    Some(bin) => match &from_number {
                        Some((nb, _)) if !nb.as_str().starts_with(bin.as_str()) => out.error(
                            &cp("bin"),
                            "invalid_value",
                            "card.bin does not match the card number",
                        ),
                        Some(_) => {}
                        None => p.bin = Some(bin),
                    },
                    None => out.error(&cp("bin"), "invalid_value", "card.bin is 6 to 8 digits"),
                }
            }
            if let Some(b) = c.brand {
                match Brand::parse(b) {
                    Some(brand) => p.brand = Some(brand),
                    None => out.error(
                        &cp("brand"),
                        "invalid_value",
                        format!(
                            "card.brand is not a card brand ({})",
                            Brand::names().collect::<Vec<_>>().join(", ")
                        ),
                    ),
                }
            }
            if let Some((bin, brand)) = from_number {
                p.bin = Some(bin);
                p.brand = p.brand.or(Some(brand));
            }
            p.card_country = country(c.country, "/card/country", &mut out);
            if let Some(f) = c.funding {
                p.funding = Funding::parse(f);
                if p.funding.is_none() {
                    out.error(
                        &cp("funding"),
                        "invalid_value",
                        "card.funding is not a funding type (credit, debit, prepaid, unknown)",
                    );
                }
            }
            p.issuer = c.issuer.map(str::to_owned);
        }
        if let Some(b) = i.billing {
            p.billing_country = country(b.country, "/billing/country", &mut out);
        }
        if let Some(m) = i.capture_method {
            p.capture_method = CaptureMethod::parse(m);
            if p.capture_method.is_none() {
                out.error(
                    &root.key("capture_method"),
                    "invalid_value",
                    "capture_method is not a capture method (automatic, manual)",
                );
            }
        }
        match i.routing_key {
            Some(k) if k.len() > MAX_ROUTING_KEY => {
                out.error(
                    &root.key("routing_key"),
                    "invalid_value",
                    format!("routing_key is at most {MAX_ROUTING_KEY} bytes"),
                );
            }
            k => p.routing_key = k.map(str::to_owned),
        }
        if out.errors.is_empty() && amount.is_some() && currency.is_some() {
            Ok(p)
        } else {
            Err(out.errors)
        }
    }

    pub fn routing_key(&self) -> Option<&str> {
        self.routing_key.as_deref()
    }

    /// The payment's value for a field, or `None` when it does not carry it.
    pub(crate) fn fact(&self, f: &FieldRef) -> Option<Fact<'_>> {
        Some(match f.kind {
            FieldKind::Amount => Fact::Int(self.amount.0),
            FieldKind::Currency => Fact::Code(self.currency.code()),
            FieldKind::CardBrand => Fact::Code(self.brand?.code()),
            FieldKind::CardBin => Fact::Str(self.bin.as_ref()?.as_str()),
            FieldKind::CardCountry => Fact::Code(self.card_country?.code()),
            FieldKind::CardFunding => Fact::Code(self.funding?.code()),
            FieldKind::CardIssuer => Fact::Str(self.issuer.as_deref()?),
            FieldKind::BillingCountry => Fact::Code(self.billing_country?.code()),
            FieldKind::CaptureMethod => Fact::Code(self.capture_method?.code()),
            FieldKind::OffSession => Fact::Bool(self.off_session?),
            FieldKind::ThreeDSecure => Fact::Bool(self.three_d_secure?),
            FieldKind::Metadata => Fact::Str(self.metadata.get(f.key.as_deref()?)?.as_str()),
        })
    }

    /// The payment's value for a field as JSON, for traces.
    pub(crate) fn fact_json(&self, f: &FieldRef) -> Value {
        let s = |x: &str| Value::String(x.to_owned());
        match f.kind {
            FieldKind::Amount => Value::from(self.amount.0),
            FieldKind::Currency => s(self.currency.as_str()),
            FieldKind::CardBrand => self.brand.map_or(Value::Null, |b| s(b.as_str())),
            FieldKind::CardBin => self.bin.as_ref().map_or(Value::Null, |b| s(b.as_str())),
            FieldKind::CardCountry => self
                .card_country
                .as_ref()
                .map_or(Value::Null, |c| s(c.as_str())),
            FieldKind::CardFunding => self.funding.map_or(Value::Null, |x| s(x.as_str())),
            FieldKind::CardIssuer => self.issuer.as_deref().map_or(Value::Null, s),
            FieldKind::BillingCountry => self
                .billing_country
                .as_ref()
                .map_or(Value::Null, |c| s(c.as_str())),
            FieldKind::CaptureMethod => self.capture_method.map_or(Value::Null, |x| s(x.as_str())),
            FieldKind::OffSession => self.off_session.map_or(Value::Null, Value::Bool),
            FieldKind::ThreeDSecure => self.three_d_secure.map_or(Value::Null, Value::Bool),
            FieldKind::Metadata => f
                .key
                .as_deref()
                .and_then(|k| self.metadata.get(k))
                .map_or(Value::Null, |v| s(v)),
        }
    }
}

fn country(v: Option<&str>, at: &str, out: &mut Issues) -> Option<Country> {
    let s = v?;
    let c = Country::parse(s);
    if c.is_none() {
        let at = &Pointer(at.to_owned());
        out.error(
            at,
            "invalid_value",
            format!(
                "{} is not an ISO 3166-1 alpha-2 country code",
                display_path(at)
            ),
        );
    }
    c
}

/// A bounded echo of a key name in a message (values are never echoed).
fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

const PAYMENT_KEYS: &[&str] = &[
    "amount",
    "currency",
    "card",
    "billing",
    "capture_method",
    "off_session",
    "three_d_secure",
    "metadata",
    "routing_key",
];
const CARD_KEYS: &[&str] = &["number", "bin", "brand", "country", "funding", "issuer"];

/// Reads a payment from JSON, reporting every problem with its path. Values
/// are never echoed: a misplaced card number must not come back in an error.
fn read_input(v: &Value) -> Result<PaymentInput, Vec<Issue>> {
    let mut out = Issues::default();
    let root = Pointer::root();
    let Some(obj) = v.as_object() else {
        out.error(
            &root,
            "wrong_type",
            "a payment must be a JSON object (rules.md, Payment input)",
        );
        return Err(out.errors);
    };
    let mut input = PaymentInput::default();
    for (k, v) in obj {
        let at = root.key(k);
        match k.as_str() {
            "amount" => match v.as_f64() {
                Some(a) => input.amount = Some(a),
                None => out.error(&at, "wrong_type", "amount must be an integer (minor units)"),
            },
            "currency" => input.currency = string(v, &at, &mut out),
            "capture_method" => input.capture_method = string(v, &at, &mut out),
            "routing_key" => input.routing_key = string(v, &at, &mut out),
            "off_session" | "three_d_secure" => {
                let b = match v {
                    Value::Bool(b) => Some(*b),
                    _ => {
                        out.error(&at, "wrong_type", format!("{k} must be true or false"));
                        None
                    }
                };
                if k == "off_session" {
                    input.off_session = b;
                } else {
                    input.three_d_secure = b;
                }
            }
            "card" => {
                let Some(card) = v.as_object() else {
                    out.error(&at, "wrong_type", "card must be an object");
                    continue;
                };
                let mut c = CardInput::default();
                for (ck, cv) in card {
                    let cat = at.key(ck);
                    let slot = match ck.as_str() {
                        "number" => &mut c.number,
                        "bin" => &mut c.bin,
                        "brand" => &mut c.brand,
                        "country" => &mut c.country,
                        "funding" => &mut c.funding,
                        "issuer" => &mut c.issuer,
                        _ => {
                            let hint = did_you_mean(ck, CARD_KEYS.iter().copied());
                            out.error(
                                &cat,
                                "unknown_key",
                                format!("unknown key \"{}\" in card{hint}", clip(ck)),
                            );
                            continue;
                        }
                    };
                    *slot = string(cv, &cat, &mut out);
                }
                input.card = Some(c);
            }
            "billing" => {
                let Some(b) = v.as_object() else {
                    out.error(&at, "wrong_type", "billing must be an object");
                    continue;
                };
                let mut bi = BillingInput::default();
                for (bk, bv) in b {
                    if bk == "country" {
                        bi.country = string(bv, &at.key(bk), &mut out);
                    } else {
                        let hint = did_you_mean(bk, ["country"]);
                        out.error(
                            &at.key(bk),
                            "unknown_key",
                            format!("unknown key \"{}\" in billing{hint}", clip(bk)),
                        );
                    }
                }
                input.billing = Some(bi);
            }
            "metadata" => {
                let Some(m) = v.as_object() else {
                    out.error(&at, "wrong_type", "metadata must be an object of strings");
                    continue;
                };
                let mut map = BTreeMap::new();
                for (mk, mv) in m {
                    if let Some(s) = string(mv, &at.key(mk), &mut out) {
                        map.insert(mk.clone(), s);
                    }
                }
                input.metadata = Some(map);
            }
            _ => {
                let hint = did_you_mean(k, PAYMENT_KEYS.iter().copied());
                out.error(
                    &at,
                    "unknown_key",
                    format!("unknown key \"{}\" in the payment{hint}", clip(k)),
                );
            }
        }
    }
    if out.errors.is_empty() {
        return Ok(input);
    }
    // Add what the well-typed part still gets wrong (a missing amount, ...).
    if let Err(more) = Payment::from_input(input) {
        for m in more {
            if !out.errors.iter().any(|e| e.path == m.path) {
                out.errors.push(m);
            }
        }
    }
    Err(out.errors)
}

fn string(v: &Value, at: &Pointer, out: &mut Issues) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        _ => {
            out.error(
                at,
                "wrong_type",
                format!("{} must be a string", display_path(at)),
            );
            None
        }
    }
}

fn display_path(p: &Pointer) -> String {
    let s = p.as_str().trim_start_matches('/').replace('/', ".");
    if s.is_empty() {
        "the payment".to_owned()
    } else {
        s
    }
}
