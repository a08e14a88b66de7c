//! Parameters of the payments API, read from the parsed body (form or JSON)
//! into typed values, with Stripe's error codes and `param` names. Pure.

use std::collections::BTreeMap;

use serde_json::Value;
use switchyard_processors::card::Card;
use switchyard_processors::payment::CaptureMethod;
use switchyard_processors::sandbox::{self, ControlsUpdate};

use switchyard_processors::extras::{
    Address, AutomaticPaymentMethods, BillingDetails, Extras, Update, View,
};

use crate::error::ApiError;
use crate::form::{only_keys, param_bool, param_metadata, param_object, param_str, param_u64};
use crate::money;

/// A card given with the request (raw data or a test payment method).
#[derive(Debug)]
pub struct CardGiven {
    pub payment_method: String,
    pub card: Card,
    /// `payment_method_data[billing_details]`.
    pub billing: Option<BillingDetails>,
}

#[derive(Debug)]
pub struct CreateParams {
    pub amount: u64,
    pub currency: String,
    pub capture_method: CaptureMethod,
    pub confirm: bool,
    pub metadata: BTreeMap<String, String>,
    pub description: Option<String>,
    pub card: Option<CardGiven>,
    /// Stripe's everyday fields (customer, receipt_email, ...).
    pub extras: Extras,
    /// How the answer shows the payment (`expand[]`).
    pub view: View,
}

pub fn currency(v: &Value) -> Result<String, ApiError> {
    let c = param_str(v, "currency")?.ok_or_else(|| ApiError::missing("currency"))?;
    money::currency("currency", &c)
}

/// `expand[]`: the fields to expand, each among `expandable` (any other is
/// refused by name: nothing is silently left unexpanded).
pub fn expand(v: &Value, expandable: &[&str]) -> Result<Vec<String>, ApiError> {
    match v.get("expand") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|x| match x.as_str() {
                Some(f) if expandable.contains(&f) => Ok(f.to_owned()),
                other => Err(ApiError::invalid(
                    "expand",
                    "parameter_invalid",
                    format!(
                        "expand[]={} is not supported here; {}.",
                        other.unwrap_or("?").chars().take(64).collect::<String>(),
                        if expandable.is_empty() {
                            "nothing can be expanded on this call".to_owned()
                        } else {
                            format!("expandable: {}", expandable.join(", "))
                        }
                    ),
                )),
            })
            .collect(),
        Some(_) => Err(ApiError::invalid(
            "expand",
            "parameter_invalid",
            "expand is a list: expand[]=…",
        )),
    }
}

/// What a PaymentIntent's `expand[]` may name.
pub const PI_EXPANDABLE: &[&str] = &["latest_charge"];

/// The view `expand[]` asks for.
pub fn pi_view(v: &Value) -> Result<View, ApiError> {
    let e = expand(v, PI_EXPANDABLE)?;
    Ok(View {
        expand_charge: !e.is_empty(),
        client: false,
    })
}

/// A text parameter of at most `max` characters; `""` is `Some(None)`
/// (unset, on an update).
fn text(v: &Value, name: &str, max: usize) -> Result<Option<Option<String>>, ApiError> {
    match param_str(v, name)? {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(Some(None)),
        Some(s) if s.chars().count() > max => Err(ApiError::invalid(
            name,
            "parameter_invalid",
            format!("{name} can be at most {max} characters long."),
        )),
        Some(s) => Ok(Some(Some(s))),
    }
}

/// A statement descriptor as Stripe checks it: at most 22 characters, at
/// least one letter, none of `< > \ ' " *` (and 5 at least for the full
/// descriptor).
fn descriptor(v: &Value, name: &str, min: usize) -> Result<Option<Option<String>>, ApiError> {
    let t = text(v, name, 22)?;
    if let Some(Some(s)) = &t {
        let bad = s.chars().any(|c| "<>\\'\"*".contains(c) || c.is_control());
        if bad || s.chars().count() < min || !s.chars().any(char::is_alphabetic) {
            return Err(ApiError::invalid(
                name,
                "parameter_invalid",
                format!("{name} must be {min} to 22 characters with at least one letter, and none of < > \\ ' \" *."),
            ));
        }
    }
    Ok(t)
}

fn receipt_email(v: &Value) -> Result<Option<Option<String>>, ApiError> {
    let t = text(v, "receipt_email", 800)?;
    if let Some(Some(s)) = &t {
        let ok = s.split_once('@').is_some_and(|(user, host)| {
            !user.is_empty() && host.contains('.') && !host.starts_with('.') && !host.ends_with('.')
        }) && !s.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
            return Err(ApiError::invalid(
                "receipt_email",
                "email_invalid",
                "Invalid email address.",
            ));
        }
    }
    Ok(t)
}

fn setup_future_usage(v: &Value) -> Result<Option<Option<String>>, ApiError> {
    match text(v, "setup_future_usage", 16)? {
        Some(Some(s)) if s != "on_session" && s != "off_session" => Err(ApiError::invalid(
            "setup_future_usage",
            "parameter_invalid",
            "setup_future_usage must be on_session or off_session.",
        )),
        t => Ok(t),
    }
}

/// `automatic_payment_methods[enabled|allow_redirects]` (cards only: the
/// only payment method there is).
fn automatic_payment_methods(v: &Value) -> Result<Option<AutomaticPaymentMethods>, ApiError> {
    let Some(a) = param_object(v, "automatic_payment_methods", "automatic_payment_methods")? else {
        return Ok(None);
    };
    only_keys(
        a,
        "automatic_payment_methods",
        &["enabled", "allow_redirects"],
    )?;
    let enabled = param_bool(a, "enabled", "automatic_payment_methods[enabled]")?
        .ok_or_else(|| ApiError::missing("automatic_payment_methods[enabled]"))?;
    let allow_redirects = param_str(a, "allow_redirects")?;
    if allow_redirects
        .as_deref()
        .is_some_and(|r| r != "always" && r != "never")
    {
        return Err(ApiError::invalid(
            "automatic_payment_methods[allow_redirects]",
            "parameter_invalid",
            "automatic_payment_methods[allow_redirects] must be always or never.",
        ));
    }
    if v.get("payment_method_types").is_some_and(|t| !t.is_null()) {
        return Err(ApiError::invalid(
            "automatic_payment_methods",
            "parameter_invalid",
            "You may only specify one of these parameters: automatic_payment_methods, payment_method_types.",
        ));
    }
    Ok(Some(AutomaticPaymentMethods {
        enabled,
        allow_redirects,
    }))
}

/// `payment_method_options[card][request_three_d_secure]`: `automatic`
/// only (3-D Secure flows, `any` and `challenge`, are not supported: they
/// are refused rather than ignored).
fn request_three_d_secure(v: &Value) -> Result<Option<String>, ApiError> {
    let Some(o) = v.get("payment_method_options").filter(|o| !o.is_null()) else {
        return Ok(None);
    };
    only_keys(o, "payment_method_options", &["card"])?;
    let Some(card) = o.get("card").filter(|c| !c.is_null()) else {
        return Ok(None);
    };
    only_keys(
        card,
        "payment_method_options[card]",
        &["request_three_d_secure"],
    )?;
    match param_str(card, "request_three_d_secure")?.as_deref() {
        None => Ok(None),
        Some("automatic") => Ok(Some("automatic".to_owned())),
        Some("any" | "challenge") => Err(ApiError::invalid(
            "payment_method_options[card][request_three_d_secure]",
            "parameter_invalid",
            "Switchyard does not run 3-D Secure: request_three_d_secure can only be automatic (a payment the issuer wants authenticated is declined with authentication_required).",
        )),
        Some(_) => Err(ApiError::invalid(
            "payment_method_options[card][request_three_d_secure]",
            "parameter_invalid",
            "request_three_d_secure must be automatic.",
        )),
    }
}

/// `off_session`: a boolean, or Stripe's `one_off` / `recurring` (true).
fn off_session(v: &Value) -> Result<Option<bool>, ApiError> {
    match v.get("off_session") {
        Some(Value::String(s)) if s == "one_off" || s == "recurring" => Ok(Some(true)),
        _ => param_bool(v, "off_session", "off_session"),
    }
}

fn return_url(v: &Value) -> Result<Option<String>, ApiError> {
    match text(v, "return_url", 2048)? {
        Some(Some(u)) => {
            let ok = (u.starts_with("https://") || u.starts_with("http://"))
                && !u.chars().any(|c| c.is_whitespace() || c.is_control());
            if ok {
                Ok(Some(u))
            } else {
                Err(ApiError::invalid(
                    "return_url",
                    "url_invalid",
                    "return_url must be an http or https URL.",
                ))
            }
        }
        _ => Ok(None),
    }
}

/// The everyday fields of a create (and a confirmation's).
fn extras(v: &Value, confirm: bool) -> Result<Extras, ApiError> {
    let flat = |t: Option<Option<String>>| t.flatten();
    let off = off_session(v)?;
    if off.is_some() && !confirm {
        return Err(ApiError::invalid(
            "off_session",
            "parameter_invalid",
            "off_session can only be given when confirm=true (or with the confirmation).",
        ));
    }
    if v.get("return_url").is_some_and(|u| !u.is_null()) && !confirm {
        return Err(ApiError::invalid(
            "return_url",
            "parameter_invalid",
            "return_url can only be given when confirm=true (or with the confirmation).",
        ));
    }
    Ok(Extras {
        client_secret: None,
        customer: flat(text(v, "customer", 5000)?),
        receipt_email: flat(receipt_email(v)?),
        statement_descriptor: flat(descriptor(v, "statement_descriptor", 5)?),
        statement_descriptor_suffix: flat(descriptor(v, "statement_descriptor_suffix", 1)?),
        setup_future_usage: flat(setup_future_usage(v)?),
        off_session: off,
        automatic_payment_methods: automatic_payment_methods(v)?,
        request_three_d_secure: request_three_d_secure(v)?,
        return_url: return_url(v)?,
        created_ms: 0,
        billing: None,
    })
}

/// `payment_method` (a test payment method, test mode only) or
/// `payment_method_data[type]=card` with `[card][number|exp_month|exp_year|cvc]`.
/// `new_pm_id` names a payment method made from raw card data.
pub fn card_given(
    v: &Value,
    test_mode: bool,
    new_pm_id: &mut dyn FnMut() -> String,
) -> Result<Option<CardGiven>, ApiError> {
    let pm = param_str(v, "payment_method")?;
    let pmd = v.get("payment_method_data").filter(|x| !x.is_null());
    match (pm, pmd) {
        (Some(_), Some(_)) => Err(ApiError::invalid(
            "payment_method_data",
            "parameter_invalid",
            "Give either payment_method or payment_method_data, not both.",
        )),
        (Some(pm), None) => {
            let card = if test_mode {
                Card::from_test_payment_method(&pm)
            } else {
                None
            };
            match card {
                Some(card) => Ok(Some(CardGiven {
                    payment_method: pm,
                    card,
                    billing: None,
                })),
                // The value is not quoted: a card number pasted here must
                // not come back.
                None => Err(ApiError::invalid(
                    "payment_method",
                    "resource_missing",
                    format!(
                        "No such PaymentMethod. Card data is not stored: pass payment_method_data{}.",
                        if test_mode { ", or a test payment method such as pm_card_visa" } else { "" }
                    ),
                )),
            }
        }
        (None, Some(d)) => {
            let d = param_object(v, "payment_method_data", "payment_method_data")?.unwrap_or(d);
            only_keys(
                d,
                "payment_method_data",
                &["type", "card", "billing_details"],
            )?;
            match param_str(d, "type")?.as_deref() {
                Some("card") => {}
                None => return Err(ApiError::missing("payment_method_data[type]")),
                Some(_) => {
                    return Err(ApiError::invalid(
                        "payment_method_data[type]",
                        "parameter_invalid",
                        "Only payment_method_data[type]=card is supported.",
                    ))
                }
            }
            let c = d
                .get("card")
                .filter(|c| c.is_object())
                .ok_or_else(|| ApiError::missing("payment_method_data[card]"))?;
            only_keys(
                c,
                "payment_method_data[card]",
                &["number", "exp_month", "exp_year", "cvc"],
            )?;
            let p = |f: &str| format!("payment_method_data[card][{f}]");
            let number = match c.get("number") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                None | Some(Value::Null) => return Err(ApiError::missing(&p("number"))),
                Some(_) => {
                    return Err(ApiError::invalid(
                        &p("number"),
                        "invalid_number",
                        "The card number is not a valid credit card number.",
                    ))
                }
            };
            let exp_month = param_u64(c, "exp_month", &p("exp_month"))?
                .ok_or_else(|| ApiError::missing(&p("exp_month")))?;
            let exp_year = param_u64(c, "exp_year", &p("exp_year"))?
                .ok_or_else(|| ApiError::missing(&p("exp_year")))?;
            let cvc = match c.get("cvc") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                Some(_) => {
                    return Err(ApiError::invalid(
                        &p("cvc"),
                        "invalid_cvc",
                        "Your card's security code is invalid.",
                    ))
                }
            };
            let card = Card::from_raw(
                &number,
                u32::try_from(exp_month).unwrap_or(u32::MAX),
                u32::try_from(exp_year).unwrap_or(u32::MAX),
                cvc.as_deref(),
            )
            .map_err(|e| {
                // Stripe answers bad card data as a 402 card error; the
                // message never contains the number.
                ApiError::invalid_card(&p(e.field), e.code, e.message)
            })?;
            Ok(Some(CardGiven {
                payment_method: new_pm_id(),
                card,
                billing: billing_details(d)?,
            }))
        }
        (None, None) => Ok(None),
    }
}

/// `payment_method_data[billing_details]`: `name`, `email`, `phone` and
/// `address[city|country|line1|line2|postal_code|state]`, as Stripe takes
/// them (the country a two-letter code).
fn billing_details(d: &Value) -> Result<Option<BillingDetails>, ApiError> {
    const P: &str = "payment_method_data[billing_details]";
    let Some(b) = param_object(d, "billing_details", P)? else {
        return Ok(None);
    };
    only_keys(b, P, &["address", "email", "name", "phone"])?;
    let field = |v: &Value, name: &str, param: String| -> Result<Option<String>, ApiError> {
        match param_str(v, name)? {
            Some(s) if s.chars().count() > 5000 => Err(ApiError::invalid(
                &param,
                "parameter_invalid",
                format!("{param} can be at most 5000 characters long."),
            )),
            other => Ok(other.filter(|s| !s.is_empty())),
        }
    };
    let pa = format!("{P}[address]");
    let address = match param_object(b, "address", &pa)? {
        None => None,
        Some(a) => {
            only_keys(
                a,
                &pa,
                &["city", "country", "line1", "line2", "postal_code", "state"],
            )?;
            let f = |n: &str| field(a, n, format!("{pa}[{n}]"));
            let country = f("country")?.map(|c| c.to_ascii_uppercase());
            if country
                .as_deref()
                .is_some_and(|c| c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()))
            {
                return Err(ApiError::invalid(
                    &format!("{pa}[country]"),
                    "parameter_invalid",
                    "The country must be a two-letter ISO 3166-1 code.",
                ));
            }
            Some(Address {
                city: f("city")?,
                country,
                line1: f("line1")?,
                line2: f("line2")?,
                postal_code: f("postal_code")?,
                state: f("state")?,
            })
        }
    };
    Ok(Some(BillingDetails {
        address,
        email: field(b, "email", format!("{P}[email]"))?,
        name: field(b, "name", format!("{P}[name]"))?,
        phone: field(b, "phone", format!("{P}[phone]"))?,
    }))
}

pub fn capture_method(v: &Value) -> Result<Option<CaptureMethod>, ApiError> {
    match param_str(v, "capture_method")?.as_deref() {
        None => Ok(None),
        Some("automatic") => Ok(Some(CaptureMethod::Automatic)),
        Some("automatic_async") => Ok(Some(CaptureMethod::AutomaticAsync)),
        Some("manual") => Ok(Some(CaptureMethod::Manual)),
        Some(_) => Err(ApiError::invalid(
            "capture_method",
            "parameter_invalid",
            "capture_method must be automatic, automatic_async or manual.",
        )),
    }
}

fn payment_method_types(v: &Value) -> Result<(), ApiError> {
    match v.get("payment_method_types") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(a)) if a.iter().all(|x| x == "card") => Ok(()),
        Some(_) => Err(ApiError::invalid(
            "payment_method_types",
            "parameter_invalid",
            "Only card payments are supported: payment_method_types[]=card.",
        )),
    }
}

/// The parameters a create accepts (each one Stripe's create names).
pub const CREATE_PARAMS: &[&str] = &[
    "amount",
    "automatic_payment_methods",
    "capture_method",
    "confirm",
    "currency",
    "customer",
    "description",
    "expand",
    "metadata",
    "off_session",
    "payment_method",
    "payment_method_data",
    "payment_method_options",
    "payment_method_types",
    "receipt_email",
    "return_url",
    "setup_future_usage",
    "statement_descriptor",
    "statement_descriptor_suffix",
];

fn description(v: &Value) -> Result<Option<Option<String>>, ApiError> {
    text(v, "description", 1000)
}

pub fn create(
    v: &Value,
    test_mode: bool,
    new_pm_id: &mut dyn FnMut() -> String,
) -> Result<CreateParams, ApiError> {
    only_keys(v, "", CREATE_PARAMS)?;
    let view = pi_view(v)?;
    let amount = param_u64(v, "amount", "amount")?.ok_or_else(|| ApiError::missing("amount"))?;
    let currency = currency(v)?;
    money::check_amount("amount", amount, &currency)?;
    payment_method_types(v)?;
    let confirm = param_bool(v, "confirm", "confirm")?.unwrap_or(false);
    Ok(CreateParams {
        amount,
        currency,
        capture_method: capture_method(v)?.unwrap_or(CaptureMethod::Automatic),
        confirm,
        metadata: param_metadata(v, "metadata")?.unwrap_or_default(),
        description: description(v)?.flatten(),
        card: card_given(v, test_mode, new_pm_id)?,
        extras: extras(v, confirm)?,
        view,
    })
}

/// The parameters a confirmation accepts.
pub const CONFIRM_PARAMS: &[&str] = &[
    "capture_method",
    "client_secret",
    "expand",
    "off_session",
    "payment_method",
    "payment_method_data",
    "payment_method_options",
    "payment_method_types",
    "receipt_email",
    "return_url",
    "setup_future_usage",
];

/// A confirmation: the card (if given now) and the fields it sets.
#[derive(Debug)]
pub struct ConfirmParams {
    pub card: Option<CardGiven>,
    pub update: Update,
    pub client_secret: Option<String>,
}

pub fn confirm(
    v: &Value,
    test_mode: bool,
    new_pm_id: &mut dyn FnMut() -> String,
) -> Result<ConfirmParams, ApiError> {
    only_keys(v, "", CONFIRM_PARAMS)?;
    payment_method_types(v)?;
    let update = Update {
        capture_method: capture_method(v)?,
        receipt_email: receipt_email(v)?,
        setup_future_usage: setup_future_usage(v)?,
        request_three_d_secure: request_three_d_secure(v)?,
        off_session: off_session(v)?,
        return_url: return_url(v)?,
        ..Update::default()
    };
    Ok(ConfirmParams {
        card: card_given(v, test_mode, new_pm_id)?,
        update,
        client_secret: param_str(v, "client_secret")?,
    })
}

/// The parameters an update accepts.
pub const UPDATE_PARAMS: &[&str] = &[
    "amount",
    "capture_method",
    "currency",
    "customer",
    "description",
    "expand",
    "metadata",
    "payment_method_options",
    "payment_method_types",
    "receipt_email",
    "setup_future_usage",
    "statement_descriptor",
    "statement_descriptor_suffix",
];

/// `metadata` of an update: Stripe merges it (an empty value deletes its
/// key; `metadata=""` empties it).
fn metadata_update(v: &Value) -> Result<(BTreeMap<String, Option<String>>, bool), ApiError> {
    if matches!(v.get("metadata"), Some(Value::String(s)) if s.is_empty()) {
        return Ok((BTreeMap::new(), true));
    }
    let m = param_metadata(v, "metadata")?.unwrap_or_default();
    Ok((
        m.into_iter()
            .map(|(k, val)| (k, (!val.is_empty()).then_some(val)))
            .collect(),
        false,
    ))
}

/// `POST /v1/payment_intents/:id`. Amount and currency are checked
/// together by the payment (one may change without the other).
pub fn update(v: &Value) -> Result<Update, ApiError> {
    only_keys(v, "", UPDATE_PARAMS)?;
    payment_method_types(v)?;
    let amount = param_u64(v, "amount", "amount")?;
    let currency = match param_str(v, "currency")? {
        Some(c) => Some(money::currency("currency", &c)?),
        None => None,
    };
    let (metadata, clear_metadata) = metadata_update(v)?;
    Ok(Update {
        amount,
        currency,
        capture_method: capture_method(v)?,
        description: description(v)?,
        metadata,
        clear_metadata,
        customer: text(v, "customer", 5000)?,
        receipt_email: receipt_email(v)?,
        statement_descriptor: descriptor(v, "statement_descriptor", 5)?,
        statement_descriptor_suffix: descriptor(v, "statement_descriptor_suffix", 1)?,
        setup_future_usage: setup_future_usage(v)?,
        automatic_payment_methods: None,
        request_three_d_secure: request_three_d_secure(v)?,
        off_session: None,
        return_url: None,
    })
}

pub const CAPTURE_PARAMS: &[&str] = &["amount_to_capture", "expand"];
pub const CANCEL_PARAMS: &[&str] = &["cancellation_reason", "expand"];
pub const REFUND_PARAMS: &[&str] = &["payment_intent", "charge", "amount", "reason", "metadata"];
pub const REFUND_UPDATE_PARAMS: &[&str] = &["metadata", "expand"];
pub const EXPAND_ONLY: &[&str] = &["expand"];
pub const RETRIEVE_PARAMS: &[&str] = &["expand", "client_secret"];

pub const LIST_INTENTS_PARAMS: &[&str] = &[
    "limit",
    "starting_after",
    "ending_before",
    "created",
    "customer",
    "expand",
];
pub const LIST_REFUNDS_PARAMS: &[&str] = &[
    "limit",
    "starting_after",
    "ending_before",
    "created",
    "payment_intent",
    "charge",
    "expand",
];
pub const LIST_CHARGES_PARAMS: &[&str] = &[
    "limit",
    "starting_after",
    "ending_before",
    "payment_intent",
    "expand",
];
pub const SEARCH_PARAMS: &[&str] = &["query", "limit", "page", "expand"];

/// Every parameter each Stripe call of the worker accepts (body for a
/// POST, query for a GET), as Stripe's paths name them: a test checks each
/// against Stripe's OpenAPI description.
#[cfg(test)]
pub const ACCEPTED: &[(&str, &str, &[&str])] = &[
    ("post", "/v1/payment_intents", CREATE_PARAMS),
    ("get", "/v1/payment_intents", LIST_INTENTS_PARAMS),
    ("get", "/v1/payment_intents/search", SEARCH_PARAMS),
    ("get", "/v1/payment_intents/{intent}", RETRIEVE_PARAMS),
    ("post", "/v1/payment_intents/{intent}", UPDATE_PARAMS),
    (
        "post",
        "/v1/payment_intents/{intent}/confirm",
        CONFIRM_PARAMS,
    ),
    (
        "post",
        "/v1/payment_intents/{intent}/capture",
        CAPTURE_PARAMS,
    ),
    ("post", "/v1/payment_intents/{intent}/cancel", CANCEL_PARAMS),
    ("post", "/v1/refunds", REFUND_PARAMS),
    ("get", "/v1/refunds", LIST_REFUNDS_PARAMS),
    ("get", "/v1/refunds/{refund}", EXPAND_ONLY),
    ("post", "/v1/refunds/{refund}", REFUND_UPDATE_PARAMS),
    ("post", "/v1/refunds/{refund}/cancel", EXPAND_ONLY),
    ("get", "/v1/charges", LIST_CHARGES_PARAMS),
    ("get", "/v1/charges/{charge}", EXPAND_ONLY),
];

/// The parameters of `POST /v1/sandbox/processors/:id` (Switchyard's own
/// call, not one of Stripe's: not in `ACCEPTED`).
pub const SANDBOX_CONTROL_PARAMS: &[&str] = &["decline_share", "decline_code"];

/// `POST /v1/sandbox/processors/:id`: the controls to change (a parameter
/// not given keeps its control as it is; `decline_code=` with no value
/// restores the default code).
pub fn sandbox_controls(v: &Value) -> Result<ControlsUpdate, ApiError> {
    only_keys(v, "", SANDBOX_CONTROL_PARAMS)?;
    let bad_share = || {
        ApiError::invalid(
            "decline_share",
            "parameter_invalid",
            "decline_share is a decimal from 0 to 1 with at most 6 decimal places: the share of authorizations the sandbox declines (0.25: a quarter; 0: none).",
        )
    };
    let decline_ppm = match v.get("decline_share") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(share_ppm(s).ok_or_else(bad_share)?),
        Some(Value::Number(n)) => Some(
            n.as_f64()
                .and_then(share_ppm_of_f64)
                .ok_or_else(bad_share)?,
        ),
        Some(_) => return Err(bad_share()),
    };
    let decline_code = match param_str(v, "decline_code")? {
        None => None,
        Some(c) if c.is_empty() => Some(sandbox::DEFAULT_SPIKE_CODE.to_owned()),
        Some(c) if sandbox::spike_code(&c).is_some() => Some(c),
        Some(_) => {
            let codes: Vec<&str> = sandbox::SPIKE_CODES.iter().map(|(c, _)| *c).collect();
            return Err(ApiError::invalid(
                "decline_code",
                "parameter_invalid",
                format!(
                    "decline_code must be a soft decline code (the plan moves on to its next processor): one of {}.",
                    codes.join(", ")
                ),
            ));
        }
    };
    Ok(ControlsUpdate {
        decline_ppm,
        decline_code,
    })
}

/// A decimal from 0 to 1 with at most 6 decimal places (`0`, `1`, `0.25`,
/// `1.000`), in millionths.
fn share_ppm(s: &str) -> Option<u32> {
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (s, None),
    };
    let digits = |t: &str, max: usize| {
        !t.is_empty() && t.len() <= max && t.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(whole, 8) || frac.is_some_and(|f| !digits(f, 6)) {
        return None;
    }
    let whole: u32 = whole.parse().ok()?;
    let frac = frac.unwrap_or("");
    let frac: u32 = format!("{frac:0<6}").parse().ok()?;
    let ppm = whole.checked_mul(sandbox::SHARE_SCALE)?.checked_add(frac)?;
    (ppm <= sandbox::SHARE_SCALE).then_some(ppm)
}

/// A JSON number given as the share: from 0 to 1, a whole number of
/// millionths.
fn share_ppm_of_f64(x: f64) -> Option<u32> {
    let scaled = x * f64::from(sandbox::SHARE_SCALE);
    let ppm = scaled.round();
    let exact = (scaled - ppm).abs() < 1e-6;
    ((0.0..=f64::from(sandbox::SHARE_SCALE)).contains(&ppm) && exact).then_some(ppm as u32)
}

pub fn capture(v: &Value) -> Result<Option<u64>, ApiError> {
    only_keys(v, "", CAPTURE_PARAMS)?;
    param_u64(v, "amount_to_capture", "amount_to_capture")
}

pub fn cancel(v: &Value) -> Result<Option<String>, ApiError> {
    only_keys(v, "", CANCEL_PARAMS)?;
    match param_str(v, "cancellation_reason")?.as_deref() {
        None => Ok(None),
        Some(
            r @ ("duplicate" | "fraudulent" | "requested_by_customer" | "abandoned"),
        ) => Ok(Some(r.to_owned())),
        Some(_) => Err(ApiError::invalid(
            "cancellation_reason",
            "parameter_invalid",
            "cancellation_reason must be duplicate, fraudulent, requested_by_customer or abandoned.",
        )),
    }
}

#[derive(Debug)]
pub struct RefundParams {
    pub payment_intent: RefundOf,
    pub amount: Option<u64>,
    pub reason: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

pub fn refund(v: &Value) -> Result<RefundParams, ApiError> {
    only_keys(v, "", REFUND_PARAMS)?;
    let payment_intent = match (param_str(v, "payment_intent")?, param_str(v, "charge")?) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "charge",
                "parameter_invalid",
                "Give payment_intent or charge, not both.",
            ))
        }
        (Some(pi), None) => RefundOf::PaymentIntent(pi),
        (None, Some(ch)) => RefundOf::Charge(ch),
        (None, None) => return Err(ApiError::missing("payment_intent")),
    };
    let reason = match param_str(v, "reason")?.as_deref() {
        None => None,
        Some(r @ ("duplicate" | "fraudulent" | "requested_by_customer")) => Some(r.to_owned()),
        Some(_) => {
            return Err(ApiError::invalid(
                "reason",
                "parameter_invalid",
                "reason must be duplicate, fraudulent or requested_by_customer.",
            ))
        }
    };
    Ok(RefundParams {
        payment_intent,
        amount: param_u64(v, "amount", "amount")?,
        reason,
        metadata: param_metadata(v, "metadata")?.unwrap_or_default(),
    })
}

/// What a refund names: a PaymentIntent or one of its Charges.
#[derive(Debug)]
pub enum RefundOf {
    PaymentIntent(String),
    Charge(String),
}

/// `POST /v1/refunds/:id`: its metadata (merged as Stripe merges it).
pub fn refund_update(v: &Value) -> Result<(BTreeMap<String, Option<String>>, bool), ApiError> {
    only_keys(v, "", REFUND_UPDATE_PARAMS)?;
    expand(v, &[])?;
    metadata_update(v)
}

/// The body without card secrets, for the idempotency fingerprint: the
/// number becomes its last four digits and the CVC is dropped, so that no
/// function of the full number is ever stored.
/// A page of a list, the Stripe way: at most `limit` items after
/// `starting_after` or before `ending_before` (ids), newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ListQuery {
    pub limit: u32,
    pub starting_after: Option<String>,
    pub ending_before: Option<String>,
    /// `expand[]=data.<field>`: the item fields that are left out unless asked.
    pub expand: Vec<String>,
}

/// Reads a list's query string (`limit`, default 10, 1 to 100;
/// `starting_after` or `ending_before`; `expand[]` among `expandable`).
pub fn list_query(query: Option<&str>, expandable: &[&str]) -> Result<ListQuery, ApiError> {
    let v = crate::form::parse_form(query.unwrap_or(""))?;
    only_keys(
        &v,
        "",
        &["limit", "starting_after", "ending_before", "expand"],
    )?;
    let limit = param_u64(&v, "limit", "limit")?.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            "parameter_invalid_integer",
            "limit must be an integer from 1 to 100.",
        ));
    }
    let starting_after = param_str(&v, "starting_after")?;
    let ending_before = param_str(&v, "ending_before")?;
    if starting_after.is_some() && ending_before.is_some() {
        return Err(ApiError::invalid(
            "ending_before",
            "parameter_invalid",
            "Give starting_after or ending_before, not both.",
        ));
    }
    let expand = match v.get("expand") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|x| match x.as_str() {
                Some(f) if expandable.contains(&f) => Ok(f.to_owned()),
                _ => Err(ApiError::invalid(
                    "expand",
                    "parameter_invalid",
                    format!("expand[] may name only: {}.", expandable.join(", ")),
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(ApiError::invalid(
                "expand",
                "parameter_invalid",
                "expand is a list: expand[]=…",
            ))
        }
    };
    Ok(ListQuery {
        limit: limit as u32,
        starting_after,
        ending_before,
        expand,
    })
}

pub fn without_card_secrets(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(card) = v
        .get_mut("payment_method_data")
        .and_then(|d| d.get_mut("card"))
        .and_then(Value::as_object_mut)
    {
        if let Some(n) = card.remove("number") {
            let s = match n {
                Value::String(s) => s,
                other => other.to_string(),
            };
            let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_digit).collect();
            let last4 = switchyard_rules::last4_of(&digits);
            card.insert("last4".into(), Value::String(last4));
        }
        card.remove("cvc");
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pm() -> String {
        "pm_new".to_owned()
    }

    #[test]
    fn list_queries() {
        let q = list_query(None, &["data.ruleset"]).unwrap_or_default();
        assert_eq!((q.limit, q.starting_after, q.expand.len()), (10, None, 0));
        let q = list_query(
            Some("limit=3&starting_after=rs_a&expand[]=data.ruleset"),
            &["data.ruleset"],
        );
        let q = q.unwrap_or_default();
        assert_eq!(q.limit, 3);
        assert_eq!(q.starting_after.as_deref(), Some("rs_a"));
        assert_eq!(q.expand, ["data.ruleset"]);
        for (bad, param) in [
            ("limit=0", "limit"),
            ("limit=101", "limit"),
            ("limit=x", "limit"),
            ("starting_after=a&ending_before=b", "ending_before"),
            ("expand[]=data.secret", "expand"),
            ("page=2", "page"),
        ] {
            let e = list_query(Some(bad), &["data.ruleset"]).err();
            assert_eq!(
                e.and_then(|e| e.param.clone()).as_deref(),
                Some(param),
                "{bad}"
            );
        }
    }

    /// Every parameter the worker accepts is one Stripe's own description
    /// of that call names (tests/stripe-openapi, Stripe's OpenAPI, MIT).
    #[test]
    fn accepted_parameters_are_stripes() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/stripe-openapi/payments-subset.json"
        );
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let spec: Value = serde_json::from_str(&text).unwrap_or_default();
        assert!(spec["paths"].is_object(), "{path} unreadable");
        for (method, route, accepted) in ACCEPTED {
            let op = &spec["paths"][route][method];
            assert!(op.is_object(), "Stripe has no {method} {route}");
            let named: Vec<String> = if *method == "get" {
                op["parameters"]
                    .as_array()
                    .map(|ps| {
                        ps.iter()
                            .filter(|p| p["in"] == "query")
                            .filter_map(|p| p["name"].as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default()
            } else {
                op["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
                    ["properties"]
                    .as_object()
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default()
            };
            for a in *accepted {
                assert!(
                    named.iter().any(|n| n == a),
                    "{method} {route} accepts {a}, which Stripe does not name"
                );
            }
        }
    }

    #[test]
    fn sandbox_controls_are_read_strictly() {
        let form = |t: &str| sandbox_controls(&crate::form::parse_form(t).unwrap_or_default());
        let ok = |t: &str| form(t).unwrap_or_else(|e| panic!("{t}: {e:?}"));
        let ppm = |t: &str| ok(t).decline_ppm;
        assert_eq!(ok(""), ControlsUpdate::default());
        assert_eq!(ppm("decline_share=0"), Some(0));
        assert_eq!(ppm("decline_share=1"), Some(1_000_000));
        assert_eq!(ppm("decline_share=1.000000"), Some(1_000_000));
        assert_eq!(ppm("decline_share=0.25"), Some(250_000));
        assert_eq!(ppm("decline_share=0.000001"), Some(1));
        assert_eq!(ppm("decline_share=0.1"), Some(100_000));
        assert_eq!(
            ok("decline_code=do_not_honor").decline_code.as_deref(),
            Some("do_not_honor")
        );
        assert_eq!(
            ok("decline_code=").decline_code.as_deref(),
            Some("try_again_later")
        );
        // JSON numbers too.
        let json = |v: Value| sandbox_controls(&v).map(|u| u.decline_ppm);
        assert_eq!(
            json(serde_json::json!({"decline_share": 0.3})).ok(),
            Some(Some(300_000))
        );
        assert_eq!(
            json(serde_json::json!({"decline_share": 1})).ok(),
            Some(Some(1_000_000))
        );
        assert_eq!(
            json(serde_json::json!({"decline_share": 0.000001})).ok(),
            Some(Some(1))
        );
        for bad in [
            serde_json::json!({"decline_share": 1.5}),
            serde_json::json!({"decline_share": -0.1}),
            serde_json::json!({"decline_share": 0.0000001}),
            serde_json::json!({"decline_share": true}),
            serde_json::json!({"decline_share": [0.5]}),
        ] {
            let e = json(bad.clone()).err().map(|e| e.body().to_string());
            assert!(
                e.is_some_and(|e| e.contains("\"param\":\"decline_share\"")),
                "{bad}"
            );
        }
        // Bad values name their parameter; unknown ones are refused by name.
        for (t, param) in [
            ("decline_share=1.01", "decline_share"),
            ("decline_share=2", "decline_share"),
            ("decline_share=-0", "decline_share"),
            ("decline_share=", "decline_share"),
            ("decline_share=.5", "decline_share"),
            ("decline_share=0.", "decline_share"),
            ("decline_share=0.1234567", "decline_share"),
            ("decline_share=50%25", "decline_share"),
            ("decline_share=0x1", "decline_share"),
            ("decline_share=1e-1", "decline_share"),
            ("decline_share=%200.5", "decline_share"),
            ("decline_code=stolen_card", "decline_code"),
            ("decline_code=nope", "decline_code"),
            ("decline_rate=0.5", "decline_rate"),
            ("decline_share=0.5&failure=outage", "failure"),
        ] {
            let e = form(t).err().unwrap_or_else(|| panic!("{t} accepted"));
            assert_eq!(e.status, 400, "{t}");
            let body = e.body();
            assert_eq!(body["error"]["param"], param, "{t}: {body}");
        }
        let e = form("decline_rate=1").err().map(|e| e.body());
        assert_eq!(
            e.map(|b| b["error"]["code"].clone()),
            Some(serde_json::json!("parameter_unknown"))
        );
    }

    #[test]
    fn create_params() {
        let v = json!({"amount": "2000", "currency": "EUR", "confirm": "true",
                       "payment_method_data": {"type": "card", "card": {"number": "4242424242424242",
                       "exp_month": "12", "exp_year": "2034", "cvc": "123"}}, "metadata": {"o": "1"}});
        let p = create(&v, true, &mut pm);
        let p = p.map_err(|e| e.message.clone());
        let p = p.as_ref();
        assert_eq!(p.map(|p| p.amount), Ok(2000));
        assert_eq!(p.map(|p| p.currency.as_str()), Ok("eur"));
        assert_eq!(p.map(|p| p.confirm), Ok(true));
        let card = p.ok().and_then(|p| p.card.as_ref());
        assert_eq!(card.map(|c| c.payment_method.as_str()), Some("pm_new"));
        assert!(!format!("{p:?}").contains("4242424242424242"));
    }

    #[test]
    fn create_errors_name_the_param() {
        let cases = [
            (json!({"currency": "eur"}), "amount"),
            (json!({"amount": "x", "currency": "eur"}), "amount"),
            (json!({"amount": 0, "currency": "eur"}), "amount"),
            (json!({"amount": 1}), "currency"),
            (json!({"amount": 100, "currency": "euro"}), "currency"),
            (json!({"amount": 49, "currency": "usd"}), "amount"),
            (json!({"amount": 1005, "currency": "kwd"}), "amount"),
            (json!({"amount": 100, "currency": "xau"}), "currency"),
            (
                json!({"amount": 100, "currency": "eur", "statement_descriptor": "1234567"}),
                "statement_descriptor",
            ),
            (
                json!({"amount": 100, "currency": "eur", "statement_descriptor_suffix": "a*b"}),
                "statement_descriptor_suffix",
            ),
            (
                json!({"amount": 100, "currency": "eur", "receipt_email": "nope"}),
                "receipt_email",
            ),
            (
                json!({"amount": 100, "currency": "eur", "off_session": "true"}),
                "off_session",
            ),
            (
                json!({"amount": 100, "currency": "eur", "expand": ["payment_method"]}),
                "expand",
            ),
            (
                json!({"amount": 100, "currency": "eur", "payment_method_options": {"card": {"request_three_d_secure": "any"}}}),
                "payment_method_options[card][request_three_d_secure]",
            ),
            (
                json!({"amount": 100, "currency": "eur", "automatic_payment_methods": {"enabled": "true"}, "payment_method_types": ["card"]}),
                "automatic_payment_methods",
            ),
            (json!({"amount": 100, "currency": "eur", "foo": 1}), "foo"),
            (
                json!({"amount": 100, "currency": "eur", "capture_method": "x"}),
                "capture_method",
            ),
            (
                json!({"amount": 100, "currency": "eur", "payment_method": "pm_nope"}),
                "payment_method",
            ),
            (
                json!({"amount": 100, "currency": "eur", "payment_method_data": {"type": "card", "card": {"number": "4242424242424241", "exp_month": 1, "exp_year": 2030}}}),
                "payment_method_data[card][number]",
            ),
            (
                json!({"amount": 100, "currency": "eur", "payment_method_data": {"type": "card", "card": {"number": "4242424242424242", "exp_year": 2030}}}),
                "payment_method_data[card][exp_month]",
            ),
        ];
        for (v, param) in cases {
            let e = create(&v, true, &mut pm).err();
            assert_eq!(
                e.and_then(|e| e.param.clone()),
                Some(param.to_owned()),
                "{v}"
            );
        }
        // Test payment methods are test-mode only.
        let v = json!({"amount": 100, "currency": "eur", "payment_method": "pm_card_visa"});
        assert!(create(&v, false, &mut pm).is_err());
        assert!(create(&v, true, &mut pm).is_ok());
    }

    #[test]
    fn fingerprint_body_has_no_card_secrets() {
        let v = json!({"payment_method_data": {"card": {"number": "4242 4242 4242 4242", "cvc": "123"}}});
        let s = without_card_secrets(&v).to_string();
        assert!(
            !s.contains("4242 4242 4242 4242") && !s.contains("123"),
            "{s}"
        );
        assert!(s.contains("\"last4\":\"4242\""));
    }
}
