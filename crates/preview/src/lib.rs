//! The wasm-bindgen binding of the Switchyard engine (js.md).
//!
//! A few lines per export: convert JavaScript values in, call
//! `switchyard_rules`, convert the answer out. Expected failures become a
//! `SwitchyardError` (or, for `validate`, data); nothing here panics on input.

use serde::Serialize;
use switchyard_rules as rules;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/error.js")]
extern "C" {
    #[wasm_bindgen(js_name = makeError)]
    fn make_error(message: &str, issues: JsValue) -> JsValue;
    #[wasm_bindgen(js_name = toJsonText)]
    fn to_json_text(value: &JsValue) -> Option<String>;
}

#[wasm_bindgen(module = "/js/columns.js")]
extern "C" {
    /// Payments as columns (js/columns.js).
    type Columns;
    #[wasm_bindgen(js_name = paymentColumns)]
    fn payment_columns(payments: &JsValue, meta_keys: &js_sys::Array) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn n(this: &Columns) -> u32;
    #[wasm_bindgen(method, getter)]
    fn amount(this: &Columns) -> Vec<f64>;
    #[wasm_bindgen(method, getter)]
    fn flagged(this: &Columns) -> Vec<u8>;
    #[wasm_bindgen(method, getter, js_name = offSession)]
    fn off_session(this: &Columns) -> Vec<i8>;
    #[wasm_bindgen(method, getter, js_name = threeDSecure)]
    fn three_d_secure(this: &Columns) -> Vec<i8>;
    #[wasm_bindgen(method)]
    fn kind(this: &Columns, k: u32) -> u32;
    #[wasm_bindgen(method)]
    fn text(this: &Columns, k: u32) -> Vec<u8>;
    #[wasm_bindgen(method)]
    fn lens(this: &Columns, k: u32) -> Vec<u32>;
    #[wasm_bindgen(method)]
    fn ids(this: &Columns, k: u32) -> Vec<u32>;
    #[wasm_bindgen(js_name = elementJson)]
    fn element_json(payments: &JsValue, i: u32) -> Option<String>;
}

/// One text column as it crossed from JavaScript.
struct ColumnData {
    kind: u32,
    text: String,
    lens: Vec<u32>,
    ids: Vec<u32>,
}

impl ColumnData {
    fn read(c: &Columns, k: u32) -> Option<ColumnData> {
        let kind = c.kind(k);
        Some(ColumnData {
            kind,
            text: if kind == 0 {
                String::new()
            } else {
                String::from_utf8(c.text(k)).ok()?
            },
            lens: if kind == 0 { Vec::new() } else { c.lens(k) },
            ids: if kind == 2 { c.ids(k) } else { Vec::new() },
        })
    }

    fn column(&self) -> Option<rules::TextColumn<'_>> {
        match self.kind {
            1 => rules::TextColumn::joined(&self.text, &self.lens),
            2 => rules::TextColumn::interned(&self.ids, &self.text, &self.lens),
            _ => Some(rules::TextColumn::absent()),
        }
    }
}

/// Simulates an array of payments handed over as columns; `None` when only
/// the JSON text of the whole array gives the answer.
fn simulate_columns(
    router: &rules::Router,
    payments: &JsValue,
    rates: &rules::Rates,
) -> Option<Result<rules::Simulation, Vec<rules::Issue>>> {
    // About 100 bytes of wasm memory a payment: past this many, the JSON
    // path (which refuses a list too long to be one JSON text) answers.
    const MAX_ROWS: u32 = 8_000_000;
    if payments.unchecked_ref::<js_sys::Array>().length() > MAX_ROWS {
        return None;
    }
    let keys: js_sys::Array = router.metadata_keys().map(JsValue::from_str).collect();
    let cols = payment_columns(payments, &keys);
    if cols.is_undefined() {
        return None;
    }
    let cols: Columns = cols.unchecked_into();
    let n = cols.n() as usize;
    let (amount, flagged) = (cols.amount(), cols.flagged());
    let (off_session, three_d_secure) = (cols.off_session(), cols.three_d_secure());
    let data: Vec<ColumnData> = (0..10 + keys.length())
        .map(|k| ColumnData::read(&cols, k))
        .collect::<Option<_>>()?;
    let mut text = data
        .iter()
        .map(ColumnData::column)
        .collect::<Option<Vec<_>>>()?
        .into_iter();
    let mut next = || text.next().unwrap_or_default();
    let columns = rules::PaymentColumns {
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
        off_session: &off_session,
        three_d_secure: &three_d_secure,
        metadata: router.metadata_keys().map(|k| (k, next())).collect(),
    };
    match rules::simulate_columns(router, n, &columns, rates, |i| {
        element_json(payments, u32::try_from(i).ok()?)
    }) {
        Ok(sim) => Some(Ok(sim)),
        Err(rules::ColumnsError::Invalid { issues, .. }) => Some(Err(issues)),
        Err(rules::ColumnsError::NeedsJson) => None,
    }
}

#[wasm_bindgen]
extern "C" {
    /// `Options` of js.md, optional in TypeScript.
    #[wasm_bindgen(typescript_type = "Options")]
    #[derive(Clone, Debug)]
    pub type OptionsArg;
    /// `{ trace?: boolean, rates?: Rates }`, optional in TypeScript.
    #[wasm_bindgen(typescript_type = "RouteOptions")]
    #[derive(Clone, Debug)]
    pub type RouteOptionsArg;
    /// `{ rates?: Rates }`, optional in TypeScript.
    #[wasm_bindgen(typescript_type = "SimulateOptions")]
    #[derive(Clone, Debug)]
    pub type SimulateOptionsArg;
    /// `Rates`, or `null` / `undefined` for none.
    #[wasm_bindgen(typescript_type = "Rates | null | undefined")]
    #[derive(Clone, Debug)]
    pub type RatesArg;
}

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = r#"
/** A problem in a rule set or payment (docs/rules.md, Validation). */
export interface Issue { path: string; code: string; message: string; }
export interface ValidationResult { ok: boolean; errors: Issue[]; warnings: Issue[]; }
/**
 * A processor's recent attempts and authorizations in one group of payments
 * (docs/rules.md, Routing by authorization rate). brand and funding are
 * engine keywords ("visa", "credit") or "unknown"; country is ISO 3166-1
 * alpha-2 or "unknown". Leaving one out counts the entry in the coarser
 * groups only.
 */
export interface Rate {
  processor: string; brand?: string | null; country?: string | null; funding?: string | null;
  attempts: number; authorized: number;
}
/** The rates `auth_rate` reads: an array of Rate, or its JSON text. */
export type Rates = Rate[] | string;
/** processors: the ids the rule set may name; rates: bound to a Router, or given to preview. */
export interface Options { processors?: string[]; rates?: Rates | null; }
/** rates, when given, replace the router's own for this call. */
export interface RouteOptions { trace?: boolean; rates?: Rates | null; }
/** rates, when given, replace the router's own for this simulation. */
export interface SimulateOptions { rates?: Rates | null; }
/** A rule set (docs/rules.md), as an object or JSON text. */
export type RuleSet = { name?: string; rules?: unknown[]; default: unknown } | string;
export interface Payment {
  amount: number; currency: string;
  card?: { number?: string; bin?: string; brand?: string; country?: string; funding?: string; issuer?: string };
  billing?: { country?: string };
  capture_method?: 'automatic' | 'manual'; off_session?: boolean; three_d_secure?: boolean;
  metadata?: Record<string, string>; routing_key?: string;
}
export interface TraceFailure { path: string; field?: string; op: string; value?: unknown; actual?: unknown; }
export interface TraceEntry {
  rule_index: number | null; rule: string | null; matched: boolean;
  default?: boolean; disabled?: boolean; failed?: TraceFailure;
  /** On the entry that decided, when a split picked. bucket and total_weight are BigInt past 2^53 - 1. */
  split?: { picked: string; bucket: number | bigint; total_weight: number | bigint };
  /** On the entry that decided, when an auth_rate picked. */
  auth_rate?: AuthRateInfo;
}
/** A candidate of an auth_rate, with the rate it was judged by. */
export interface AuthRateCandidate {
  processor: string;
  /** The group the rate is from; null when no group has min_sample attempts. */
  group: 'brand_country_funding' | 'brand_country' | 'brand' | 'all' | null;
  /** Sums of rate entries: BigInt past 2^53 - 1. */
  attempts: number | bigint; authorized: number | bigint; rate: number | null;
}
/** How an auth_rate picked. roll is in millionths (explored when below explore * 1,000,000). */
export interface AuthRateInfo {
  picked: string; reason: 'best_rate' | 'explored' | 'min_sample'; explored: boolean;
  explore: number; roll: number | null; min_sample: number | bigint;
  candidates: AuthRateCandidate[];
}
export interface Decision {
  action: 'route' | 'decline'; processors: string[];
  rule: string | null; rule_index: number | null;
  decline?: { code: string; message: string | null };
  trace?: TraceEntry[];
}
export interface Simulation {
  total: number; declined: number; default: number;
  by_processor: Record<string, number>; by_rule: Record<string, number>;
}
export interface FieldInfo { name: string; type: string; operators: string[]; values?: string[]; description: string; }
/** Thrown for an invalid rule set or payment; `issues` holds every problem. */
export class SwitchyardError extends Error { issues: Issue[]; }
"#;

fn to_js<T: Serialize + ?Sized>(v: &T) -> Result<JsValue, JsValue> {
    let s = serde_wasm_bindgen::Serializer::new()
        .serialize_missing_as_null(true)
        .serialize_maps_as_objects(true);
    v.serialize(&s).map_err(|e| {
        make_error(
            &format!("internal error: {e}"),
            JsValue::from(js_sys::Array::new()),
        )
    })
}

fn error(issues: &[rules::Issue]) -> JsValue {
    let message = match issues.first() {
        Some(first) if issues.len() > 1 => format!("{first} (and {} more)", issues.len() - 1),
        Some(first) => first.to_string(),
        None => "invalid input".to_owned(),
    };
    make_error(
        &message,
        to_js(issues).unwrap_or_else(|_| js_sys::Array::new().into()),
    )
}

fn issue(path: &str, code: &'static str, message: String) -> rules::Issue {
    rules::Issue {
        path: path.to_owned(),
        code,
        message,
    }
}

/// A rule set given as JSON text or as an object, as JSON text.
fn ruleset_text(v: &JsValue) -> Result<String, rules::Issue> {
    if let Some(s) = v.as_string() {
        return Ok(s);
    }
    if v.is_undefined() || v.is_null() || v.is_function() || v.is_symbol() || v.is_bigint() {
        return Err(issue(
            "",
            "wrong_type",
            "a rule set must be an object or JSON text".to_owned(),
        ));
    }
    to_json_text(v).ok_or_else(|| {
        issue(
            "",
            "invalid_json",
            "the rule set cannot be written as JSON".to_owned(),
        )
    })
}

fn options(v: &JsValue) -> Result<rules::ValidateOptions, rules::Issue> {
    if v.is_undefined() || v.is_null() {
        return Ok(rules::ValidateOptions::default());
    }
    let processors =
        js_sys::Reflect::get(v, &JsValue::from_str("processors")).unwrap_or(JsValue::UNDEFINED);
    if processors.is_undefined() || processors.is_null() {
        return Ok(rules::ValidateOptions::default());
    }
    let bad = || {
        issue(
            "/processors",
            "wrong_type",
            "options.processors must be an array of strings".to_owned(),
        )
    };
    if !js_sys::Array::is_array(&processors) {
        return Err(bad());
    }
    let list: Result<Vec<String>, _> = js_sys::Array::from(&processors)
        .iter()
        .map(|p| p.as_string().ok_or_else(bad))
        .collect();
    Ok(rules::ValidateOptions {
        processors: Some(list?),
    })
}

/// The longest JSON text of rates read (about 100 times what
/// `MAX_RATES` entries take): past it, `too_large` before any parsing.
const MAX_RATES_TEXT: u32 = 64 * 1024 * 1024;

fn rates_issue(code: &'static str, message: &str) -> Vec<rules::Issue> {
    vec![issue("/rates", code, message.to_owned())]
}

/// Rates given as an array or its JSON text: one JSON text, read strictly
/// (`Rates::from_value`, paths under `/rates`). `None` for null or
/// undefined: no rates given.
fn rates(v: &JsValue) -> Result<Option<rules::Rates>, Vec<rules::Issue>> {
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    let too_large = || rates_issue("too_large", "the rates' JSON text is larger than 64 MiB");
    let text = if let Some(s) = v.dyn_ref::<js_sys::JsString>() {
        if s.length() > MAX_RATES_TEXT {
            return Err(too_large());
        }
        String::from(s)
    } else if v.is_function() || v.is_symbol() || v.is_bigint() {
        return Err(rates_issue(
            "wrong_type",
            "rates are an array of {processor, brand, country, funding, attempts, authorized}, or its JSON text",
        ));
    } else {
        // Counted before anything is written: a long list costs nothing.
        if js_sys::Array::is_array(v) {
            let n = v.unchecked_ref::<js_sys::Array>().length();
            if usize::try_from(n).map_or(true, |n| n > rules::MAX_RATES) {
                return Err(rates_issue(
                    "too_many_rates",
                    &format!(
                        "rates hold at most {} entries; these hold {n}",
                        rules::MAX_RATES
                    ),
                ));
            }
        }
        to_json_text(v)
            .ok_or_else(|| rates_issue("invalid_json", "the rates cannot be written as JSON"))?
    };
    if text.len() > MAX_RATES_TEXT as usize {
        return Err(too_large());
    }
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| rates_issue("invalid_json", &format!("the rates are not JSON: {e}")))?;
    rules::Rates::from_value(&value, "/rates").map(Some)
}

/// `options.rates` (of `preview`, `Router`, `route`, `simulate`). Other
/// keys are not looked at here. A getter that throws is an error.
fn option_rates(options: &JsValue) -> Result<Option<rules::Rates>, JsValue> {
    if !options.is_object() {
        return Ok(None);
    }
    let v = js_sys::Reflect::get(options, &JsValue::from_str("rates")).map_err(|_| {
        error(&rates_issue(
            "wrong_type",
            "options.rates could not be read",
        ))
    })?;
    rates(&v).map_err(|e| error(&e))
}

fn compile(rule_set: &JsValue, opts: &JsValue) -> Result<rules::Router, JsValue> {
    let opts = options(opts).map_err(|i| error(&[i]))?;
    let text = ruleset_text(rule_set).map_err(|i| error(&[i]))?;
    rules::Router::from_json_str(&text, &opts).map_err(|e| error(&e))
}

/// A payment given as an object or JSON text. Objects cross as one JSON
/// text (getters that throw, cycles and BigInts become a SwitchyardError).
fn payment_facts(v: &JsValue) -> Result<rules::Payment, Vec<rules::Issue>> {
    let text = match v.as_string() {
        Some(t) => t,
        None => to_json_text(v).ok_or_else(|| {
            vec![issue(
                "",
                "wrong_type",
                "a payment must be an object or JSON text (rules.md, Payment input)".to_owned(),
            )]
        })?,
    };
    rules::Payment::from_json_str(&text)
}

fn payment(v: &JsValue) -> Result<rules::Payment, JsValue> {
    payment_facts(v).map_err(|e| error(&e))
}

thread_local! {
    /// SplitMix64's state for routing keys, seeded once from the platform's
    /// random source (0: not seeded yet).
    static KEY_STATE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// A routing key for a payment that gives none: 128 bits, hex. The keys
/// only spread previews over a split's or an auth_rate's choices (nothing
/// secret depends on them), so they come from SplitMix64 seeded once from
/// `getrandom`: a few nanoseconds, not a call to `crypto.getRandomValues`
/// per payment.
fn random_key() -> String {
    random_key_into(&mut [0u8; 32]).to_owned()
}

/// A routing key as `random_key`'s, written into `out`.
fn random_key_into(out: &mut [u8; 32]) -> &str {
    let mut x = KEY_STATE.with(std::cell::Cell::get);
    if x == 0 {
        let mut seed = [0u8; 8];
        if getrandom::fill(&mut seed).is_err() {
            return "";
        }
        x = u64::from_le_bytes(seed) | 1;
    }
    let a = rules::splitmix64(&mut x);
    let b = rules::splitmix64(&mut x);
    KEY_STATE.with(|state| state.set(x));
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, digit) in out.iter_mut().enumerate() {
        let word = if i < 16 { a } else { b };
        *digit = HEX[((word >> ((15 - i % 16) * 4)) & 15) as usize];
    }
    std::str::from_utf8(out).unwrap_or("")
}

/// Validates a rule set: every problem at once. Never throws for a bad rule set.
#[wasm_bindgen(unchecked_return_type = "ValidationResult")]
pub fn validate(
    #[wasm_bindgen(js_name = ruleSet, unchecked_param_type = "RuleSet")] rule_set: JsValue,
    options: Option<OptionsArg>,
) -> JsValue {
    let options: JsValue = options.map_or(JsValue::UNDEFINED, Into::into);
    let result = match (self::options(&options), ruleset_text(&rule_set)) {
        (Ok(opts), Ok(text)) => rules::validate_str(&text, &opts),
        (Err(i), _) | (_, Err(i)) => rules::Validation {
            ok: false,
            errors: vec![i],
            warnings: Vec::new(),
        },
    };
    to_js(&result).unwrap_or(JsValue::NULL)
}

/// The decision for one payment, with its trace. `options.rates`: the
/// authorization rates `auth_rate` reads; `options.processors` as for
/// `validate`.
#[wasm_bindgen(unchecked_return_type = "Decision")]
pub fn preview(
    #[wasm_bindgen(js_name = ruleSet, unchecked_param_type = "RuleSet")] rule_set: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Payment")] payment: JsValue,
    options: Option<OptionsArg>,
) -> Result<JsValue, JsValue> {
    let options: JsValue = options.map_or(JsValue::UNDEFINED, Into::into);
    let router = compile(&rule_set, &options)?;
    let rates = option_rates(&options)?;
    let p = self::payment(&payment)?;
    let key = p.routing_key().map_or_else(random_key, str::to_owned);
    to_js(&router.explain_with(&p, &key, rates.as_ref().unwrap_or(&rules::NO_RATES)))
}

/// A compiled rule set for repeated use.
#[wasm_bindgen(js_name = Router)]
pub struct JsRouter {
    inner: rules::Router,
    /// Bound by `options.rates` or `setRates`; empty when none.
    rates: rules::Rates,
}

#[wasm_bindgen(js_class = Router)]
impl JsRouter {
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(js_name = ruleSet, unchecked_param_type = "RuleSet")] rule_set: JsValue,
        options: Option<OptionsArg>,
    ) -> Result<JsRouter, JsValue> {
        let options: JsValue = options.map_or(JsValue::UNDEFINED, Into::into);
        let inner = compile(&rule_set, &options)?;
        let rates = option_rates(&options)?.unwrap_or_default();
        Ok(JsRouter { inner, rates })
    }

    /// Replaces the router's rates; `null` or `undefined` clears them. On
    /// bad rates it throws and keeps the ones it had.
    #[wasm_bindgen(js_name = setRates)]
    pub fn set_rates(&mut self, rates: RatesArg) -> Result<(), JsValue> {
        self.rates = self::rates(&rates)
            .map_err(|e| error(&e))?
            .unwrap_or_default();
        Ok(())
    }

    /// The decision for one payment; with `{trace: true}`, its trace too.
    /// `options.rates` replaces the router's rates for this call.
    #[wasm_bindgen(unchecked_return_type = "Decision")]
    pub fn route(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Payment")] payment: JsValue,
        options: Option<RouteOptionsArg>,
    ) -> Result<JsValue, JsValue> {
        let (trace, given) = match &options {
            None => (false, None),
            Some(o) => (
                js_sys::Reflect::get(o, &JsValue::from_str("trace")).is_ok_and(|t| t.is_truthy()),
                option_rates(o)?,
            ),
        };
        let p = self::payment(&payment)?;
        let key = p.routing_key().map_or_else(random_key, str::to_owned);
        let rates = given.as_ref().unwrap_or(&self.rates);
        let d = if trace {
            self.inner.explain_with(&p, &key, rates)
        } else {
            self.inner.decide_with(&p, &key, rates)
        };
        to_js(&d)
    }

    /// Decides every payment and counts the outcomes. A payment without a
    /// `routing_key` is keyed by its position in the list. `options.rates`
    /// replaces the router's rates for this simulation.
    #[wasm_bindgen(unchecked_return_type = "Simulation")]
    pub fn simulate(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Payment[] | string")] payments: JsValue,
        options: Option<SimulateOptionsArg>,
    ) -> Result<JsValue, JsValue> {
        let given = match &options {
            Some(o) => option_rates(o)?,
            None => None,
        };
        let rates = given.as_ref().unwrap_or(&self.rates);
        let text = if let Some(t) = payments.as_string() {
            t
        } else if let Some(result) = js_sys::Array::is_array(&payments)
            .then(|| simulate_columns(&self.inner, &payments, rates))
            .flatten()
        {
            // Columns: no JSON text of the whole list (js/columns.js).
            return result.map_err(|e| error(&e)).and_then(|s| to_js(&s));
        } else if js_sys::Array::is_array(&payments) {
            // What the columns cannot answer alone: one JSON text for the
            // whole list.
            to_json_text(&payments).ok_or_else(|| {
                error(&[issue(
                    "",
                    "wrong_type",
                    "the payments cannot be written as JSON".to_owned(),
                )])
            })?
        } else {
            return Err(error(&[issue(
                "",
                "wrong_type",
                "simulate takes an array of payments".to_owned(),
            )]));
        };
        rules::simulate_json(&self.inner, &text, rates)
            .map_err(|e| error(&e))
            .and_then(|s| to_js(&s))
    }
}

/// The field catalogue, for rule editors.
#[wasm_bindgen(unchecked_return_type = "FieldInfo[]")]
pub fn fields() -> JsValue {
    to_js(&rules::fields()).unwrap_or(JsValue::NULL)
}

/// The engine's version.
#[wasm_bindgen]
pub fn version() -> String {
    rules::VERSION.to_owned()
}

// ---------------------------------------------------------------------------
// The route call without JSON (js/route.js installs it on Router.prototype).
//
// The JS glue reads a plain payment's known fields, interns its strings
// (each string crosses once: `__intern`), and writes the string ids, the
// flags and the routing key's bytes into a scratch area of wasm memory
// (`__fastScratch`); `__routeFast` reads them from there, so that a call
// copies nothing through wasm-bindgen and allocates nothing. The decision
// comes back as one number, which the glue turns into the same Decision
// object as the JSON path. Validation is the same code
// (`Payment::from_input`); a payment it refuses, or one the glue does not
// read (a card number, an unknown key, a value of another type), goes
// through the JSON path, so errors stay word for word.

/// The fast route's state: the interned strings, the scratch area the glue
/// writes, and buffers reused from call to call.
#[derive(Default)]
struct Fast {
    /// Interned strings, by id - 1 (id 0 is "absent").
    interned: Vec<Interned>,
    /// At least `SCRATCH_WORDS` words: the header, then the metadata
    /// pairs' ids.
    scratch: Vec<u32>,
    /// The routing key's UTF-8 bytes: `MAX_ROUTING_KEY` of them.
    key: Vec<u8>,
    /// The payment's metadata (the pairs its router reads) and issuer,
    /// kept between calls so that a steady stream allocates nothing.
    metadata: std::collections::BTreeMap<String, String>,
    issuer: String,
}

thread_local! {
    static FAST: std::cell::RefCell<Fast> = std::cell::RefCell::new(Fast::default());
}

/// An interned string, with its reading as each payment field takes it
/// (`None`: that field refuses it), made once by the engine's own parsers.
struct Interned {
    text: String,
    currency: Option<rules::Currency>,
    country: Option<rules::Country>,
    bin: Option<rules::CardBin>,
    brand: Option<rules::Brand>,
    funding: Option<rules::Funding>,
    capture_method: Option<rules::CaptureMethod>,
}

impl Interned {
    fn new(text: String) -> Interned {
        Interned {
            currency: rules::Currency::parse(&text),
            country: rules::Country::parse(&text),
            bin: rules::CardBin::parse(&text),
            brand: rules::Brand::parse(&text),
            funding: rules::Funding::parse(&text),
            capture_method: rules::CaptureMethod::parse(&text),
            text,
        }
    }
}

/// Interns a string for the fast route; its id (from 1).
#[wasm_bindgen(js_name = __intern, skip_typescript)]
pub fn intern(s: String) -> u32 {
    FAST.with(|f| {
        let mut f = f.borrow_mut();
        f.interned.push(Interned::new(s));
        u32::try_from(f.interned.len()).unwrap_or(0)
    })
}

/// Forgets every interned string (the glue's table is full).
#[wasm_bindgen(js_name = __internReset, skip_typescript)]
pub fn intern_reset() {
    FAST.with(|f| f.borrow_mut().interned.clear());
}

/// The scratch area's address in wasm memory, for `words` words (at least
/// `SCRATCH_WORDS`); it moves only when a larger one is asked for.
#[wasm_bindgen(js_name = __fastScratch, skip_typescript)]
pub fn fast_scratch(words: u32) -> u32 {
    FAST.with(|f| {
        let mut f = f.borrow_mut();
        let words = (words as usize).max(SCRATCH_WORDS);
        if f.scratch.len() < words {
            f.scratch.resize(words, 0);
        }
        f.scratch.as_ptr() as u32
    })
}

/// The routing key area's address in wasm memory (`MAX_ROUTING_KEY` bytes).
#[wasm_bindgen(js_name = __fastKey, skip_typescript)]
pub fn fast_key() -> u32 {
    FAST.with(|f| {
        let mut f = f.borrow_mut();
        if f.key.len() < rules::MAX_ROUTING_KEY {
            f.key.resize(rules::MAX_ROUTING_KEY, 0);
        }
        f.key.as_ptr() as u32
    })
}

/// The wasm memory, for the glue's views of the scratch area.
#[wasm_bindgen(js_name = __memory, skip_typescript)]
pub fn memory() -> JsValue {
    wasm_bindgen::memory()
}

/// Flags of the fast route's header (js/route.js writes them).
const F_AMOUNT: u32 = 1;
const F_CARD: u32 = 2;
const F_BILLING: u32 = 4;
const F_OFF_SESSION: u32 = 8;
const F_OFF_SESSION_TRUE: u32 = 16;
const F_3DS: u32 = 32;
const F_3DS_TRUE: u32 = 64;
const F_METADATA: u32 = 128;
/// Header: flags, currency, bin, brand, country, funding, issuer, billing
/// country, capture method (string ids, 0 for absent).
const HEADER: usize = 9;
/// The metadata pairs' ids follow the header; the glue asks for more room
/// when a payment has more pairs than this many words hold.
const SCRATCH_WORDS: usize = HEADER + 64;

/// An interned string by its id.
fn interned(table: &[Interned], id: u32) -> Option<&Interned> {
    let i = usize::try_from(id).ok()?.checked_sub(1)?;
    table.get(i)
}

/// A payment field's reading of the string `id`: `Some(None)` when the
/// payment leaves the field out (its object is absent, or id 0), `None` when
/// the field refuses the string or the id is stale.
fn reading<T>(
    table: &[Interned],
    present: bool,
    id: u32,
    of: impl Fn(&Interned) -> Option<T>,
) -> Option<Option<T>> {
    if !present || id == 0 {
        return Some(None);
    }
    of(interned(table, id)?).map(Some)
}

#[wasm_bindgen(js_class = Router)]
impl JsRouter {
    /// The fast route (js/route.js): the payment read from the scratch
    /// area, `pairs` metadata pairs and a routing key of `key_len` bytes
    /// (-1: none). The decision as one number, `(rule + 1 or 0) * 65536 +
    /// (the split's or auth_rate's pick, or 65535)`, which `__decisionAt`
    /// turns into the Decision; -1 when the payment must go through the JSON
    /// path.
    #[wasm_bindgen(js_name = __routeFast, skip_typescript)]
    pub fn route_fast(&self, amount: f64, pairs: u32, key_len: i32) -> f64 {
        FAST.with(|f| {
            let Ok(mut f) = f.try_borrow_mut() else {
                return -1.0;
            };
            let f = &mut *f;
            self.route_scratch(f, amount, pairs as usize, key_len)
                .unwrap_or(-1.0)
        })
    }
}

impl JsRouter {
    fn route_scratch(&self, f: &mut Fast, amount: f64, pairs: usize, key_len: i32) -> Option<f64> {
        let Fast {
            interned: table,
            scratch,
            key: key_bytes,
            metadata: kept_metadata,
            issuer: kept_issuer,
        } = f;
        let words = scratch.get(..HEADER + 2 * pairs)?;
        let flags = words[0];
        let has = |x: u32| flags & x != 0;
        // The payment as `Payment::from_input` builds it, from the
        // readings of its strings (the engine's parsers, run once per
        // string); anything the engine refuses goes the JSON way, whose
        // errors are word for word the binding's.
        let card = has(F_CARD);
        let mut p = rules::Payment {
            amount: rules::MinorUnits::from_amount(has(F_AMOUNT).then_some(amount)?).ok()?,
            currency: reading(table, true, words[1], |x| x.currency)??,
            bin: reading(table, card, words[2], |x| x.bin)?,
            brand: reading(table, card, words[3], |x| x.brand)?,
            card_country: reading(table, card, words[4], |x| x.country)?,
            funding: reading(table, card, words[5], |x| x.funding)?,
            issuer: None,
            billing_country: reading(table, has(F_BILLING), words[7], |x| x.country)?,
            capture_method: reading(table, true, words[8], |x| x.capture_method)?,
            off_session: has(F_OFF_SESSION).then_some(has(F_OFF_SESSION_TRUE)),
            three_d_secure: has(F_3DS).then_some(has(F_3DS_TRUE)),
            metadata: std::collections::BTreeMap::new(),
            routing_key: None,
        };
        let issuer = match words[6] {
            id if card && id != 0 => Some(interned(table, id)?.text.as_str()),
            _ => None,
        };
        let meta = &words[HEADER..];
        let pair = |k: usize| {
            Some((
                interned(table, meta[2 * k])?.text.as_str(),
                interned(table, meta[2 * k + 1])?.text.as_str(),
            ))
        };
        if (0..pairs).any(|k| pair(k).is_none()) {
            return None;
        }
        // The metadata as this payment has it, keeping the strings of the
        // keys the last payment also had: a steady stream allocates nothing.
        let mut metadata = std::mem::take(kept_metadata);
        let same_keys = has(F_METADATA)
            && metadata.len() == pairs
            && (0..pairs)
                .filter_map(pair)
                .all(|(k, _)| metadata.contains_key(k));
        if !same_keys {
            metadata.clear();
        }
        if has(F_METADATA) {
            for (k, v) in (0..pairs).filter_map(pair) {
                match metadata.get_mut(k) {
                    Some(slot) => {
                        slot.clear();
                        slot.push_str(v);
                    }
                    None => {
                        metadata.insert(k.to_owned(), v.to_owned());
                    }
                }
            }
        }
        p.metadata = metadata;
        if let Some(i) = issuer {
            let mut b = std::mem::take(kept_issuer);
            b.clear();
            b.push_str(i);
            p.issuer = Some(b);
        }
        // The routing key's bytes, as the glue wrote them (UTF-8).
        let mut random = [0u8; 32];
        let key = match usize::try_from(key_len) {
            Ok(n) => key_bytes.get(..n).and_then(|b| std::str::from_utf8(b).ok()),
            Err(_) => Some(random_key_into(&mut random)),
        };
        let code = key.map(|key| {
            let v = self.inner.select_with(&p, key, &self.rates);
            let rule = v.rule_index().map_or(0.0, |i| i as f64 + 1.0);
            let pick = v.pick_index().filter(|p| *p < 65_535).unwrap_or(65_535);
            rule * 65_536.0 + pick as f64
        });
        *kept_metadata = std::mem::take(&mut p.metadata);
        if let Some(b) = p.issuer.take() {
            *kept_issuer = b;
        }
        code
    }
}

#[wasm_bindgen(js_class = Router)]
impl JsRouter {
    /// The metadata keys this router's rules read: the glue interns only
    /// their values (a payment's other metadata cannot change its decision).
    #[wasm_bindgen(js_name = __metadataKeys, skip_typescript)]
    pub fn metadata_keys(&self) -> js_sys::Array {
        self.inner.metadata_keys().map(JsValue::from_str).collect()
    }

    /// The Decision a fast route's number stands for (js/route.js caches
    /// it per router and number).
    #[wasm_bindgen(js_name = __decisionAt, skip_typescript)]
    pub fn decision_at(&self, code: f64) -> Result<JsValue, JsValue> {
        let rule = (code / 65_536.0).floor();
        let pick = code - rule * 65_536.0;
        let rule = (rule >= 1.0).then(|| rule as usize - 1);
        let pick = (pick < 65_535.0).then_some(pick as usize);
        match self.inner.decision_at(rule, pick) {
            Some(d) => to_js(&d),
            None => Ok(JsValue::NULL),
        }
    }
}
