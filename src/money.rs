//! Amounts and currencies checked as Stripe checks them: the currencies
//! Stripe presents (ISO 4217 codes only), the minimum and maximum charge
//! amounts, and three-decimal currencies in multiples of 10. Pure.
//!
//! Stripe's published minimums are per currency for the currencies below
//! (`MINIMUMS`); for the others Stripe converts 0.50 USD at the day's rate,
//! which cannot be known here: the minimum is then 50 minor units (500 for
//! three-decimal currencies, 1 for zero-decimal ones), and Stripe may ask
//! for more. `docs/api.md` says so.

use crate::error::ApiError;

/// Stripe's presentment currencies (lower case, sorted).
const CURRENCIES: &[&str] = &[
    "aed", "afn", "all", "amd", "ang", "aoa", "ars", "aud", "awg", "azn", "bam", "bbd", "bdt",
    "bgn", "bhd", "bif", "bmd", "bnd", "bob", "brl", "bsd", "bwp", "byn", "bzd", "cad", "cdf",
    "chf", "clp", "cny", "cop", "crc", "cve", "czk", "djf", "dkk", "dop", "dzd", "egp", "etb",
    "eur", "fjd", "fkp", "gbp", "gel", "gip", "gmd", "gnf", "gtq", "gyd", "hkd", "hnl", "htg",
    "huf", "idr", "ils", "inr", "isk", "jmd", "jod", "jpy", "kes", "kgs", "khr", "kmf", "krw",
    "kwd", "kyd", "kzt", "lak", "lbp", "lkr", "lrd", "lsl", "mad", "mdl", "mga", "mkd", "mmk",
    "mnt", "mop", "mur", "mvr", "mwk", "mxn", "myr", "mzn", "nad", "ngn", "nio", "nok", "npr",
    "nzd", "omr", "pab", "pen", "pgk", "php", "pkr", "pln", "pyg", "qar", "ron", "rsd", "rub",
    "rwf", "sar", "sbd", "scr", "sek", "sgd", "shp", "sle", "sos", "srd", "szl", "thb", "tjs",
    "tnd", "top", "try", "ttd", "twd", "tzs", "uah", "ugx", "usd", "uyu", "uzs", "vnd", "vuv",
    "wst", "xaf", "xcd", "xof", "xpf", "yer", "zar", "zmw",
];

/// Stripe's zero-decimal currencies: amounts are in the major unit.
const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];

/// Three-decimal currencies: Stripe takes amounts in multiples of 10.
const THREE_DECIMAL: &[&str] = &["bhd", "jod", "kwd", "omr", "tnd"];

/// Stripe's published minimum charge amounts, in minor units.
const MINIMUMS: &[(&str, u64)] = &[
    ("aed", 200),
    ("aud", 50),
    ("bgn", 100),
    ("brl", 50),
    ("cad", 50),
    ("chf", 50),
    ("czk", 1500),
    ("dkk", 250),
    ("eur", 50),
    ("gbp", 30),
    ("hkd", 400),
    ("huf", 17500),
    ("inr", 50),
    ("jpy", 50),
    ("mxn", 1000),
    ("myr", 200),
    ("nok", 300),
    ("nzd", 50),
    ("pln", 200),
    ("ron", 200),
    ("sek", 300),
    ("sgd", 50),
    ("thb", 1000),
    ("usd", 50),
];

/// The largest amount: eight digits, as Stripe (99999999 is $999,999.99).
pub const MAX_AMOUNT: u64 = 99_999_999;

/// A currency parameter: a code Stripe presents, lower case.
pub fn currency(param: &str, given: &str) -> Result<String, ApiError> {
    let c = given.to_ascii_lowercase();
    if CURRENCIES.binary_search(&c.as_str()).is_ok() {
        return Ok(c);
    }
    let shown: String = given.chars().take(16).collect();
    Err(ApiError::invalid(
        param,
        "parameter_invalid",
        format!("Invalid currency: {shown}. Use a three-letter ISO 4217 code of a currency Stripe supports, such as usd or eur."),
    ))
}

/// The smallest amount of a currency (see the module's note).
pub fn minimum(currency: &str) -> u64 {
    if let Ok(i) = MINIMUMS.binary_search_by(|(c, _)| c.cmp(&currency)) {
        return MINIMUMS[i].1;
    }
    if ZERO_DECIMAL.contains(&currency) {
        1
    } else if THREE_DECIMAL.contains(&currency) {
        // 0.500 of the currency, in multiples of 10.
        500
    } else {
        50
    }
}

/// Checks an amount to charge in `currency` (already checked by
/// [`currency`]); `param` names the field in the error.
pub fn check_amount(param: &str, amount: u64, currency: &str) -> Result<(), ApiError> {
    let min = minimum(currency);
    if amount < min {
        return Err(ApiError::invalid(
            param,
            "amount_too_small",
            format!("Amount must be at least {min} in the smallest unit of {currency}."),
        ));
    }
    if amount > MAX_AMOUNT {
        return Err(ApiError::invalid(
            param,
            "amount_too_large",
            format!("Amount must be no more than {MAX_AMOUNT} in the smallest unit of {currency}."),
        ));
    }
    if THREE_DECIMAL.contains(&currency) && !amount.is_multiple_of(10) {
        return Err(ApiError::invalid(
            param,
            "invalid_amount",
            format!("Amounts in {currency} (three decimals) must be multiples of 10: the last digit must be 0."),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_for_binary_search() {
        assert!(CURRENCIES.windows(2).all(|w| w[0] < w[1]));
        assert!(MINIMUMS.windows(2).all(|w| w[0].0 < w[1].0));
        for c in ZERO_DECIMAL.iter().chain(THREE_DECIMAL) {
            assert!(CURRENCIES.contains(c), "{c}");
        }
    }

    #[test]
    fn stripe_amount_rules() {
        assert!(check_amount("amount", 50, "usd").is_ok());
        assert!(check_amount("amount", 49, "usd").is_err());
        assert!(check_amount("amount", 29, "gbp").is_err());
        assert!(check_amount("amount", 30, "gbp").is_ok());
        assert!(check_amount("amount", 50, "jpy").is_ok());
        assert!(check_amount("amount", 99_999_999, "usd").is_ok());
        let e = check_amount("amount", 100_000_000, "usd").err();
        assert_eq!(e.and_then(|e| e.param.clone()).as_deref(), Some("amount"));
        assert!(check_amount("amount", 1005, "kwd").is_err());
        assert!(check_amount("amount", 1000, "kwd").is_ok());
        assert_eq!(currency("currency", "EUR").ok().as_deref(), Some("eur"));
        for bad in ["eu", "euro", "xau", "zzz", ""] {
            assert!(currency("currency", bad).is_err(), "{bad}");
        }
    }
}
