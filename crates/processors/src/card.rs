//! Card data: the secret part (number, CVC) that only ever travels to a
//! processor call, and the facts that may be kept (brand, BIN, last four,
//! expiry, funding, country).

use serde::{Deserialize, Serialize};

/// The card number and CVC. `Debug` prints nothing of them; there is no
/// `Serialize`, `Display` or `Clone`, so they cannot slip into storage, logs
/// or responses by accident. Only an adapter building a processor request
/// reads them, through [`CardSecret::number`] and [`CardSecret::cvc`].
pub struct CardSecret {
    number: String,
    cvc: Option<String>,
}

impl std::fmt::Debug for CardSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CardSecret(..)")
    }
}

impl CardSecret {
    /// The digits of the number (spaces and dashes removed).
    pub fn number(&self) -> &str {
        &self.number
    }
    pub fn cvc(&self) -> Option<&str> {
        self.cvc.as_deref()
    }
}

/// What is kept of a card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardFacts {
    pub brand: String,
    /// The BIN as PCI DSS allows it kept beside the last four: the first 8
    /// digits of a number of 16 digits or more, the first 6 of a shorter
    /// one (8 + 4 of a 15-digit Amex would leave 100 guesses). Routing
    /// reads the engine's 8-digit BIN from the card itself
    /// (`Card::routing_bin`), in memory only.
    pub bin: String,
    pub last4: String,
    pub exp_month: u8,
    pub exp_year: u16,
    pub funding: String,
    pub country: Option<String>,
}

/// A card as the merchant gave it: the secret part and the facts.
#[derive(Debug)]
pub struct Card {
    pub secret: CardSecret,
    pub facts: CardFacts,
}

/// A card on its one internal hop: from the front worker, which read it from
/// the request, to the payment's object, which makes the processor calls.
/// The only serialisable form of the secret part, so that the message can
/// be written; nothing else may serialise it. `Debug` prints nothing of the
/// number or CVC.
#[derive(Serialize, Deserialize)]
pub struct CardInTransit {
    number: String,
    cvc: Option<String>,
    facts: CardFacts,
}

impl std::fmt::Debug for CardInTransit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CardInTransit(..)")
    }
}

/// The BIN that may be kept of a number of `len` digits (see `CardFacts::bin`).
pub fn stored_bin_len(len: usize) -> usize {
    if len >= 16 {
        8
    } else {
        6
    }
}

impl Card {
    /// The engine's BIN (rules.md: the first 8 digits), for routing this
    /// card now; never stored (the facts keep `CardFacts::bin`).
    pub fn routing_bin(&self) -> String {
        self.secret.number.chars().take(8).collect()
    }

    /// The card for the hop to the payment's object.
    pub fn into_transit(self) -> CardInTransit {
        CardInTransit {
            number: self.secret.number,
            cvc: self.secret.cvc,
            facts: self.facts,
        }
    }

    /// The card again, at the payment's object. (It was checked when read
    /// from the request; the message is the worker's own.)
    pub fn from_transit(t: CardInTransit) -> Card {
        Card {
            secret: CardSecret {
                number: t.number,
                cvc: t.cvc,
            },
            facts: t.facts,
        }
    }
}

/// Why card data was refused; never contains the number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardError {
    /// The Stripe-style parameter name under `payment_method_data[card]`.
    pub field: &'static str,
    /// Stripe's error code (`incorrect_number`, `invalid_expiry_month`, ...).
    pub code: &'static str,
    pub message: String,
}

fn card_error(field: &'static str, code: &'static str, message: &str) -> CardError {
    CardError {
        field,
        code,
        message: message.to_owned(),
    }
}

impl Card {
    /// Checks raw card data and splits it into secret and facts.
    pub fn from_raw(
        number: &str,
        exp_month: u32,
        exp_year: u32,
        cvc: Option<&str>,
    ) -> Result<Card, CardError> {
        // The engine's own reading of a card number (Luhn, length, brand
        // ranges), so that the worker and every preview agree on a card.
        let Ok(raw_digits) = switchyard_rules::normalise_number(number) else {
            return Err(card_error(
                "number",
                "incorrect_number",
                "Your card number is incorrect.",
            ));
        };
        let brand = switchyard_rules::brand_of(&raw_digits);
        let digits: String = raw_digits.iter().map(|d| char::from(*d)).collect();
        if !(1..=12).contains(&exp_month) {
            return Err(card_error(
                "exp_month",
                "invalid_expiry_month",
                "Your card's expiration month is invalid.",
            ));
        }
        let exp_year = if exp_year < 100 {
            exp_year + 2000
        } else {
            exp_year
        };
        if !(2000..=2100).contains(&exp_year) {
            return Err(card_error(
                "exp_year",
                "invalid_expiry_year",
                "Your card's expiration year is invalid.",
            ));
        }
        let cvc = match cvc {
            Some("") => None,
            Some(c) => {
                if !(3..=4).contains(&c.len()) || !c.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(card_error(
                        "cvc",
                        "invalid_cvc",
                        "Your card's security code is invalid.",
                    ));
                }
                Some(c.to_owned())
            }
            None => None,
        };
        let bin: String = digits.chars().take(stored_bin_len(digits.len())).collect();
        let last4 = switchyard_rules::last4_of(&raw_digits);
        let (country, funding) = test_card_profile(&digits);
        let facts = CardFacts {
            brand: brand.as_str().to_owned(),
            bin,
            last4,
            exp_month: exp_month as u8,
            exp_year: exp_year as u16,
            funding: funding.to_owned(),
            country: Some(country.to_owned()),
        };
        Ok(Card {
            secret: CardSecret {
                number: digits,
                cvc,
            },
            facts,
        })
    }

    /// Stripe's test payment methods (`pm_card_visa`, ...), usable in test
    /// mode only: each stands for one of Stripe's test card numbers.
    pub fn from_test_payment_method(pm: &str) -> Option<Card> {
        let number = test_payment_method_number(pm)?;
        let cvc = if number.len() == 15 { "1234" } else { "123" };
        Card::from_raw(number, 12, 2034, Some(cvc)).ok()
    }
}

/// The card number a Stripe test payment method stands for.
pub fn test_payment_method_number(pm: &str) -> Option<&'static str> {
    Some(match pm {
        "pm_card_visa" => "4242424242424242",
        "pm_card_visa_debit" => "4000056655665556",
        "pm_card_mastercard" => "5555555555554444",
        "pm_card_mastercard_debit" => "5200828282828210",
        "pm_card_mastercard_prepaid" => "5105105105105100",
        "pm_card_amex" => "378282246310005",
        "pm_card_discover" => "6011111111111117",
        "pm_card_diners" => "3056930009020004",
        "pm_card_jcb" => "3566002020360505",
        "pm_card_unionpay" => "6200000000000005",
        "pm_card_fr" => "4000002500000003",
        "pm_card_de" => "4000002760000016",
        "pm_card_gb" => "4000008260000000",
        "pm_card_chargeDeclined" => "4000000000000002",
        "pm_card_chargeDeclinedInsufficientFunds" => "4000000000009995",
        "pm_card_chargeDeclinedLostCard" => "4000000000009987",
        "pm_card_chargeDeclinedStolenCard" => "4000000000009979",
        "pm_card_chargeDeclinedExpiredCard" => "4000000000000069",
        "pm_card_chargeDeclinedIncorrectCvc" => "4000000000000127",
        "pm_card_chargeDeclinedProcessingError" => "4000000000000119",
        "pm_card_chargeDeclinedFraudulent" => "4100000000000019",
        "pm_card_authenticationRequired" => "4000002760003184",
        "pm_card_threeDSecure2Required" => "4000000000003220",
        _ => return None,
    })
}

/// Issuing country and funding of the well-known test numbers (Stripe's
/// country and funding test cards); other numbers: US credit.
fn test_card_profile(digits: &str) -> (&'static str, &'static str) {
    const COUNTRIES: &[(&str, &str)] = &[
        ("400000250", "FR"),
        ("400000276", "DE"),
        ("400000826", "GB"),
        ("400000724", "ES"),
        ("400000380", "IT"),
        ("400000528", "NL"),
        ("400000056", "BE"),
        ("400000124", "CA"),
        ("400000036", "AU"),
        ("400000392", "JP"),
        ("400000076", "BR"),
        ("400000484", "MX"),
        ("400000356", "IN"),
    ];
    let country = COUNTRIES
        .iter()
        .find(|(p, _)| digits.starts_with(p))
        .map_or("US", |(_, c)| c);
    let funding = match digits {
        "4000056655665556" | "5200828282828210" => "debit",
        "5105105105105100" => "prepaid",
        _ => "credit",
    };
    (country, funding)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_prints_nothing() {
        let card = Card::from_raw("4242 4242 4242 4242", 12, 34, Some("123"));
        let card = card.unwrap_or_else(|e| panic!("{e:?}"));
        let dbg = format!("{card:?}");
        assert!(!dbg.contains("4242424242424242"), "{dbg}");
        assert!(!dbg.contains("123,") && !dbg.contains("\"123\""), "{dbg}");
        assert_eq!(card.facts.bin, "42424242");
        assert_eq!(card.routing_bin(), "42424242");
        // Below 16 digits only 6 are kept; routing still sees 8.
        let amex = Card::from_raw("378282246310005", 12, 34, Some("1234"));
        let amex = amex.unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            (amex.facts.bin.as_str(), amex.facts.last4.as_str()),
            ("378282", "0005")
        );
        assert_eq!(amex.routing_bin(), "37828224");
        let json = serde_json::to_string(&amex.facts).unwrap_or_default();
        assert!(!json.contains("37828224"), "{json}");
        assert_eq!(card.facts.last4, "4242");
        assert_eq!(card.facts.exp_year, 2034);
        assert_eq!(card.facts.brand, "visa");
        let json = serde_json::to_string(&card.facts).unwrap_or_default();
        assert!(!json.contains("4242424242424242"));
    }

    #[test]
    fn transit_round_trips_and_debug_prints_nothing() {
        let card = Card::from_raw("4000 0566 5566 5556", 3, 2031, Some("987"))
            .unwrap_or_else(|e| panic!("{e:?}"));
        let facts = card.facts.clone();
        let t = card.into_transit();
        let dbg = format!("{t:?}");
        assert!(
            !dbg.contains("4000056655665556") && !dbg.contains("987"),
            "{dbg}"
        );
        let json = serde_json::to_string(&t).unwrap_or_default();
        let back: CardInTransit = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        let card = Card::from_transit(back);
        assert_eq!(card.secret.number(), "4000056655665556");
        assert_eq!(card.secret.cvc(), Some("987"));
        assert_eq!(card.facts, facts);
    }

    #[test]
    fn bad_card_data_names_the_field() {
        let e = Card::from_raw("4242424242424241", 12, 2034, None).err();
        assert_eq!(e.map(|e| e.field), Some("number"));
        let e = Card::from_raw("4242424242424242", 13, 2034, None).err();
        assert_eq!(e.map(|e| e.code), Some("invalid_expiry_month"));
        let e = Card::from_raw("4242424242424242", 1, 2034, Some("12a")).err();
        assert_eq!(e.map(|e| e.field), Some("cvc"));
    }

    #[test]
    fn test_payment_methods_resolve() {
        let c = Card::from_test_payment_method("pm_card_amex");
        assert_eq!(c.map(|c| c.facts.brand), Some("amex".to_owned()));
        let c = Card::from_test_payment_method("pm_card_fr");
        assert_eq!(c.and_then(|c| c.facts.country), Some("FR".to_owned()));
        let c = Card::from_test_payment_method("pm_card_visa_debit");
        assert_eq!(c.map(|c| c.facts.funding), Some("debit".to_owned()));
        assert!(Card::from_test_payment_method("pm_nope").is_none());
        for pm in [
            "pm_card_visa",
            "pm_card_mastercard",
            "pm_card_discover",
            "pm_card_jcb",
            "pm_card_unionpay",
            "pm_card_diners",
            "pm_card_chargeDeclined",
            "pm_card_chargeDeclinedFraudulent",
            "pm_card_authenticationRequired",
        ] {
            assert!(Card::from_test_payment_method(pm).is_some(), "{pm}");
        }
    }
}
