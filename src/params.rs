//! Parameters of the payments API, read from the parsed body (form or JSON)
//! into typed values, with Stripe's error codes and `param` names. Pure.

use std::collections::BTreeMap;

use serde_json::Value;
use switchyard_processors::card::Card;
use switchyard_processors::payment::CaptureMethod;

use crate::error::ApiError;
use crate::form::{only_keys, param_bool, param_metadata, param_str, param_u64};

/// A card given with the request (raw data or a test payment method).
#[derive(Debug)]
pub struct CardGiven {
    pub payment_method: String,
    pub card: Card,
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
}

/// Largest amount accepted (Stripe's limit for most currencies: 8 digits,
/// generously 12 here).
pub const MAX_AMOUNT: u64 = 999_999_999_999;

pub fn currency(v: &Value) -> Result<String, ApiError> {
    let c = param_str(v, "currency")?.ok_or_else(|| ApiError::missing("currency"))?;
    let c = c.to_ascii_lowercase();
    if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err(ApiError::invalid(
            "currency",
            "parameter_invalid",
            format!("Invalid currency: {c}. Use a three-letter ISO 4217 code."),
        ));
    }
    Ok(c)
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
            if !d.is_object() {
                return Err(ApiError::invalid(
                    "payment_method_data",
                    "parameter_invalid",
                    "payment_method_data must be an object.",
                ));
            }
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
            }))
        }
        (None, None) => Ok(None),
    }
}

pub fn capture_method(v: &Value) -> Result<Option<CaptureMethod>, ApiError> {
    match param_str(v, "capture_method")?.as_deref() {
        None => Ok(None),
        Some("automatic" | "automatic_async") => Ok(Some(CaptureMethod::Automatic)),
        Some("manual") => Ok(Some(CaptureMethod::Manual)),
        Some(_) => Err(ApiError::invalid(
            "capture_method",
            "parameter_invalid",
            "capture_method must be automatic or manual.",
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

pub fn create(
    v: &Value,
    test_mode: bool,
    new_pm_id: &mut dyn FnMut() -> String,
) -> Result<CreateParams, ApiError> {
    only_keys(
        v,
        "",
        &[
            "amount",
            "currency",
            "capture_method",
            "confirm",
            "payment_method",
            "payment_method_data",
            "payment_method_types",
            "metadata",
            "description",
        ],
    )?;
    let amount = param_u64(v, "amount", "amount")?.ok_or_else(|| ApiError::missing("amount"))?;
    if amount == 0 || amount > MAX_AMOUNT {
        return Err(ApiError::invalid(
            "amount",
            "amount_too_small",
            "Amount must be a positive integer in the currency's smallest unit, at most 999999999999.",
        ));
    }
    let currency = currency(v)?;
    payment_method_types(v)?;
    let description = param_str(v, "description")?;
    if description.as_ref().is_some_and(|d| d.len() > 1000) {
        return Err(ApiError::invalid(
            "description",
            "parameter_invalid",
            "description can be at most 1000 characters long.",
        ));
    }
    Ok(CreateParams {
        amount,
        currency,
        capture_method: capture_method(v)?.unwrap_or(CaptureMethod::Automatic),
        confirm: param_bool(v, "confirm", "confirm")?.unwrap_or(false),
        metadata: param_metadata(v, "metadata")?.unwrap_or_default(),
        description,
        card: card_given(v, test_mode, new_pm_id)?,
    })
}

pub fn confirm(
    v: &Value,
    test_mode: bool,
    new_pm_id: &mut dyn FnMut() -> String,
) -> Result<Option<CardGiven>, ApiError> {
    only_keys(
        v,
        "",
        &[
            "payment_method",
            "payment_method_data",
            "payment_method_types",
        ],
    )?;
    payment_method_types(v)?;
    card_given(v, test_mode, new_pm_id)
}

pub fn capture(v: &Value) -> Result<Option<u64>, ApiError> {
    only_keys(v, "", &["amount_to_capture"])?;
    param_u64(v, "amount_to_capture", "amount_to_capture")
}

pub fn cancel(v: &Value) -> Result<Option<String>, ApiError> {
    only_keys(v, "", &["cancellation_reason"])?;
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
    pub payment_intent: String,
    pub amount: Option<u64>,
    pub reason: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

pub fn refund(v: &Value) -> Result<RefundParams, ApiError> {
    only_keys(v, "", &["payment_intent", "amount", "reason", "metadata"])?;
    let payment_intent =
        param_str(v, "payment_intent")?.ok_or_else(|| ApiError::missing("payment_intent"))?;
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
            (json!({"amount": 1, "currency": "euro"}), "currency"),
            (json!({"amount": 1, "currency": "eur", "foo": 1}), "foo"),
            (
                json!({"amount": 1, "currency": "eur", "capture_method": "x"}),
                "capture_method",
            ),
            (
                json!({"amount": 1, "currency": "eur", "payment_method": "pm_nope"}),
                "payment_method",
            ),
            (
                json!({"amount": 1, "currency": "eur", "payment_method_data": {"type": "card", "card": {"number": "4242424242424241", "exp_month": 1, "exp_year": 2030}}}),
                "payment_method_data[card][number]",
            ),
            (
                json!({"amount": 1, "currency": "eur", "payment_method_data": {"type": "card", "card": {"number": "4242424242424242", "exp_year": 2030}}}),
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
        let v = json!({"amount": 1, "currency": "eur", "payment_method": "pm_card_visa"});
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
