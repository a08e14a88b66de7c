//! The payment as the engine sees it: validated facts, never a card number.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::ast::{FieldKind, FieldRef};
use crate::card;
use crate::issue::{Issue, Issues, Pointer};
use crate::values::{Brand, CaptureMethod, CardBin, Country, Currency, Funding, MinorUnits};

/// The payment input of rules.md, as it arrives (JSON or a JS object).
/// Strict: unknown keys are refused.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentInput {
    #[serde(default)]
    pub amount: Option<f64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub card: Option<CardInput>,
    #[serde(default)]
    pub billing: Option<BillingInput>,
    #[serde(default)]
    pub capture_method: Option<String>,
    #[serde(default)]
    pub off_session: Option<bool>,
    #[serde(default)]
    pub three_d_secure: Option<bool>,
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub routing_key: Option<String>,
}

/// Card facts of a payment input. `number` is read once to derive the BIN
/// and brand and is then dropped; `Debug` never prints it.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardInput {
    #[serde(default)]
    pub number: Option<String>,
    #[serde(default)]
    pub bin: Option<String>,
    #[serde(default)]
    pub brand: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub funding: Option<String>,
    #[serde(default)]
    pub issuer: Option<String>,
}

impl std::fmt::Debug for CardInput {
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
#[serde(deny_unknown_fields)]
pub struct BillingInput {
    #[serde(default)]
    pub country: Option<String>,
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

const MAX_ROUTING_KEY: usize = 1024;

impl Payment {
    /// Reads a payment from JSON (rules.md, Payment input).
    pub fn from_value(v: &Value) -> Result<Payment, Vec<Issue>> {
        let input = read_input(v)?;
        Payment::from_input(input)
    }

    /// Reads a payment from JSON text.
    pub fn from_json_str(s: &str) -> Result<Payment, Vec<Issue>> {
        let mut de = serde_json::Deserializer::from_str(s);
        let input = from_deserializer(&mut de)?;
        Payment::from_input(input)
    }

    /// Validates a wire payment; every problem at once.
    pub fn from_input(i: PaymentInput) -> Result<Payment, Vec<Issue>> {
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
            Some(a) if a.fract() != 0.0 || !a.is_finite() => {
                out.error(
                    &root.key("amount"),
                    "invalid_value",
                    "amount is a whole number of minor units (cents)",
                );
                None
            }
            Some(a) if a < 1.0 => {
                out.error(
                    &root.key("amount"),
                    "invalid_value",
                    "a payment's amount is positive",
                );
                None
            }
            Some(a) if a > MinorUnits::MAX as f64 => {
                out.error(
                    &root.key("amount"),
                    "invalid_value",
                    format!("amount is at most {}", MinorUnits::MAX),
                );
                None
            }
            Some(a) => Some(MinorUnits(a as u64)),
        };
        let currency = match i.currency.as_deref() {
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
            metadata: i.metadata.unwrap_or_default(),
            routing_key: None,
        };
        if let Some(c) = i.card {
            let cp = root.key("card");
            let mut from_number: Option<(CardBin, Brand)> = None;
            if let Some(n) = c.number.as_deref() {
                match card::normalise_number(n) {
                    Ok(digits) => {
                        if let Some(bin) = card::bin_of(&digits) {
                            from_number = Some((bin, card::brand_of(&digits)));
                        }
                    }
                    Err(problem) => {
                        out.error(&cp.key("number"), "invalid_card_number", problem.describe())
                    }
                }
            }
            if let Some(b) = c.bin.as_deref() {
                match CardBin::parse(b) {
                    Some(bin) => match &from_number {
                        Some((nb, _)) if !nb.as_str().starts_with(bin.as_str()) => out.error(
                            &cp.key("bin"),
                            "invalid_value",
                            "card.bin does not match the card number",
                        ),
                        Some(_) => {}
                        None => p.bin = Some(bin),
                    },
                    None => out.error(&cp.key("bin"), "invalid_value", "card.bin is 6 to 8 digits"),
                }
            }
            if let Some(b) = c.brand.as_deref() {
                match Brand::parse(b) {
                    Some(brand) => p.brand = Some(brand),
                    None => out.error(
                        &cp.key("brand"),
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
            p.card_country = country(c.country.as_deref(), &cp.key("country"), &mut out);
            if let Some(f) = c.funding.as_deref() {
                p.funding = Funding::parse(f);
                if p.funding.is_none() {
                    out.error(
                        &cp.key("funding"),
                        "invalid_value",
                        "card.funding is not a funding type (credit, debit, prepaid, unknown)",
                    );
                }
            }
            p.issuer = c.issuer;
        }
        if let Some(b) = i.billing {
            p.billing_country = country(
                b.country.as_deref(),
                &root.key("billing").key("country"),
                &mut out,
            );
        }
        if let Some(m) = i.capture_method.as_deref() {
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
            k => p.routing_key = k,
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

fn country(v: Option<&str>, at: &Pointer, out: &mut Issues) -> Option<Country> {
    let s = v?;
    let c = Country::parse(s);
    if c.is_none() {
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

/// Deserialises a payment input from any serde deserializer (JSON, or a JS
/// value through serde-wasm-bindgen) with the path of the first problem.
/// Messages never echo input values: a misplaced card number must not come
/// back in an error.
pub fn from_deserializer<'de, D>(de: D) -> Result<PaymentInput, Vec<Issue>>
where
    D: serde::Deserializer<'de>,
{
    serde_path_to_error::deserialize(de).map_err(|e| {
        let mut path = Pointer::root();
        for seg in e.path().iter() {
            path = match seg {
                serde_path_to_error::Segment::Seq { index } => path.idx(*index),
                serde_path_to_error::Segment::Map { key }
                | serde_path_to_error::Segment::Enum { variant: key } => path.key(key),
                _ => path,
            };
        }
        let msg = e.inner().to_string();
        let issue = if let Some(rest) = msg.strip_prefix("unknown field `") {
            let key = rest.split('`').next().unwrap_or("");
            let unknown = path.key(key);
            Issue {
                path: unknown.as_str().to_owned(),
                code: "unknown_key",
                message: format!("unknown key \"{}\" in the payment", clip(key)),
            }
        } else if let Some(pos) = msg.find(", expected ") {
            let expected = msg[pos + ", expected ".len()..]
                .split(" at line")
                .next()
                .unwrap_or("");
            let expected = if expected == "f64" {
                "a number"
            } else {
                expected
            };
            Issue {
                path: path.as_str().to_owned(),
                code: "wrong_type",
                message: format!("{} must be {}", display_path(&path), expected),
            }
        } else {
            Issue {
                path: path.as_str().to_owned(),
                code: "wrong_type",
                message: "a payment must be a JSON object (rules.md, Payment input)".to_owned(),
            }
        };
        vec![issue]
    })
}

fn display_path(p: &Pointer) -> String {
    let s = p.as_str().trim_start_matches('/').replace('/', ".");
    if s.is_empty() {
        "the payment".to_owned()
    } else {
        s
    }
}

fn read_input(v: &Value) -> Result<PaymentInput, Vec<Issue>> {
    from_deserializer(v)
}
