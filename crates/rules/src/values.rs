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
        let code = std::str::from_utf8(&up).ok()?;
        if ISO_4217.split(' ').any(|c| c == code) {
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
        ISO_4217.split(' ').map(str::to_ascii_lowercase)
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
        let code = std::str::from_utf8(&up).ok()?;
        if ISO_3166.split(' ').any(|c| c == code) {
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
        ISO_3166.split(' ')
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

/// ISO 4217 codes in use (and the funds and precious-metal codes).
const ISO_4217: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWG ZWL";

/// ISO 3166-1 alpha-2 codes, plus XK (Kosovo, used by the card networks).
const ISO_3166: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW";

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
