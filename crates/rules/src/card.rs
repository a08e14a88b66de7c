//! Card-number facts: the Luhn check, the BIN and the brand by number range.
//!
//! Nothing here keeps or prints the number; callers get back only the
//! derived facts.

use crate::values::{Brand, CardBin};

/// The digits of a card number with spaces and dashes removed, if it is
/// 12 to 19 digits long and passes the Luhn check.
pub fn normalise_number(raw: &str) -> Result<Vec<u8>, NumberProblem> {
    let mut digits = Vec::with_capacity(19);
    for b in raw.bytes() {
        match b {
            b'0'..=b'9' => digits.push(b),
            b' ' | b'-' => {}
            _ => return Err(NumberProblem::NotDigits),
        }
    }
    if !(12..=19).contains(&digits.len()) {
        return Err(NumberProblem::Length);
    }
    if !luhn_ok(&digits) {
        return Err(NumberProblem::Luhn);
    }
    Ok(digits)
}

/// Why a card number was refused (the number itself is never part of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberProblem {
    NotDigits,
    Length,
    Luhn,
}

impl NumberProblem {
    pub fn describe(self) -> &'static str {
        match self {
            NumberProblem::NotDigits => "card.number must contain only digits",
            NumberProblem::Length => "card.number must be 12 to 19 digits long",
            NumberProblem::Luhn => "card.number fails the Luhn check",
        }
    }
}

/// The Luhn (mod 10) check over ASCII digits.
pub fn luhn_ok(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d.wrapping_sub(b'0'));
        if v > 9 {
            return false;
        }
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// The BIN of a normalised number: its first 8 digits.
pub fn bin_of(digits: &[u8]) -> Option<CardBin> {
    let n = digits.len().min(8);
    CardBin::parse(std::str::from_utf8(&digits[..n]).ok()?)
}

/// The last four digits of a normalised number.
pub fn last4_of(digits: &[u8]) -> String {
    let n = digits.len();
    String::from_utf8_lossy(&digits[n.saturating_sub(4)..]).into_owned()
}

fn prefix_num(digits: &[u8], n: usize) -> Option<u32> {
    if digits.len() < n {
        return None;
    }
    let mut v = 0u32;
    for d in &digits[..n] {
        v = v * 10 + u32::from(d.wrapping_sub(b'0'));
    }
    Some(v)
}

/// The brand by the networks' published number ranges. Cartes Bancaires has
/// no range of its own (its cards are co-badged Visa or Mastercard), so it is
/// never derived; a payment states it with `card.brand`.
pub fn brand_of(digits: &[u8]) -> Brand {
    let p = |n| prefix_num(digits, n).unwrap_or(u32::MAX);
    let (p1, p2, p3, p4, p6) = (p(1), p(2), p(3), p(4), p(6));
    if p2 == 34 || p2 == 37 {
        return Brand::Amex;
    }
    if (300..=305).contains(&p3) || p4 == 3095 || p2 == 36 || p2 == 38 || p2 == 39 {
        return Brand::Diners;
    }
    if (3528..=3589).contains(&p4) {
        return Brand::Jcb;
    }
    if matches!(
        p4,
        5018 | 5020 | 5038 | 5893 | 6304 | 6759 | 6761 | 6762 | 6763
    ) {
        return Brand::Maestro;
    }
    if p1 == 4 {
        return Brand::Visa;
    }
    if (51..=55).contains(&p2) || (222_100..=272_099).contains(&p6) {
        return Brand::Mastercard;
    }
    if p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 {
        return Brand::Discover;
    }
    if p2 == 62 || p2 == 81 {
        return Brand::Unionpay;
    }
    if p2 == 50 || (56..=58).contains(&p2) || p2 == 67 {
        return Brand::Maestro;
    }
    Brand::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brand(n: &str) -> Brand {
        match normalise_number(n) {
            Ok(d) => brand_of(&d),
            Err(e) => panic!("{n}: {e:?}"),
        }
    }

    #[test]
    fn brands_of_well_known_test_numbers() {
        assert_eq!(brand("4242424242424242"), Brand::Visa);
        assert_eq!(brand("4000 0566 5566 5556"), Brand::Visa);
        assert_eq!(brand("5555555555554444"), Brand::Mastercard);
        assert_eq!(brand("2223003122003222"), Brand::Mastercard);
        assert_eq!(brand("378282246310005"), Brand::Amex);
        assert_eq!(brand("371449635398431"), Brand::Amex);
        assert_eq!(brand("6011111111111117"), Brand::Discover);
        assert_eq!(brand("3056930009020004"), Brand::Diners);
        assert_eq!(brand("36227206271667"), Brand::Diners);
        assert_eq!(brand("3566002020360505"), Brand::Jcb);
        assert_eq!(brand("6200000000000005"), Brand::Unionpay);
        assert_eq!(brand("6759649826438453"), Brand::Maestro);
    }

    #[test]
    fn luhn_and_shape() {
        assert_eq!(
            normalise_number("4242424242424241"),
            Err(NumberProblem::Luhn)
        );
        assert_eq!(normalise_number("4242"), Err(NumberProblem::Length));
        assert_eq!(normalise_number("4242x"), Err(NumberProblem::NotDigits));
        let d = normalise_number("4242-4242-4242-4242").unwrap_or_default();
        assert_eq!(
            bin_of(&d).map(|b| b.as_str().to_owned()),
            Some("42424242".into())
        );
        assert_eq!(last4_of(&d), "4242");
    }
}
