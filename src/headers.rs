//! Stripe's request headers as the worker takes them. Pure.
//!
//! - `Stripe-Version`: accepted in Stripe's format (`2023-08-16`, or a
//!   dated release name such as `2024-09-30.acacia`), echoed in the
//!   response; anything else is refused.
//! - Every other `Stripe-*` header (`Stripe-Account`, `Stripe-Context`, …)
//!   asks for something the worker does not do (Connect accounts, …): it
//!   is refused by name, never ignored. The headers the SDKs always send
//!   (`User-Agent`, `X-Stripe-Client-User-Agent`,
//!   `X-Stripe-Client-Telemetry`) are not `Stripe-*` and pass.

use crate::error::ApiError;

/// The API version answered when a request names none: the version of
/// Stripe's API description the objects are checked against.
pub const DEFAULT_STRIPE_VERSION: &str = "2023-08-16";

fn is_version(v: &str) -> bool {
    let (date, name) = match v.split_once('.') {
        Some((d, n)) => (d, Some(n)),
        None => (v, None),
    };
    let b = date.as_bytes();
    let date_ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && (1..=12).contains(&date[5..7].parse::<u8>().unwrap_or(0))
        && (1..=31).contains(&date[8..10].parse::<u8>().unwrap_or(0));
    date_ok
        && name.is_none_or(|n| {
            !n.is_empty() && n.len() <= 32 && n.bytes().all(|c| c.is_ascii_lowercase())
        })
}

/// Checks the request's headers; returns the `Stripe-Version` to echo.
pub fn check<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<String, ApiError> {
    let mut version = None;
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        if lower == "stripe-version" {
            if !is_version(value.trim()) {
                return Err(ApiError::invalid(
                    "Stripe-Version",
                    "invalid_stripe_version",
                    format!(
                        "Invalid Stripe API version: {}. Give a date such as {DEFAULT_STRIPE_VERSION}.",
                        value.chars().take(40).collect::<String>()
                    ),
                ));
            }
            version = Some(value.trim().to_owned());
        } else if let Some(rest) = lower.strip_prefix("stripe-") {
            let shown = format!("Stripe-{}", capitalised(rest));
            return Err(ApiError::invalid(
                &shown,
                "header_not_supported",
                format!("The {shown} header is not supported by Switchyard (it has no connected accounts or contexts); the request was not carried out."),
            ));
        }
    }
    Ok(version.unwrap_or_else(|| DEFAULT_STRIPE_VERSION.to_owned()))
}

fn capitalised(rest: &str) -> String {
    rest.split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_refused_headers() {
        assert_eq!(check([]).ok().as_deref(), Some(DEFAULT_STRIPE_VERSION));
        for good in ["2023-08-16", "2024-09-30.acacia", "2025-11-17.clover"] {
            assert_eq!(
                check([("Stripe-Version", good)]).ok().as_deref(),
                Some(good)
            );
        }
        for bad in [
            "latest",
            "2023-13-01",
            "2023-8-16",
            "2023-08-16.",
            "2023-08-16.Acacia",
            "",
        ] {
            let e = check([("stripe-version", bad)]).err();
            assert_eq!(
                e.and_then(|e| e.param.clone()).as_deref(),
                Some("Stripe-Version"),
                "{bad}"
            );
        }
        let e = check([("stripe-account", "acct_1")]).err();
        assert_eq!(
            e.and_then(|e| e.param.clone()).as_deref(),
            Some("Stripe-Account")
        );
        let e = check([("Stripe-Context", "x")]).err();
        assert_eq!(
            e.and_then(|e| e.param.clone()).as_deref(),
            Some("Stripe-Context")
        );
        assert!(check([
            ("x-stripe-client-user-agent", "{}"),
            ("x-stripe-client-telemetry", "{}"),
            ("user-agent", "Stripe/v1 NodeBindings/23.1.0"),
        ])
        .is_ok());
    }
}
