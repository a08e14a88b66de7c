//! Domain newtypes: money, currencies, countries and the enumerated card facts.
//!
//! Every value the engine compares is turned into one of these once, when a
//! rule set is compiled or a payment is read; the hot path compares small
//! integers, never JSON.

use std::fmt;

/// An amount in the currency's minor units (cents). Never a float.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MinorUnits(pub u64);

impl MinorUnits {
    /// The largest amount accepted: 2^53 - 1, so that JavaScript callers
    /// round-trip every amount exactly.
    pub const MAX: u64 = (1 << 53) - 1;
    pub fn get(self) -> u64 {
        self.0
    }

    /// A payment's amount from a JSON number (rules.md, Payment input), or
    /// what is wrong with it.
    pub fn from_amount(a: f64) -> Result<MinorUnits, &'static str> {
        if a.fract() != 0.0 || !a.is_finite() {
            Err("amount is a whole number of minor units (cents)")
        } else if a < 1.0 {
            Err("a payment's amount is positive")
        } else if a > MinorUnits::MAX as f64 {
            Err("amount is at most 9007199254740991")
        } else {
            Ok(MinorUnits(a as u64))
        }
    }
}

impl fmt::Display for MinorUnits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An ISO 4217 currency code, kept lower case (`eur`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    /// `xxx`, ISO 4217's "no currency": a placeholder, never a payment's.
    pub(crate) const NONE: Currency = Currency(*b"xxx");

    /// Parses a code in either case; `None` unless it is an ISO 4217 code.
    pub fn parse(s: &str) -> Option<Currency> {
        let b = s.as_bytes();
        if b.len() != 3 || !b.iter().all(u8::is_ascii_alphabetic) {
            return None;
        }
        let up = [
            b[0].to_ascii_uppercase(),
            b[1].to_ascii_uppercase(),
            b[2].to_ascii_uppercase(),
        ];
        if bit(&ISO_4217_SET, letters(&up)) {
            Some(Currency([
                up[0].to_ascii_lowercase(),
                up[1].to_ascii_lowercase(),
                up[2].to_ascii_lowercase(),
            ]))
        } else {
            None
        }
    }
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
    pub(crate) fn code(self) -> u32 {
        u32::from_be_bytes([0, self.0[0], self.0[1], self.0[2]])
    }
    /// Every known code, lower case, for suggestions and the field catalogue.
    pub fn all() -> impl Iterator<Item = String> {
        ISO_4217
            .iter()
            .map(|c| String::from_utf8_lossy(c).to_ascii_lowercase())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An ISO 3166-1 alpha-2 country code, kept upper case (`FR`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country([u8; 2]);

impl Country {
    /// Parses a code in either case; `None` unless it is an ISO 3166-1 code
    /// (or `XK`, Kosovo, which card networks use).
    pub fn parse(s: &str) -> Option<Country> {
        let b = s.as_bytes();
        if b.len() != 2 || !b.iter().all(u8::is_ascii_alphabetic) {
            return None;
        }
        let up = [b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()];
        if bit(&ISO_3166_SET, letters(&up)) {
            Some(Country(up))
        } else {
            None
        }
    }
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
    pub(crate) fn code(self) -> u32 {
        u32::from_be_bytes([0, 0, self.0[0], self.0[1]])
    }
    pub fn all() -> impl Iterator<Item = &'static str> {
        ISO_3166.iter().filter_map(|c| std::str::from_utf8(c).ok())
    }
}

impl fmt::Debug for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! keyword_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            /// Parses the lower-case keyword (case-insensitively).
            pub fn parse(s: &str) -> Option<$name> {
                $(if s.eq_ignore_ascii_case($text) { return Some($name::$variant); })+
                None
            }
            pub fn names() -> impl Iterator<Item = &'static str> {
                Self::ALL.iter().map(|v| v.as_str())
            }
            pub(crate) fn code(self) -> u32 {
                self as u32
            }
        }
    };
}

keyword_enum!(
    /// Card network brand.
    Brand {
        Visa = "visa",
        Mastercard = "mastercard",
        Amex = "amex",
        Discover = "discover",
        Jcb = "jcb",
        Diners = "diners",
        Unionpay = "unionpay",
        Maestro = "maestro",
        CartesBancaires = "cartes_bancaires",
        Unknown = "unknown",
    }
);

keyword_enum!(
    /// How the card is funded.
    Funding {
        Credit = "credit",
        Debit = "debit",
        Prepaid = "prepaid",
        Unknown = "unknown",
    }
);

keyword_enum!(
    /// When the payment is captured.
    CaptureMethod {
        Automatic = "automatic",
        Manual = "manual",
    }
);

/// The leading 6 to 8 digits of a card number.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CardBin {
    digits: [u8; 8],
    len: u8,
}

impl CardBin {
    /// 6 to 8 ASCII digits.
    pub fn parse(s: &str) -> Option<CardBin> {
        let b = s.as_bytes();
        if !(6..=8).contains(&b.len()) || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut digits = [0u8; 8];
        digits[..b.len()].copy_from_slice(b);
        Some(CardBin {
            digits,
            len: b.len() as u8,
        })
    }
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.digits[..self.len as usize]).unwrap_or("")
    }
}

impl fmt::Debug for CardBin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// ISO 4217 codes in use (and the funds and precious-metal codes), sorted.
/// Upper-case ASCII letters as a number in base 26 (the code's index in a
/// set of all codes of its length).
const fn letters(code: &[u8]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < code.len() {
        n = n * 26 + (code[i] - b'A') as usize;
        i += 1;
    }
    n
}

/// A bit set of codes, one bit per code of their length: a code is checked
/// with one load, not a search.
const fn code_set<const N: usize, const W: usize>(codes: &[[u8; N]]) -> [u64; W] {
    let mut set = [0u64; W];
    let mut i = 0;
    while i < codes.len() {
        let n = letters(&codes[i]);
        set[n / 64] |= 1 << (n % 64);
        i += 1;
    }
    set
}

fn bit(set: &[u64], n: usize) -> bool {
    set.get(n / 64).is_some_and(|w| w >> (n % 64) & 1 == 1)
}

const ISO_4217_SET: [u64; (26 * 26 * 26usize).div_ceil(64)] = code_set(&ISO_4217);
const ISO_3166_SET: [u64; (26 * 26usize).div_ceil(64)] = code_set(&ISO_3166);

const ISO_4217: [[u8; 3]; 183] = [
    *b"AED", *b"AFN", *b"ALL", *b"AMD", *b"ANG", *b"AOA", *b"ARS", *b"AUD", *b"AWG", *b"AZN",
    *b"BAM", *b"BBD", *b"BDT", *b"BGN", *b"BHD", *b"BIF", *b"BMD", *b"BND", *b"BOB", *b"BOV",
    *b"BRL", *b"BSD", *b"BTN", *b"BWP", *b"BYN", *b"BZD", *b"CAD", *b"CDF", *b"CHE", *b"CHF",
    *b"CHW", *b"CLF", *b"CLP", *b"CNY", *b"COP", *b"COU", *b"CRC", *b"CUC", *b"CUP", *b"CVE",
    *b"CZK", *b"DJF", *b"DKK", *b"DOP", *b"DZD", *b"EGP", *b"ERN", *b"ETB", *b"EUR", *b"FJD",
    *b"FKP", *b"GBP", *b"GEL", *b"GHS", *b"GIP", *b"GMD", *b"GNF", *b"GTQ", *b"GYD", *b"HKD",
    *b"HNL", *b"HRK", *b"HTG", *b"HUF", *b"IDR", *b"ILS", *b"INR", *b"IQD", *b"IRR", *b"ISK",
    *b"JMD", *b"JOD", *b"JPY", *b"KES", *b"KGS", *b"KHR", *b"KMF", *b"KPW", *b"KRW", *b"KWD",
    *b"KYD", *b"KZT", *b"LAK", *b"LBP", *b"LKR", *b"LRD", *b"LSL", *b"LYD", *b"MAD", *b"MDL",
    *b"MGA", *b"MKD", *b"MMK", *b"MNT", *b"MOP", *b"MRU", *b"MUR", *b"MVR", *b"MWK", *b"MXN",
    *b"MXV", *b"MYR", *b"MZN", *b"NAD", *b"NGN", *b"NIO", *b"NOK", *b"NPR", *b"NZD", *b"OMR",
    *b"PAB", *b"PEN", *b"PGK", *b"PHP", *b"PKR", *b"PLN", *b"PYG", *b"QAR", *b"RON", *b"RSD",
    *b"RUB", *b"RWF", *b"SAR", *b"SBD", *b"SCR", *b"SDG", *b"SEK", *b"SGD", *b"SHP", *b"SLE",
    *b"SLL", *b"SOS", *b"SRD", *b"SSP", *b"STN", *b"SVC", *b"SYP", *b"SZL", *b"THB", *b"TJS",
    *b"TMT", *b"TND", *b"TOP", *b"TRY", *b"TTD", *b"TWD", *b"TZS", *b"UAH", *b"UGX", *b"USD",
    *b"USN", *b"UYI", *b"UYU", *b"UYW", *b"UZS", *b"VED", *b"VES", *b"VND", *b"VUV", *b"WST",
    *b"XAF", *b"XAG", *b"XAU", *b"XBA", *b"XBB", *b"XBC", *b"XBD", *b"XCD", *b"XCG", *b"XDR",
    *b"XOF", *b"XPD", *b"XPF", *b"XPT", *b"XSU", *b"XTS", *b"XUA", *b"XXX", *b"YER", *b"ZAR",
    *b"ZMW", *b"ZWG", *b"ZWL",
];

/// ISO 3166-1 alpha-2 codes, plus XK (Kosovo, used by the card networks), sorted.
const ISO_3166: [[u8; 2]; 250] = [
    *b"AD", *b"AE", *b"AF", *b"AG", *b"AI", *b"AL", *b"AM", *b"AO", *b"AQ", *b"AR", *b"AS", *b"AT",
    *b"AU", *b"AW", *b"AX", *b"AZ", *b"BA", *b"BB", *b"BD", *b"BE", *b"BF", *b"BG", *b"BH", *b"BI",
    *b"BJ", *b"BL", *b"BM", *b"BN", *b"BO", *b"BQ", *b"BR", *b"BS", *b"BT", *b"BV", *b"BW", *b"BY",
    *b"BZ", *b"CA", *b"CC", *b"CD", *b"CF", *b"CG", *b"CH", *b"CI", *b"CK", *b"CL", *b"CM", *b"CN",
    *b"CO", *b"CR", *b"CU", *b"CV", *b"CW", *b"CX", *b"CY", *b"CZ", *b"DE", *b"DJ", *b"DK", *b"DM",
    *b"DO", *b"DZ", *b"EC", *b"EE", *b"EG", *b"EH", *b"ER", *b"ES", *b"ET", *b"FI", *b"FJ", *b"FK",
    *b"FM", *b"FO", *b"FR", *b"GA", *b"GB", *b"GD", *b"GE", *b"GF", *b"GG", *b"GH", *b"GI", *b"GL",
    *b"GM", *b"GN", *b"GP", *b"GQ", *b"GR", *b"GS", *b"GT", *b"GU", *b"GW", *b"GY", *b"HK", *b"HM",
    *b"HN", *b"HR", *b"HT", *b"HU", *b"ID", *b"IE", *b"IL", *b"IM", *b"IN", *b"IO", *b"IQ", *b"IR",
    *b"IS", *b"IT", *b"JE", *b"JM", *b"JO", *b"JP", *b"KE", *b"KG", *b"KH", *b"KI", *b"KM", *b"KN",
    *b"KP", *b"KR", *b"KW", *b"KY", *b"KZ", *b"LA", *b"LB", *b"LC", *b"LI", *b"LK", *b"LR", *b"LS",
    *b"LT", *b"LU", *b"LV", *b"LY", *b"MA", *b"MC", *b"MD", *b"ME", *b"MF", *b"MG", *b"MH", *b"MK",
    *b"ML", *b"MM", *b"MN", *b"MO", *b"MP", *b"MQ", *b"MR", *b"MS", *b"MT", *b"MU", *b"MV", *b"MW",
    *b"MX", *b"MY", *b"MZ", *b"NA", *b"NC", *b"NE", *b"NF", *b"NG", *b"NI", *b"NL", *b"NO", *b"NP",
    *b"NR", *b"NU", *b"NZ", *b"OM", *b"PA", *b"PE", *b"PF", *b"PG", *b"PH", *b"PK", *b"PL", *b"PM",
    *b"PN", *b"PR", *b"PS", *b"PT", *b"PW", *b"PY", *b"QA", *b"RE", *b"RO", *b"RS", *b"RU", *b"RW",
    *b"SA", *b"SB", *b"SC", *b"SD", *b"SE", *b"SG", *b"SH", *b"SI", *b"SJ", *b"SK", *b"SL", *b"SM",
    *b"SN", *b"SO", *b"SR", *b"SS", *b"ST", *b"SV", *b"SX", *b"SY", *b"SZ", *b"TC", *b"TD", *b"TF",
    *b"TG", *b"TH", *b"TJ", *b"TK", *b"TL", *b"TM", *b"TN", *b"TO", *b"TR", *b"TT", *b"TV", *b"TW",
    *b"TZ", *b"UA", *b"UG", *b"UM", *b"US", *b"UY", *b"UZ", *b"VA", *b"VC", *b"VE", *b"VG", *b"VI",
    *b"VN", *b"VU", *b"WF", *b"WS", *b"XK", *b"YE", *b"YT", *b"ZA", *b"ZM", *b"ZW",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_is_normalised_and_checked() {
        assert_eq!(
            Currency::parse("EUR").map(|c| c.as_str().to_owned()),
            Some("eur".into())
        );
        assert!(Currency::parse("eur").is_some());
        assert!(Currency::parse("eu").is_none());
        assert!(Currency::parse("abc").is_none());
        assert!(Currency::parse("€ur").is_none());
    }

    #[test]
    fn amounts() {
        assert_eq!(MinorUnits::from_amount(1.0), Ok(MinorUnits(1)));
        let max = MinorUnits::MAX as f64;
        assert_eq!(
            MinorUnits::from_amount(max),
            Ok(MinorUnits(MinorUnits::MAX))
        );
        let over = MinorUnits::from_amount(max + 2.0);
        assert_eq!(
            over,
            Err(format!("amount is at most {}", MinorUnits::MAX).as_str())
        );
        assert!(MinorUnits::from_amount(0.0).is_err());
        assert!(MinorUnits::from_amount(1.5).is_err());
        assert!(MinorUnits::from_amount(f64::NAN).is_err());
        assert!(MinorUnits::from_amount(f64::INFINITY).is_err());
    }

    #[test]
    fn every_code_set_holds_its_list_and_nothing_else() {
        for c in ISO_4217 {
            assert!(bit(&ISO_4217_SET, letters(&c)));
        }
        for c in ISO_3166 {
            assert!(bit(&ISO_3166_SET, letters(&c)));
        }
        let held = |set: &[u64]| set.iter().map(|w| w.count_ones() as usize).sum::<usize>();
        assert_eq!(held(&ISO_4217_SET), ISO_4217.len());
        assert_eq!(held(&ISO_3166_SET), ISO_3166.len());
    }

    #[test]
    fn country_and_bin() {
        assert_eq!(
            Country::parse("fr").map(|c| c.as_str().to_owned()),
            Some("FR".into())
        );
        assert!(Country::parse("ZZ").is_none());
        assert!(CardBin::parse("424242").is_some());
        assert!(CardBin::parse("42424").is_none());
        assert!(CardBin::parse("424242424").is_none());
        assert!(CardBin::parse("4242a2").is_none());
    }
}
