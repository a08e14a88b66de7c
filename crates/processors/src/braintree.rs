//! Braintree, through its GraphQL API.
//!
//! Wire format (Braintree's "Making API calls" guide and its published
//! schema, github.com/braintree/graphql-api): every call is
//! `POST {base}/graphql` with a JSON body `{"query", "variables"}`,
//! `Authorization: Basic base64(public_key:private_key)` and a pinned
//! `Braintree-Version` date. Answers are HTTP 200 with `data` and/or
//! `errors` (each error with `extensions.errorClass` and often
//! `extensions.legacyCode`).
//!
//! The operations (`tests/fakes/braintree/schema.graphql` is the subset of
//! the schema they use):
//! - authorize: `tokenizeCreditCard` (the card becomes a single-use payment
//!   method), then `authorizePaymentMethod` (manual capture) or
//!   `chargePaymentMethod` (automatic capture). The schema's
//!   `authorizeCreditCard`/`chargeCreditCard` also take a `paymentMethodId`
//!   (they only add card-specific options), so they save no step: the
//!   generic mutations are used.
//! - capture `captureTransaction` (with `amount`: partial or full), void
//!   `reverseTransaction` (voids an unsettled transaction; on a settled one
//!   Braintree refunds it in full instead, and the refund is answered),
//!   refund `refundTransaction` (with `amount` and the refund's `orderId`).
//! - lookup: `search { transactions(input: {orderId: {is: key}}) }` and
//!   `search { refunds(...) }`.
//!
//! Idempotency. Braintree's GraphQL API has NO idempotency key: a resent
//! mutation creates a second transaction. So the call's key is sent as the
//! transaction's `orderId` (and the refund's `orderId`, and as the
//! `clientMutationId`), and every money-moving call looks before it writes:
//! - authorize: step 0 searches the transactions by `orderId = key`; if an
//!   earlier attempt of this call left a transaction, its outcome is the
//!   answer and nothing is resent (a FAILED one, certainly not charged, is
//!   retried); only with no record does it tokenize and authorize.
//! - capture / void: step 0 reads the transaction; already captured (or
//!   voided) answers Approved without a second capture (void).
//! - refund: step 0 searches the refunds by `orderId = key`.
//!
//! What this cannot close: an attempt still in flight at Braintree (sent,
//! answer lost, not yet visible to search) is not seen by the search of a
//! retry sent at once, and a retry then charges twice. The worker should
//! resolve an `Unknown` Braintree authorization with `Call::Lookup` (after
//! the call's timeout has passed), never by resending at once.
//!
//! `orderId` holds at most 255 characters; a longer key is replaced by
//! `sy-` + the hex SHA-256 of the key (67 characters), deterministically,
//! so that the lookup finds it again.
//!
//! Outcomes. Transaction status AUTHORIZED, SUBMITTED_FOR_SETTLEMENT,
//! SETTLING, SETTLED (and SETTLEMENT_PENDING / _CONFIRMED) are approved;
//! PROCESSOR_DECLINED is declined by its `legacyCode` (`PROCESSOR_RESPONSES`);
//! GATEWAY_REJECTED by its reason (`GATEWAY_REJECTIONS`; APPLICATION_INCOMPLETE,
//! the sandbox's 5001.00, is not processed: the account may not process yet);
//! FAILED (the sandbox's 3000.00, "an error occurred when sending the payment
//! to the downstream processor") is not processed: a terminal status, nothing
//! Braintree can ever capture; AUTHORIZING or anything else is unknown.
//! GraphQL `errors` by `extensions.errorClass`: VALIDATION (Braintree
//! refused the input before processing; a document that does not validate
//! too), AUTHENTICATION, AUTHORIZATION, UNSUPPORTED_CLIENT, NOT_FOUND and
//! RESOURCE_LIMIT are not processed, except a VALIDATION error carrying a
//! processor response code (2000-3999), which is that decline; INTERNAL,
//! SERVICE_AVAILABILITY, no class or any other class is unknown. HTTP 429
//! is not processed; a lost answer, a 5xx or other status without such an
//! error, or an unreadable body is unknown. A failed tokenization (step 1
//! of an authorization, lost answer included) is not processed: it moves no
//! money and the authorization was never sent.
//!
//! Amounts are decimal strings in the currency's major unit, written from
//! minor units with the ISO 4217 exponent (0: JPY, KRW, ...; 3: BHD, KWD,
//! ...; else 2), by integer arithmetic. Braintree takes the currency from
//! the merchant account (`merchantAccountId` = `config.account`, or the
//! gateway's default): the account must be in the payment's currency, so a
//! Braintree processor is configured with its account's `currency` and the
//! worker sends it no payment in another.
//!
//! No idempotency key: `deduplicates()` is false, so the worker never sends
//! a call of unknown outcome again at once; it looks it up (by `orderId`).

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::adapter::{Adapter, Call, Delivery, Looked, Outcome, Parsed, WireRequest};
use crate::config::{Credentials, ProcessorConfig};
use crate::decline::{Decline, DeclineClass};

/// The `Braintree-Version` sent with every request: the date of the
/// published schema the adapter was written against.
pub const BRAINTREE_VERSION: &str = "2025-04-29";

/// Braintree's limit on `orderId` (and `clientMutationId`).
pub const ORDER_ID_MAX: usize = 255;

/// The transaction fields every answer is read from.
const TX_FIELDS: &str = "fragment TxFields on Transaction { id status orderId amount { value currencyCode } statusHistory { __typename status ... on ProcessorDeclinedEvent { declineType processorResponse { legacyCode message } } ... on GatewayRejectedEvent { gatewayRejectionReason processorResponse { legacyCode message } } ... on FailedEvent { processorResponse { legacyCode message } } } }";

const REFUND_FIELDS: &str = "fragment RefundFields on Refund { id status orderId amount { value currencyCode } refundedTransaction { id } statusHistory { __typename status ... on ProcessorDeclinedEvent { declineType processorResponse { legacyCode message } } ... on FailedEvent { processorResponse { legacyCode message } } } }";

pub const TOKENIZE: &str = "mutation Tokenize($input: TokenizeCreditCardInput!) { tokenizeCreditCard(input: $input) { clientMutationId paymentMethod { id } } }";
const AUTHORIZE_OP: &str = "mutation Authorize($input: AuthorizePaymentMethodInput!) { authorizePaymentMethod(input: $input) { clientMutationId transaction { ...TxFields } } }";
const CHARGE_OP: &str = "mutation Charge($input: ChargePaymentMethodInput!) { chargePaymentMethod(input: $input) { clientMutationId transaction { ...TxFields } } }";
const CAPTURE_OP: &str = "mutation Capture($input: CaptureTransactionInput!) { captureTransaction(input: $input) { clientMutationId transaction { ...TxFields } } }";
const REVERSE_OP: &str = "mutation Reverse($input: ReverseTransactionInput!) { reverseTransaction(input: $input) { clientMutationId reversal { __typename ... on Transaction { ...TxFields } ... on Refund { ...RefundFields } } } }";
const REFUND_OP: &str = "mutation Refund($input: RefundTransactionInput!) { refundTransaction(input: $input) { clientMutationId refund { ...RefundFields } } }";
const FIND_TX_OP: &str = "query FindTransactions($input: TransactionSearchInput!) { search { transactions(input: $input, first: 10) { edges { node { ...TxFields } } } } }";
const FIND_REFUNDS_OP: &str = "query FindRefunds($input: RefundSearchInput!) { search { refunds(input: $input, first: 10) { edges { node { ...RefundFields } } } } }";

/// Every GraphQL document the adapter can send (for the schema check of
/// `tests/processors/braintree.test.mjs`).
pub fn documents() -> Vec<String> {
    vec![
        TOKENIZE.to_owned(),
        format!("{AUTHORIZE_OP} {TX_FIELDS}"),
        format!("{CHARGE_OP} {TX_FIELDS}"),
        format!("{CAPTURE_OP} {TX_FIELDS}"),
        format!("{REVERSE_OP} {TX_FIELDS} {REFUND_FIELDS}"),
        format!("{REFUND_OP} {REFUND_FIELDS}"),
        format!("{FIND_TX_OP} {TX_FIELDS}"),
        format!("{FIND_REFUNDS_OP} {REFUND_FIELDS}"),
    ]
}

/// One of Braintree's processor response codes (authorization responses,
/// developer.paypal.com/braintree/docs/reference/general/processor-responses/authorization-responses):
/// its text, the Stripe `decline_code` it maps to, and the class Braintree
/// documents (soft: may be retried; hard: not with this card).
pub struct ProcessorResponse {
    pub code: &'static str,
    pub text: &'static str,
    pub stripe: &'static str,
    pub class: DeclineClass,
}

const fn pr(
    code: &'static str,
    text: &'static str,
    stripe: &'static str,
    class: DeclineClass,
) -> ProcessorResponse {
    ProcessorResponse {
        code,
        text,
        stripe,
        class,
    }
}

use DeclineClass::{AuthenticationRequired as Auth, Hard, Soft};

/// Braintree's published 2000- and 3000-class codes. The class is
/// Braintree's, also where `decline::classify` of the Stripe code says
/// otherwise (the Decline is then built with Braintree's class: see
/// `decline_for_code`). Two deliberate departures, marked: 2016 (Duplicate
/// Transaction, soft at Braintree) is hard here, since moving a duplicate
/// to another processor could charge the customer twice; 2099 (Cardholder
/// Authentication Required, soft at Braintree) is authentication required.
/// 2109 to 2999 are "Processor Declined", soft (`range_decline`).
pub const PROCESSOR_RESPONSES: &[ProcessorResponse] = &[
    pr("2000", "Do Not Honor", "do_not_honor", Soft),
    pr("2001", "Insufficient Funds", "insufficient_funds", Soft),
    pr("2002", "Limit Exceeded", "card_velocity_exceeded", Soft),
    pr(
        "2003",
        "Cardholder's Activity Limit Exceeded",
        "withdrawal_count_limit_exceeded",
        Soft,
    ),
    pr("2004", "Expired Card", "expired_card", Hard),
    pr(
        "2005",
        "Invalid Credit Card Number",
        "incorrect_number",
        Hard,
    ),
    pr(
        "2006",
        "Invalid Expiration Date",
        "invalid_expiry_year",
        Hard,
    ),
    pr("2007", "No Account", "invalid_account", Hard),
    pr("2008", "Card Account Length Error", "invalid_number", Hard),
    pr("2009", "No Such Issuer", "invalid_account", Hard),
    pr("2010", "Card Issuer Declined CVV", "incorrect_cvc", Hard),
    // call_issuer is soft to classify(); Braintree: hard.
    pr("2011", "Voice Authorization Required", "call_issuer", Hard),
    pr(
        "2012",
        "Processor Declined - Possible Lost Card",
        "lost_card",
        Hard,
    ),
    pr(
        "2013",
        "Processor Declined - Possible Stolen Card",
        "stolen_card",
        Hard,
    ),
    pr(
        "2014",
        "Processor Declined - Fraud Suspected",
        "fraudulent",
        Hard,
    ),
    // transaction_not_allowed is soft to classify(); Braintree: hard.
    pr(
        "2015",
        "Transaction Not Allowed",
        "transaction_not_allowed",
        Hard,
    ),
    // Braintree: soft. Here hard (see above).
    pr(
        "2016",
        "Duplicate Transaction",
        "duplicate_transaction",
        Hard,
    ),
    pr(
        "2017",
        "Cardholder Stopped Billing",
        "stop_payment_order",
        Hard,
    ),
    pr(
        "2018",
        "Cardholder Stopped All Billing",
        "revocation_of_all_authorizations",
        Hard,
    ),
    pr(
        "2019",
        "Invalid Transaction",
        "transaction_not_allowed",
        Hard,
    ),
    pr("2020", "Violation", "security_violation", Hard),
    pr("2021", "Security Violation", "security_violation", Hard),
    pr(
        "2022",
        "Declined - Updated Cardholder Available",
        "do_not_try_again",
        Hard,
    ),
    // service_not_allowed is soft to classify(); Braintree: hard.
    pr(
        "2023",
        "Processor Does Not Support This Feature",
        "service_not_allowed",
        Hard,
    ),
    pr("2024", "Card Type Not Enabled", "card_not_supported", Hard),
    pr("2025", "Set Up Error - Merchant", "processing_error", Soft),
    pr("2026", "Invalid Merchant ID", "processing_error", Soft),
    pr("2027", "Set Up Error - Amount", "invalid_amount", Hard),
    // processing_error is soft to classify(); Braintree: hard (2028-2033).
    pr("2028", "Set Up Error - Hierarchy", "processing_error", Hard),
    pr("2029", "Set Up Error - Card", "processing_error", Hard),
    pr("2030", "Set Up Error - Terminal", "processing_error", Hard),
    pr("2031", "Encryption Error", "processing_error", Hard),
    pr("2032", "Surcharge Not Permitted", "not_permitted", Hard),
    pr("2033", "Inconsistent Data", "processing_error", Hard),
    pr("2034", "No Action Taken", "try_again_later", Soft),
    pr(
        "2035",
        "Partial Approval For Amount In Group III Version",
        "generic_decline",
        Soft,
    ),
    // generic_decline is soft to classify(); Braintree: hard.
    pr(
        "2036",
        "Authorization could not be found",
        "generic_decline",
        Hard,
    ),
    pr("2037", "Already Reversed", "generic_decline", Hard),
    pr("2038", "Processor Declined", "generic_decline", Soft),
    pr(
        "2039",
        "Invalid Authorization Code",
        "generic_decline",
        Hard,
    ),
    pr("2040", "Invalid Store", "processing_error", Soft),
    pr("2041", "Declined - Call For Approval", "call_issuer", Hard),
    pr("2042", "Invalid Client ID", "processing_error", Soft),
    pr(
        "2043",
        "Error - Do Not Retry, Call Issuer",
        "do_not_try_again",
        Hard,
    ),
    pr("2044", "Declined - Call Issuer", "call_issuer", Hard),
    pr("2045", "Invalid Merchant Number", "processing_error", Hard),
    pr("2046", "Declined", "generic_decline", Soft),
    pr("2047", "Call Issuer. Pick Up Card", "pickup_card", Hard),
    // invalid_amount is hard to classify(); Braintree: soft.
    pr("2048", "Invalid Amount", "invalid_amount", Soft),
    pr("2049", "Invalid SKU Number", "generic_decline", Hard),
    pr("2050", "Invalid Credit Plan", "generic_decline", Hard),
    pr(
        "2051",
        "Credit Card Number does not match method of payment",
        "incorrect_number",
        Hard,
    ),
    pr(
        "2052",
        "Invalid level III Purchase",
        "generic_decline",
        Hard,
    ),
    pr("2053", "Card reported as lost or stolen", "lost_card", Hard),
    pr(
        "2054",
        "Reversal amount does not match authorization amount",
        "generic_decline",
        Hard,
    ),
    pr(
        "2055",
        "Invalid Transaction Division Number",
        "processing_error",
        Hard,
    ),
    pr(
        "2056",
        "Transaction amount exceeds the transaction division limit",
        "invalid_amount",
        Hard,
    ),
    // restricted_card is hard to classify(); Braintree: soft.
    pr(
        "2057",
        "Issuer or Cardholder has put a restriction on the card",
        "restricted_card",
        Soft,
    ),
    pr(
        "2058",
        "Merchant not Mastercard SecureCode enabled",
        "generic_decline",
        Hard,
    ),
    pr("2059", "Address Verification Failed", "incorrect_zip", Hard),
    pr(
        "2060",
        "Address Verification and Card Security Code Failed",
        "incorrect_cvc",
        Hard,
    ),
    pr("2061", "Invalid Transaction Data", "generic_decline", Hard),
    pr("2062", "Invalid Tax Amount", "generic_decline", Soft),
    pr(
        "2063",
        "PayPal Business Account preference resulted in the transaction failing",
        "generic_decline",
        Hard,
    ),
    pr(
        "2064",
        "Invalid Currency Code",
        "currency_not_supported",
        Hard,
    ),
    pr(
        "2065",
        "Refund Time Limit Exceeded",
        "generic_decline",
        Hard,
    ),
    pr(
        "2066",
        "PayPal Business Account Restricted",
        "generic_decline",
        Hard,
    ),
    pr("2067", "Authorization Expired", "generic_decline", Hard),
    pr(
        "2068",
        "PayPal Business Account Locked or Closed",
        "generic_decline",
        Hard,
    ),
    pr(
        "2069",
        "PayPal Blocking Duplicate Order IDs",
        "duplicate_transaction",
        Hard,
    ),
    pr(
        "2070",
        "PayPal Buyer Revoked Pre-Approved Payment Authorization",
        "revocation_of_authorization",
        Hard,
    ),
    pr(
        "2071",
        "PayPal Payee Account Invalid Or Does Not Have a Confirmed Email",
        "generic_decline",
        Hard,
    ),
    pr(
        "2072",
        "PayPal Payee Email Incorrectly Formatted",
        "generic_decline",
        Hard,
    ),
    pr("2073", "PayPal Validation Error", "generic_decline", Hard),
    pr(
        "2074",
        "Funding Instrument In The PayPal Account Was Declined By The Processor Or Bank",
        "generic_decline",
        Hard,
    ),
    pr(
        "2075",
        "Payer Account Is Locked Or Closed",
        "generic_decline",
        Hard,
    ),
    pr(
        "2076",
        "Payer Cannot Pay For This Transaction With PayPal",
        "generic_decline",
        Hard,
    ),
    pr(
        "2077",
        "Transaction Refused Due To PayPal Risk Model",
        "fraudulent",
        Hard,
    ),
    pr(
        "2078",
        "Invalid Secure Payment Data",
        "processing_error",
        Soft,
    ),
    pr(
        "2079",
        "PayPal Merchant Account Configuration Error",
        "generic_decline",
        Hard,
    ),
    pr("2080", "Invalid user credentials", "processing_error", Soft),
    pr(
        "2081",
        "PayPal pending payments are not supported",
        "generic_decline",
        Hard,
    ),
    pr(
        "2082",
        "PayPal Domestic Transaction Required",
        "generic_decline",
        Hard,
    ),
    pr(
        "2083",
        "PayPal Phone Number Required",
        "generic_decline",
        Hard,
    ),
    pr("2084", "PayPal Tax Info Required", "generic_decline", Hard),
    pr(
        "2085",
        "PayPal Payee Blocked Transaction",
        "generic_decline",
        Hard,
    ),
    pr(
        "2086",
        "PayPal Transaction Limit Exceeded",
        "generic_decline",
        Hard,
    ),
    pr(
        "2087",
        "PayPal reference transactions not enabled for your account",
        "generic_decline",
        Hard,
    ),
    pr(
        "2088",
        "Currency not enabled for your PayPal seller account",
        "currency_not_supported",
        Hard,
    ),
    pr(
        "2089",
        "PayPal payee email permission denied for this request",
        "generic_decline",
        Hard,
    ),
    pr(
        "2090",
        "PayPal or Venmo account not configured to refund more than settled amount",
        "generic_decline",
        Hard,
    ),
    pr(
        "2091",
        "Currency of this transaction must match currency of your PayPal account",
        "currency_not_supported",
        Hard,
    ),
    pr(
        "2092",
        "No Data Found - Try Another Verification Method",
        "generic_decline",
        Soft,
    ),
    pr(
        "2093",
        "PayPal payment method is invalid",
        "generic_decline",
        Hard,
    ),
    pr(
        "2094",
        "PayPal payment has already been completed",
        "generic_decline",
        Hard,
    ),
    pr(
        "2095",
        "PayPal refund is not allowed after partial refund",
        "generic_decline",
        Hard,
    ),
    pr(
        "2096",
        "PayPal buyer account can't be the same as the seller account",
        "generic_decline",
        Hard,
    ),
    pr(
        "2097",
        "PayPal authorization amount limit exceeded",
        "generic_decline",
        Hard,
    ),
    pr(
        "2098",
        "PayPal authorization count limit exceeded",
        "generic_decline",
        Hard,
    ),
    // Braintree: soft (authenticate and retry). Here: authentication required.
    pr(
        "2099",
        "Cardholder Authentication Required",
        "authentication_required",
        Auth,
    ),
    pr(
        "2100",
        "PayPal channel initiated billing not enabled for your account",
        "generic_decline",
        Hard,
    ),
    // offline/online PIN codes are hard to classify(); Braintree: soft.
    pr(
        "2101",
        "Additional authorization required",
        "online_or_offline_pin_required",
        Soft,
    ),
    pr("2102", "Incorrect PIN", "incorrect_pin", Soft),
    pr("2103", "PIN try exceeded", "pin_try_exceeded", Soft),
    pr("2104", "Offline Issuer Declined", "generic_decline", Soft),
    pr(
        "2105",
        "Cannot Authorize at this time (Life cycle)",
        "try_again_later",
        Soft,
    ),
    pr(
        "2106",
        "Cannot Authorize at this time (Policy)",
        "try_again_later",
        Soft,
    ),
    pr("2107", "Card Not Activated", "invalid_account", Hard),
    pr("2108", "Closed Card", "invalid_account", Hard),
    // Sandbox amount 3000.00: a transaction FAILED (not processed, see
    // `transaction_outcome`); the row is used only if a decline carries it.
    pr(
        "3000",
        "Processor Network Unavailable - Try Again",
        "issuer_not_available",
        Soft,
    ),
];

/// Braintree's gateway rejections (`GatewayRejectionReason`): the gateway's
/// own rules refused the transaction (an authorization it obtained is
/// voided at once). `None`: rejected before processing for a reason of the
/// merchant's own account: not processed, another processor may be tried.
pub const GATEWAY_REJECTIONS: &[(&str, Option<(&str, DeclineClass)>)] = &[
    // Sandbox amount 5001.00. The merchant account is not yet approved.
    ("APPLICATION_INCOMPLETE", None),
    ("AVS", Some(("incorrect_zip", Hard))),
    ("AVS_AND_CVV", Some(("incorrect_cvc", Hard))),
    ("CVV", Some(("incorrect_cvc", Hard))),
    // A duplicate of a recent transaction: another processor could charge
    // twice.
    ("DUPLICATE", Some(("duplicate_transaction", Hard))),
    ("EXCESSIVE_RETRY", Some(("do_not_try_again", Hard))),
    ("FRAUD", Some(("fraudulent", Hard))),
    ("MANUAL_TRANSACTIONS_DISABLED", None),
    ("PAYMENT_METHOD_BLOCKED", Some(("merchant_blacklist", Hard))),
    ("RISK_THRESHOLD", Some(("fraudulent", Hard))),
    ("THREE_D_SECURE", Some(("authentication_required", Auth))),
    ("TOKEN_ISSUANCE", Some(("processing_error", Soft))),
    (
        "TOO_MANY_CONFIRMATION_ATTEMPTS",
        Some(("do_not_try_again", Hard)),
    ),
    (
        "UNION_PAY_ENROLLMENT_REQUIRED",
        Some(("authentication_required", Auth)),
    ),
];

/// The decline of a processor response code.
pub fn decline_for_code(code: &str, message: Option<&str>) -> Decline {
    let (stripe, class) = match PROCESSOR_RESPONSES.iter().find(|r| r.code == code) {
        Some(r) => (r.stripe, r.class),
        None if range_decline(code) => ("generic_decline", Soft),
        // Not a documented decline code: hard, as `decline::classify` treats
        // anything unexplained.
        None => ("generic_decline", Hard),
    };
    let mut d = Decline::from_stripe_code(stripe, Some(code.to_owned()));
    // Braintree's class, where it differs from classify() of the Stripe code.
    d.class = class;
    if let Some(m) = message.filter(|m| !m.is_empty()) {
        if stripe == "generic_decline" {
            d.message = format!("Your card was declined ({}).", scrub(m));
        }
    }
    d
}

/// 2109 to 2999: "Processor Declined".
fn range_decline(code: &str) -> bool {
    code.len() == 4
        && code
            .parse::<u16>()
            .is_ok_and(|n| (2109..=2999).contains(&n))
}

/// A Braintree processor response code of the 2000 or 3000 class.
fn is_processor_code(code: &str) -> bool {
    code.len() == 4
        && code
            .parse::<u16>()
            .is_ok_and(|n| (2000..=3999).contains(&n))
}

/// The ISO 4217 minor-unit exponent of a currency.
pub fn exponent(currency: &str) -> u32 {
    match currency.to_ascii_uppercase().as_str() {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        "CLF" | "UYW" => 4,
        _ => 2,
    }
}

/// Minor units as Braintree's decimal string in the major unit: 1050 USD
/// is "10.50", 1050 JPY "1050", 1050 BHD "1.050".
pub fn decimal_amount(minor: u64, currency: &str) -> String {
    let e = exponent(currency);
    if e == 0 {
        return minor.to_string();
    }
    let scale = 10u64.pow(e);
    format!(
        "{}.{:0width$}",
        minor / scale,
        minor % scale,
        width = e as usize
    )
}

/// The `orderId` of a call: its key, or a digest of it when longer than
/// Braintree allows.
pub fn order_id(key: &str) -> String {
    if key.len() <= ORDER_ID_MAX {
        return key.to_owned();
    }
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sy-{hex}")
}

fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub struct BraintreeAdapter {
    config: ProcessorConfig,
    credentials: Credentials,
}

impl BraintreeAdapter {
    pub fn new(config: ProcessorConfig, credentials: Credentials) -> Self {
        BraintreeAdapter {
            config,
            credentials,
        }
    }

    fn url(&self) -> String {
        let base = self.config.base_url.as_deref().unwrap_or("");
        format!("{}/graphql", base.strip_suffix('/').unwrap_or(base))
    }

    fn request(&self, query: String, variables: Value) -> WireRequest {
        let pair = format!(
            "{}:{}",
            self.credentials.public_key.as_deref().unwrap_or(""),
            self.credentials.private_key.as_deref().unwrap_or("")
        );
        let headers = vec![
            ("Content-Type".to_owned(), "application/json".to_owned()),
            (
                "Authorization".to_owned(),
                format!("Basic {}", base64(pair.as_bytes())),
            ),
            ("Braintree-Version".to_owned(), BRAINTREE_VERSION.to_owned()),
        ];
        let body = json!({ "query": query, "variables": variables }).to_string();
        WireRequest::new("POST", self.url(), headers, body)
    }

    fn find_transactions(&self, by: &str, value: &str) -> WireRequest {
        let input = if by == "id" {
            json!({ "id": { "is": value } })
        } else {
            json!({ "orderId": { "is": value } })
        };
        self.request(
            format!("{FIND_TX_OP} {TX_FIELDS}"),
            json!({ "input": input }),
        )
    }

    fn find_refunds(&self, key: &str) -> WireRequest {
        self.request(
            format!("{FIND_REFUNDS_OP} {REFUND_FIELDS}"),
            json!({ "input": { "orderId": { "is": order_id(key) } } }),
        )
    }

    fn tokenize(&self, call: &Call<'_>) -> WireRequest {
        let Call::Authorize {
            key, card, facts, ..
        } = call
        else {
            return self.request(TOKENIZE.to_owned(), json!({}));
        };
        let mut credit_card = json!({
            "number": card.number(),
            "expirationMonth": format!("{:02}", facts.exp_month),
            "expirationYear": facts.exp_year.to_string(),
        });
        if let Some(cvc) = card.cvc() {
            credit_card["cvv"] = json!(cvc);
        }
        self.request(
            TOKENIZE.to_owned(),
            json!({ "input": { "clientMutationId": order_id(key), "creditCard": credit_card } }),
        )
    }

    fn transaction_input(&self, key: &str, amount: u64, currency: &str) -> Value {
        let mut t = json!({
            "amount": decimal_amount(amount, currency),
            "orderId": order_id(key),
        });
        if let Some(account) = self.config.account.as_deref() {
            t["merchantAccountId"] = json!(account);
        }
        t
    }

    fn authorize(&self, call: &Call<'_>, payment_method_id: &str) -> WireRequest {
        let Call::Authorize {
            key,
            amount,
            currency,
            capture,
            ..
        } = call
        else {
            return self.request(TOKENIZE.to_owned(), json!({}));
        };
        let op = if *capture { CHARGE_OP } else { AUTHORIZE_OP };
        self.request(
            format!("{op} {TX_FIELDS}"),
            json!({ "input": {
                "clientMutationId": order_id(key),
                "paymentMethodId": payment_method_id,
                "transaction": self.transaction_input(key, *amount, currency),
            }}),
        )
    }

    fn write(&self, call: &Call<'_>) -> WireRequest {
        match call {
            Call::Capture {
                key,
                reference,
                amount,
                currency,
            } => self.request(
                format!("{CAPTURE_OP} {TX_FIELDS}"),
                json!({ "input": {
                    "clientMutationId": order_id(key),
                    "transactionId": reference,
                    "amount": decimal_amount(*amount, currency),
                }}),
            ),
            Call::Void { key, reference } => self.request(
                format!("{REVERSE_OP} {TX_FIELDS} {REFUND_FIELDS}"),
                json!({ "input": { "clientMutationId": order_id(key), "transactionId": reference } }),
            ),
            Call::Refund {
                key,
                reference,
                amount,
                currency,
            } => {
                let mut refund = json!({
                    "amount": decimal_amount(*amount, currency),
                    "orderId": order_id(key),
                });
                if let Some(account) = self.config.account.as_deref() {
                    refund["merchantAccountId"] = json!(account);
                }
                self.request(
                    format!("{REFUND_OP} {REFUND_FIELDS}"),
                    json!({ "input": {
                        "clientMutationId": order_id(key),
                        "transactionId": reference,
                        "refund": refund,
                    }}),
                )
            }
            Call::Authorize { .. } => self.tokenize(call),
            Call::Lookup { key, of } => match of {
                Looked::Authorize { .. } => self.find_transactions("orderId", &order_id(key)),
                Looked::Refund { .. } => self.find_refunds(key),
            },
        }
    }
}

fn not_processed(reason: impl Into<String>) -> Parsed {
    Parsed::Done(Outcome::NotProcessed {
        reason: reason.into(),
    })
}

fn unknown(reason: impl Into<String>) -> Parsed {
    Parsed::Done(Outcome::Unknown {
        reason: reason.into(),
    })
}

fn approved(reference: &str) -> Parsed {
    Parsed::Done(Outcome::Approved {
        reference: reference.to_owned(),
    })
}

/// A processor's text, fit for a reason or a message: short, and with every
/// digit masked, since an error about an input may quote it (a GraphQL
/// server's variable errors do), and the input may be the card.
fn scrub(text: &str) -> String {
    text.chars()
        .take(200)
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect()
}

/// What the `errors` of an answer mean, by `extensions.errorClass`.
fn errors_outcome(errors: &[Value]) -> Outcome {
    let mut worst: Option<Outcome> = None;
    for e in errors {
        let class = e
            .pointer("/extensions/errorClass")
            .and_then(Value::as_str)
            .unwrap_or("");
        let legacy = e.pointer("/extensions/legacyCode").and_then(Value::as_str);
        let message = scrub(e.get("message").and_then(Value::as_str).unwrap_or(""));
        let outcome = match class {
            // A processor response code in a validation error: the
            // processor answered it (declined).
            "VALIDATION" if legacy.is_some_and(is_processor_code) => {
                Outcome::Declined(decline_for_code(legacy.unwrap_or(""), Some(&message)))
            }
            "VALIDATION" => Outcome::NotProcessed {
                reason: format!(
                    "braintree validation error {}: {message}",
                    legacy.unwrap_or("-")
                ),
            },
            "AUTHENTICATION" | "AUTHORIZATION" | "UNSUPPORTED_CLIENT" => Outcome::NotProcessed {
                reason: format!("braintree configuration error ({class}): {message}"),
            },
            "NOT_FOUND" => Outcome::NotProcessed {
                reason: format!("braintree: not found: {message}"),
            },
            "RESOURCE_LIMIT" => Outcome::NotProcessed {
                reason: format!("braintree resource limit: {message}"),
            },
            _ => Outcome::Unknown {
                reason: format!(
                    "braintree error ({}): {message}",
                    if class.is_empty() { "no class" } else { class }
                ),
            },
        };
        worst = Some(match (worst, outcome) {
            (Some(w @ Outcome::Unknown { .. }), _) => w,
            (_, o @ Outcome::Unknown { .. }) => o,
            (Some(w @ Outcome::Declined(_)), _) => w,
            (_, o) => o,
        });
    }
    worst.unwrap_or(Outcome::Unknown {
        reason: "braintree: an answer with neither data nor errors".into(),
    })
}

/// The `data` of an answer, or the call's outcome when there is none to
/// read: transport failures, 429, non-JSON, errors without data.
fn read(delivery: &Delivery, field: &str) -> Result<(Value, Vec<Value>), Outcome> {
    let resp = match delivery {
        Delivery::NotSent(reason) => {
            return Err(Outcome::NotProcessed {
                reason: format!("braintree: not sent: {reason}"),
            })
        }
        Delivery::Lost(reason) => {
            return Err(Outcome::Unknown {
                reason: format!("braintree: no answer: {reason}"),
            })
        }
        Delivery::Answered(resp) => resp,
    };
    if resp.status == 429 {
        return Err(Outcome::NotProcessed {
            reason: "braintree: 429 too many requests".into(),
        });
    }
    let Ok(body) = serde_json::from_str::<Value>(&resp.body) else {
        return Err(Outcome::Unknown {
            reason: format!("braintree: HTTP {} with an unreadable body", resp.status),
        });
    };
    let errors = body
        .get("errors")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let data = body.pointer(&format!("/data/{field}")).cloned();
    match data {
        Some(d) if !d.is_null() && resp.status == 200 => Ok((d, errors)),
        _ if !errors.is_empty() => {
            let o = errors_outcome(&errors);
            // An HTTP status other than 200 with an error class that says
            // not processed keeps it (401, 403 for credentials); otherwise
            // the class decides.
            Err(o)
        }
        _ => Err(Outcome::Unknown {
            reason: format!("braintree: HTTP {} without {field}", resp.status),
        }),
    }
}

const APPROVED_STATUSES: &[&str] = &[
    "AUTHORIZED",
    "SUBMITTED_FOR_SETTLEMENT",
    "SETTLING",
    "SETTLED",
    "SETTLEMENT_PENDING",
    "SETTLEMENT_CONFIRMED",
];

const CAPTURED_STATUSES: &[&str] = &[
    "SUBMITTED_FOR_SETTLEMENT",
    "SETTLING",
    "SETTLED",
    "SETTLEMENT_PENDING",
    "SETTLEMENT_CONFIRMED",
];

fn status_of(node: &Value) -> &str {
    node.get("status").and_then(Value::as_str).unwrap_or("")
}

fn id_of(node: &Value) -> &str {
    node.get("id").and_then(Value::as_str).unwrap_or("")
}

/// The status event of a given type (the most recent first, as Braintree
/// returns them).
fn event<'a>(node: &'a Value, typename: &str) -> Option<&'a Value> {
    node.get("statusHistory")?
        .as_array()?
        .iter()
        .find(|e| e.get("__typename").and_then(Value::as_str) == Some(typename))
}

/// What a transaction (or refund) says about the call that made it.
pub fn transaction_outcome(node: &Value) -> Outcome {
    let status = status_of(node);
    let id = id_of(node);
    if APPROVED_STATUSES.contains(&status) && !id.is_empty() {
        return Outcome::Approved {
            reference: id.to_owned(),
        };
    }
    match status {
        "PROCESSOR_DECLINED" => {
            let ev = event(node, "ProcessorDeclinedEvent");
            let code = ev
                .and_then(|e| e.pointer("/processorResponse/legacyCode"))
                .and_then(Value::as_str);
            let message = ev
                .and_then(|e| e.pointer("/processorResponse/message"))
                .and_then(Value::as_str);
            match code {
                Some(code) => Outcome::Declined(decline_for_code(code, message)),
                None => Outcome::Declined(decline_for_code("", message)),
            }
        }
        "GATEWAY_REJECTED" => {
            let reason = event(node, "GatewayRejectedEvent")
                .and_then(|e| e.get("gatewayRejectionReason"))
                .and_then(Value::as_str)
                .unwrap_or("");
            match GATEWAY_REJECTIONS.iter().find(|(r, _)| *r == reason) {
                Some((_, None)) => Outcome::NotProcessed {
                    reason: format!("braintree gateway rejected before processing: {reason}"),
                },
                Some((_, Some((stripe, class)))) => {
                    let mut d = Decline::from_stripe_code(
                        stripe,
                        Some(format!("gateway_rejected:{reason}")),
                    );
                    d.class = *class;
                    Outcome::Declined(d)
                }
                None => {
                    let mut d = Decline::from_stripe_code(
                        "generic_decline",
                        Some(format!("gateway_rejected:{reason}")),
                    );
                    d.class = Hard;
                    Outcome::Declined(d)
                }
            }
        }
        // Documented: the transaction could not be sent to the processor
        // (sandbox 3000.00, "Processor Network Unavailable"): a terminal
        // status, no authorization exists.
        "FAILED" => {
            let code = event(node, "FailedEvent")
                .and_then(|e| e.pointer("/processorResponse/legacyCode"))
                .and_then(Value::as_str)
                .unwrap_or("-");
            Outcome::NotProcessed {
                reason: format!("braintree: transaction failed (processor response {code})"),
            }
        }
        // Cancelled at Braintree: it certainly does not charge.
        "VOIDED" | "AUTHORIZATION_EXPIRED" => Outcome::NotProcessed {
            reason: format!("braintree: transaction {id} is {status}"),
        },
        _ => Outcome::Unknown {
            reason: format!("braintree: transaction {id} is {status:?}"),
        },
    }
}

/// The nodes of a search answer (`search.transactions` or `search.refunds`).
fn nodes(search: &Value, field: &str) -> Option<Vec<Value>> {
    let edges = search.get(field)?.get("edges")?.as_array()?;
    Some(
        edges
            .iter()
            .filter_map(|e| e.get("node").filter(|n| n.is_object()).cloned())
            .collect(),
    )
}

/// What a search by `orderId` says about the authorization made with it.
/// An approved one wins; several approved ones (a double charge) are
/// unknown, for an operator; else a decline; else (only failed or
/// cancelled ones) not processed.
fn authorization_found(found: &[Value], amount: Option<&str>) -> Option<Outcome> {
    let outcomes: Vec<(Outcome, &Value)> =
        found.iter().map(|n| (transaction_outcome(n), n)).collect();
    let approved: Vec<&(Outcome, &Value)> = outcomes
        .iter()
        .filter(|(o, _)| matches!(o, Outcome::Approved { .. }))
        .collect();
    if approved.len() > 1 {
        return Some(Outcome::Unknown {
            reason: format!(
                "braintree: {} approved transactions carry this orderId",
                approved.len()
            ),
        });
    }
    if let Some((o, node)) = approved.first() {
        let value = node.pointer("/amount/value").and_then(Value::as_str);
        if let (Some(want), Some(got)) = (amount, value) {
            if want != got {
                return Some(Outcome::Unknown {
                    reason: format!(
                        "braintree: the transaction of this orderId is for {got}, not {want}"
                    ),
                });
            }
        }
        return Some(o.clone());
    }
    if let Some((o, _)) = outcomes
        .iter()
        .find(|(o, _)| matches!(o, Outcome::Unknown { .. }))
    {
        return Some(o.clone());
    }
    if let Some((o, _)) = outcomes
        .iter()
        .find(|(o, _)| matches!(o, Outcome::Declined(_)))
    {
        return Some(o.clone());
    }
    outcomes.first().map(|(o, _)| o.clone())
}

impl Adapter for BraintreeAdapter {
    fn kind(&self) -> &'static str {
        "braintree"
    }

    fn timeout_ms(&self) -> u32 {
        self.config.timeout_ms
    }

    fn deduplicates(&self) -> bool {
        false
    }

    /// Step 0 of every call reads before anything is written (see the
    /// module's comment on idempotency); a lookup is that read alone.
    fn build(&self, call: &Call<'_>) -> WireRequest {
        match call {
            Call::Authorize { key, .. } => self.find_transactions("orderId", &order_id(key)),
            Call::Capture { reference, .. } | Call::Void { reference, .. } => {
                self.find_transactions("id", reference)
            }
            Call::Refund { key, .. } => self.find_refunds(key),
            Call::Lookup { .. } => self.write(call),
        }
    }

    fn parse(&self, call: &Call<'_>, step: u8, delivery: &Delivery) -> Parsed {
        match (call, step) {
            // Authorize, step 0: an earlier attempt of this call?
            (
                Call::Authorize {
                    amount, currency, ..
                },
                0,
            ) => {
                let search = match read(delivery, "search") {
                    Ok((d, _)) => d,
                    Err(o) => return Parsed::Done(o),
                };
                let Some(found) = nodes(&search, "transactions") else {
                    return unknown("braintree: unreadable search answer");
                };
                let want = decimal_amount(*amount, currency);
                match authorization_found(&found, Some(&want)) {
                    // Only failed or cancelled attempts (or none): authorize.
                    None | Some(Outcome::NotProcessed { .. }) => Parsed::Next(self.tokenize(call)),
                    Some(o) => Parsed::Done(o),
                }
            }
            // Authorize, step 1: the tokenized card. Tokenizing moves no
            // money: whatever became of it, the authorization was not sent,
            // so a lost or failed tokenization is not processed.
            (Call::Authorize { .. }, 1) => {
                let payload = match read(delivery, "tokenizeCreditCard") {
                    Ok((d, _)) => d,
                    Err(Outcome::Declined(d)) => return Parsed::Done(Outcome::Declined(d)),
                    Err(o) => {
                        let why = match o {
                            Outcome::NotProcessed { reason } | Outcome::Unknown { reason } => {
                                reason
                            }
                            _ => String::new(),
                        };
                        return not_processed(format!(
                            "braintree: card not tokenized, nothing authorized ({why})"
                        ));
                    }
                };
                match payload.pointer("/paymentMethod/id").and_then(Value::as_str) {
                    Some(id) if !id.is_empty() => Parsed::Next(self.authorize(call, id)),
                    _ => not_processed("braintree: tokenization returned no payment method"),
                }
            }
            (Call::Authorize { capture, .. }, 2) => {
                let field = if *capture {
                    "chargePaymentMethod"
                } else {
                    "authorizePaymentMethod"
                };
                match read(delivery, field) {
                    Ok((payload, errors)) => match payload.get("transaction") {
                        Some(tx) if tx.is_object() => Parsed::Done(transaction_outcome(tx)),
                        _ if !errors.is_empty() => Parsed::Done(errors_outcome(&errors)),
                        _ => unknown("braintree: no transaction in the answer"),
                    },
                    Err(o) => Parsed::Done(o),
                }
            }
            // Capture / void, step 0: the transaction as it stands.
            (Call::Capture { reference, .. } | Call::Void { reference, .. }, 0) => {
                let search = match read(delivery, "search") {
                    Ok((d, _)) => d,
                    Err(o) => return Parsed::Done(o),
                };
                let Some(found) = nodes(&search, "transactions") else {
                    return unknown("braintree: unreadable search answer");
                };
                let Some(tx) = found.iter().find(|n| id_of(n) == *reference) else {
                    return not_processed(format!("braintree: no transaction {reference}"));
                };
                let status = status_of(tx);
                let done = if matches!(call, Call::Capture { .. }) {
                    CAPTURED_STATUSES.contains(&status)
                } else {
                    status == "VOIDED"
                };
                if done {
                    approved(reference)
                } else {
                    Parsed::Next(self.write(call))
                }
            }
            (Call::Capture { .. }, 1) => match read(delivery, "captureTransaction") {
                Ok((payload, errors)) => match payload.get("transaction") {
                    Some(tx) if CAPTURED_STATUSES.contains(&status_of(tx)) => approved(id_of(tx)),
                    Some(tx) if tx.is_object() => unknown(format!(
                        "braintree: captured transaction is {}",
                        status_of(tx)
                    )),
                    _ if !errors.is_empty() => Parsed::Done(errors_outcome(&errors)),
                    _ => unknown("braintree: no transaction in the answer"),
                },
                Err(o) => Parsed::Done(o),
            },
            (Call::Void { .. }, 1) => match read(delivery, "reverseTransaction") {
                Ok((payload, errors)) => {
                    let r = payload.get("reversal").cloned().unwrap_or(Value::Null);
                    let typename = r.get("__typename").and_then(Value::as_str).unwrap_or("");
                    match (typename, status_of(&r)) {
                        ("Transaction", "VOIDED") => approved(id_of(&r)),
                        // The transaction had settled: Braintree refunded it
                        // in full instead; the money is returned.
                        ("Refund", s) if APPROVED_STATUSES.contains(&s) => approved(id_of(&r)),
                        _ if !errors.is_empty() => Parsed::Done(errors_outcome(&errors)),
                        (t, s) => unknown(format!("braintree: reversal answered {t} {s}")),
                    }
                }
                Err(o) => Parsed::Done(o),
            },
            // Refund, step 0: a refund with this key already?
            (Call::Refund { reference, .. }, 0) => {
                let search = match read(delivery, "search") {
                    Ok((d, _)) => d,
                    Err(o) => return Parsed::Done(o),
                };
                let Some(found) = nodes(&search, "refunds") else {
                    return unknown("braintree: unreadable search answer");
                };
                let mine: Vec<Value> = found
                    .into_iter()
                    .filter(|n| {
                        n.pointer("/refundedTransaction/id")
                            .and_then(Value::as_str)
                            .is_none_or(|id| id == *reference)
                    })
                    .collect();
                match authorization_found(&mine, None) {
                    None | Some(Outcome::NotProcessed { .. }) => Parsed::Next(self.write(call)),
                    Some(o) => Parsed::Done(o),
                }
            }
            (Call::Refund { .. }, 1) => match read(delivery, "refundTransaction") {
                Ok((payload, errors)) => match payload.get("refund") {
                    Some(r) if r.is_object() => Parsed::Done(transaction_outcome(r)),
                    _ if !errors.is_empty() => Parsed::Done(errors_outcome(&errors)),
                    _ => unknown("braintree: no refund in the answer"),
                },
                Err(o) => Parsed::Done(o),
            },
            (Call::Lookup { of, .. }, 0) => {
                let search = match read(delivery, "search") {
                    Ok((d, _)) => d,
                    Err(o) => return Parsed::Done(o),
                };
                let (field, amount, refunded) = match of {
                    Looked::Authorize { amount, currency } => {
                        ("transactions", decimal_amount(*amount, currency), None)
                    }
                    Looked::Refund {
                        reference,
                        amount,
                        currency,
                    } => (
                        "refunds",
                        decimal_amount(*amount, currency),
                        Some(*reference),
                    ),
                };
                let Some(found) = nodes(&search, field) else {
                    return unknown("braintree: unreadable search answer");
                };
                let found: Vec<Value> = found
                    .into_iter()
                    .filter(|n| {
                        refunded.is_none_or(|r| {
                            n.pointer("/refundedTransaction/id")
                                .and_then(Value::as_str)
                                .is_none_or(|id| id == r)
                        })
                    })
                    .collect();
                match authorization_found(&found, Some(&amount)) {
                    Some(o) => Parsed::Done(o),
                    None => not_processed("braintree: no record of this orderId"),
                }
            }
            _ => unknown(format!("braintree: no step {step} for {}", call.op())),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
