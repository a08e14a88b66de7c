//! The field catalogue, for rule editors.

use serde::Serialize;

use crate::ast::{FieldType, FIELDS};
use crate::values::{Brand, CaptureMethod, Country, Currency, Funding};

/// One field a rule can test.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: &'static str,
    pub operators: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
    pub description: &'static str,
}

/// Every field, with its operators and, for enumerated fields, its values.
pub fn fields() -> Vec<FieldInfo> {
    let mut out: Vec<FieldInfo> = FIELDS
        .iter()
        .map(|(name, _, ty)| FieldInfo {
            name: (*name).to_owned(),
            ty: ty.name(),
            operators: ty.operators().to_vec(),
            values: values(*ty),
            description: describe(name),
        })
        .collect();
    out.push(FieldInfo {
        name: "metadata.KEY".to_owned(),
        ty: FieldType::Text.name(),
        operators: FieldType::Text.operators().to_vec(),
        values: None,
        description: describe("metadata"),
    });
    out
}

fn values(ty: FieldType) -> Option<Vec<String>> {
    let own = |it: &mut dyn Iterator<Item = &'static str>| Some(it.map(str::to_owned).collect());
    match ty {
        FieldType::Currency => Some(Currency::all().collect()),
        FieldType::Country => own(&mut Country::all()),
        FieldType::Brand => own(&mut Brand::names()),
        FieldType::Funding => own(&mut Funding::names()),
        FieldType::CaptureMethod => own(&mut CaptureMethod::names()),
        _ => None,
    }
}

fn describe(name: &str) -> &'static str {
    match name {
        "amount" => "amount in minor units (cents), in the payment's own currency",
        "currency" => "ISO 4217 currency code, lower case",
        "card.brand" => "card network; derived from the card number when not given",
        "card.bin" => "first 6 to 8 digits of the card number; eq/in compare the BIN cut to the value's length",
        "card.country" => "issuing country, ISO 3166-1 alpha-2",
        "card.funding" => "credit, debit, prepaid or unknown",
        "card.issuer" => "issuing bank name",
        "billing.country" => "billing address country, ISO 3166-1 alpha-2",
        "capture_method" => "automatic or manual capture",
        "off_session" => "merchant-initiated payment",
        "three_d_secure" => "3D Secure was requested",
        _ => "the payment's metadata value for KEY",
    }
}
