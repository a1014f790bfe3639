//! Value types that are valid by construction: each is parsed once at the edge.

use std::fmt;

use serde::{Serialize, Serializer};
use unicode_normalization::UnicodeNormalization;

use super::text;

macro_rules! string_value {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Rebuilds a value that was parsed before it was stored.
            pub fn from_trusted(value: String) -> Self {
                Self(value)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }
    };
}

/// A syntactically valid e-mail address, trimmed. Compared without regard to case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);
string_value!(Email);

impl Email {
    /// Longest e-mail address SMTP can carry (RFC 5321: 254 characters in a path).
    pub const MAX: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let value = raw.trim();
        if value.is_empty() {
            return Err("is required".into());
        }
        text::check_line(value)?;
        if value.chars().count() > Self::MAX {
            return Err(format!("must be at most {} characters", Self::MAX));
        }
        // The crate follows RFC 5322; we also insist on a dotted domain, since a bare host
        // name cannot receive mail from the Internet.
        let parsed = email_address::EmailAddress::parse_with_options(
            value,
            email_address::Options::default().without_display_text(),
        )
        .map_err(|_| "is not a valid e-mail address".to_string())?;
        if !parsed.domain().contains('.') || parsed.domain().starts_with('[') {
            return Err("is not a valid e-mail address".into());
        }
        Ok(Self(value.to_string()))
    }

    /// The form used for uniqueness: one client per tenancy and e-mail, whatever the case.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A phone number in E.164: a `+`, a country code that does not start with 0, and at most
/// 15 digits in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct E164Phone(String);
string_value!(E164Phone);

impl E164Phone {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let value = raw.trim();
        let Some(digits) = value.strip_prefix('+') else {
            return Err("must be in E.164 form with a leading +, e.g. +447768887464".into());
        };
        let valid = (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if valid {
            Ok(Self(value.to_string()))
        } else {
            Err("must be in E.164 form: + then 8 to 15 digits, e.g. +447768887464".into())
        }
    }
}

impl E164Phone {
    /// A number as a CRM record holds it: E.164 as it is, or written as people write it
    /// (spaces, a national trunk prefix) when its country is known, in `region` for a number
    /// without a `+`. The refusal says what was missing.
    pub fn parse_in_region(raw: &str, region: Option<PhoneRegion>) -> Result<Self, String> {
        let strict = Self::parse(raw);
        if strict.is_ok() {
            return strict;
        }
        let value = raw.trim();
        if !value.starts_with('+') && region.is_none() {
            return Err(
                "is a national number and no phone region is set to read it in; write it with + and the country code"
                    .into(),
            );
        }
        phonenumber::parse(region.map(|r| r.0), value)
            .ok()
            .filter(phonenumber::is_valid)
            .map(|n| Self(n.format().mode(phonenumber::Mode::E164).to_string()))
            .ok_or_else(|| match region {
                Some(r) if !value.starts_with('+') => {
                    format!("is not a valid phone number in {}", r.as_str())
                }
                _ => {
                    "is not a valid phone number; write it in E.164 form, e.g. +447768887464".into()
                }
            })
    }
}

/// The country whose numbering a phone number without a `+` is read in: an ISO 3166 alpha-2
/// code that has a telephone numbering plan, e.g. `GB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhoneRegion(phonenumber::country::Id);

impl PhoneRegion {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let value = raw.trim();
        if value.len() != 2 {
            return Err("must be a two-letter country code, e.g. GB".into());
        }
        value
            .to_ascii_uppercase()
            .parse()
            .map(Self)
            .map_err(|_| "is not a country code with a telephone numbering plan, e.g. GB".into())
    }

    pub fn as_str(&self) -> &str {
        self.0.as_ref()
    }
}

impl Default for PhoneRegion {
    fn default() -> Self {
        Self(phonenumber::country::Id::GB)
    }
}

impl fmt::Display for PhoneRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for PhoneRegion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A Salesforce record, user or org id: 15 case-sensitive characters, or the 18-character form
/// whose last three characters encode the case of the first fifteen. Kept in the 18 form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SalesforceId(String);
string_value!(SalesforceId);

impl SalesforceId {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let value = raw.trim();
        if !value.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err("must contain only letters and digits".into());
        }
        match value.len() {
            15 => Ok(Self(format!("{value}{}", case_suffix(value)))),
            18 => {
                let (base, suffix) = value.split_at(15);
                if case_suffix(base).eq_ignore_ascii_case(suffix) {
                    Ok(Self(format!("{base}{}", case_suffix(base))))
                } else {
                    Err("is not a valid 18-character Salesforce id (checksum mismatch)".into())
                }
            }
            _ => Err("must be a 15- or 18-character Salesforce id".into()),
        }
    }

    /// The 15-character, case-sensitive form.
    pub fn short(&self) -> &str {
        &self.0[..15]
    }

    /// The id of a Salesforce user (`005…`), which staff users are mapped to.
    pub fn parse_user(raw: &str) -> Result<Self, String> {
        Self::parse(raw).and_then(|id| {
            if id.as_str().starts_with("005") {
                Ok(id)
            } else {
                Err("is not a Salesforce user id (005…)".into())
            }
        })
    }
}

/// A Salesforce username: shaped like an e-mail address (it need not be one that receives
/// mail), at most 80 characters, on one line; trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesforceUsername(String);
string_value!(SalesforceUsername);

impl SalesforceUsername {
    pub const MAX: usize = 80;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let value = raw.trim();
        if value.is_empty() || value.len() > Self::MAX || !value.contains('@') {
            return Err(
                "must be a Salesforce username, like an e-mail address, at most 80 characters"
                    .into(),
            );
        }
        text::check_line(value)?;
        Ok(Self(value.to_string()))
    }
}

/// Salesforce's case-safe suffix: for each block of five characters, a bit per upper-case
/// letter, mapped onto `A-Z0-5`.
fn case_suffix(id15: &str) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
    id15.as_bytes()
        .chunks(5)
        .map(|chunk| {
            let bits = chunk
                .iter()
                .enumerate()
                .filter(|(_, b)| b.is_ascii_uppercase())
                .fold(0usize, |acc, (i, _)| acc | (1 << i));
            ALPHABET[bits] as char
        })
        .collect()
}

/// Parses a required name: trimmed, not blank, no control characters, bounded length, and in
/// Unicode NFC, so that the same name typed on two systems is stored and compared alike.
/// Bidirectional controls and zero-width characters are refused: in a name they serve only to
/// make it display as something it is not.
fn parse_name(raw: &str, max: usize) -> Result<String, String> {
    let value: String = raw.trim().nfc().collect();
    if value.is_empty() {
        return Err("must not be blank".into());
    }
    if value.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    text::check_line(&value)?;
    if value.chars().any(text::is_invisible_format) {
        return Err("must not contain bidirectional controls or zero-width characters".into());
    }
    Ok(value)
}

/// A person's first or last name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);
string_value!(PersonName);

impl PersonName {
    pub const MAX: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, String> {
        parse_name(raw, Self::MAX).map(Self)
    }
}

/// The name of a tenancy, a contact group, a client team or a team account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);
string_value!(DisplayName);

impl DisplayName {
    pub const MAX: usize = 120;

    pub fn parse(raw: &str) -> Result<Self, String> {
        parse_name(raw, Self::MAX).map(Self)
    }
}

/// The line shown under a user's name: "Client" for clients unless staff say otherwise; a
/// team account often carries its opening hours here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);
string_value!(Title);

impl Title {
    pub const MAX: usize = 120;
    pub const CLIENT_DEFAULT: &'static str = "Client";

    pub fn parse(raw: &str) -> Result<Self, String> {
        parse_name(raw, Self::MAX).map(Self)
    }

    /// A missing or blank title falls back to the default rather than failing.
    pub fn parse_or_default(raw: Option<&str>) -> Result<Self, String> {
        match raw.map(str::trim) {
            None | Some("") => Ok(Self(Self::CLIENT_DEFAULT.into())),
            Some(value) => Self::parse(value),
        }
    }
}

/// The optional personal message a member of staff adds to an invitation. Kept verbatim;
/// every page and e-mail escapes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteMessage(String);
string_value!(InviteMessage);

impl InviteMessage {
    pub const MAX: usize = 2000;

    pub fn parse(raw: &str) -> Result<Option<Self>, String> {
        let value = raw.trim();
        if value.is_empty() {
            return Ok(None);
        }
        if value.chars().count() > Self::MAX {
            return Err(format!("must be at most {} characters", Self::MAX));
        }
        text::check_multiline(value)?;
        Ok(Some(Self(value.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_trimmed_and_compared_without_case() {
        let email = Email::parse("  Jane.Doe@Example.com ").unwrap();
        assert_eq!(email.as_str(), "Jane.Doe@Example.com");
        assert_eq!(email.key(), "jane.doe@example.com");
    }

    #[test]
    fn email_without_dotted_domain_or_at_sign_is_refused() {
        for bad in [
            "",
            "jane",
            "jane@",
            "@example.com",
            "jane@localhost",
            "a b@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn email_longer_than_smtp_allows_is_refused() {
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).unwrap_err().contains("at most"));
    }

    #[test]
    fn mobile_must_be_e164_with_a_leading_plus() {
        assert_eq!(
            E164Phone::parse("+447768887464").unwrap().as_str(),
            "+447768887464"
        );
        for bad in [
            "447768887464",
            "07768 887464",
            "+44 7768 887464",
            "+0123456789",
            "+1234",
            "+1234567890123456",
        ] {
            assert!(E164Phone::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_national_number_is_read_in_its_region() {
        let gb = PhoneRegion::parse("gb").unwrap();
        assert_eq!(gb.as_str(), "GB");
        assert_eq!(
            E164Phone::parse_in_region("07768 887464", Some(gb))
                .unwrap()
                .as_str(),
            "+447768887464"
        );
        assert_eq!(
            E164Phone::parse_in_region("+44 7768 887464", None)
                .unwrap()
                .as_str(),
            "+447768887464"
        );
        let no_region = E164Phone::parse_in_region("07768 887464", None).unwrap_err();
        assert!(no_region.contains("no phone region"), "{no_region}");
        assert!(E164Phone::parse_in_region("call me", Some(gb)).is_err());
        for bad in ["", "G", "GBR", "ZZ", "1A"] {
            assert!(PhoneRegion::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn salesforce_id_of_15_characters_gains_its_case_suffix() {
        let id = SalesforceId::parse("001A000001abcDE").unwrap();
        assert_eq!(id.as_str().len(), 18);
        assert_eq!(id.short(), "001A000001abcDE");
        assert_eq!(SalesforceId::parse(id.as_str()).unwrap(), id);
    }

    #[test]
    fn salesforce_id_with_wrong_checksum_is_refused() {
        let id = SalesforceId::parse("00D000000000001").unwrap();
        let mut wrong = id.as_str().to_string();
        wrong.replace_range(15.., "ZZZ");
        assert!(
            SalesforceId::parse(&wrong)
                .unwrap_err()
                .contains("checksum")
        );
        assert!(SalesforceId::parse("00D00000000000").is_err());
        assert!(SalesforceId::parse("00D00000000000!").is_err());
    }

    #[test]
    fn salesforce_case_suffix_matches_known_ids() {
        // Known pair from Salesforce's documentation of case-safe ids.
        assert_eq!(
            SalesforceId::parse("00300000003T2PG").unwrap().as_str(),
            "00300000003T2PGAA0"
        );
    }

    #[test]
    fn names_are_trimmed_never_blank_and_bounded() {
        assert_eq!(PersonName::parse("  Ada ").unwrap().as_str(), "Ada");
        assert!(PersonName::parse("   ").unwrap_err().contains("blank"));
        assert!(
            PersonName::parse(&"x".repeat(101))
                .unwrap_err()
                .contains("at most")
        );
        assert!(DisplayName::parse("Smith\u{0}Relationship").is_err());
    }

    #[test]
    fn names_refuse_every_control_character() {
        for bad in [
            "Ada\u{0}",
            "Ada\tLovelace",
            "Ada\nLovelace",
            "Ada\u{7f}",
            "Ad\u{85}a",
        ] {
            assert!(
                PersonName::parse(bad).unwrap_err().contains("control"),
                "{bad:?}"
            );
            assert!(DisplayName::parse(bad).is_err(), "{bad:?}");
            assert!(Title::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_refuse_bidi_controls_and_zero_width_characters() {
        for bad in [
            "Ada\u{202e}ecalevol",
            "A\u{200b}da",
            "\u{2066}Ada\u{2069}",
            "Ada\u{200f}",
            "\u{feff}Ada",
        ] {
            assert!(
                PersonName::parse(bad)
                    .unwrap_err()
                    .contains("bidirectional"),
                "{bad:?}"
            );
            assert!(DisplayName::parse(bad).is_err(), "{bad:?}");
            assert!(Title::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_are_stored_in_nfc() {
        let decomposed = "Zoe\u{308} Ange\u{301}lique";
        assert_eq!(
            PersonName::parse(decomposed).unwrap().as_str(),
            "Zoë Angélique"
        );
        assert_eq!(
            DisplayName::parse(decomposed).unwrap().as_str(),
            "Zoë Angélique"
        );
    }

    #[test]
    fn invite_message_keeps_lines_but_refuses_other_controls() {
        assert!(InviteMessage::parse("Hi\r\n\tthere").unwrap().is_some());
        assert!(InviteMessage::parse("Hi\u{0}").is_err());
        assert!(InviteMessage::parse("Hi\u{1b}[31m").is_err());
    }

    #[test]
    fn email_with_a_control_character_is_refused() {
        assert!(Email::parse("\"a\u{1}\"@example.com").is_err());
        assert!(Email::parse("a\u{0}@example.com").is_err());
    }

    #[test]
    fn client_title_defaults_to_client() {
        assert_eq!(Title::parse_or_default(None).unwrap().as_str(), "Client");
        assert_eq!(
            Title::parse_or_default(Some(" ")).unwrap().as_str(),
            "Client"
        );
        assert_eq!(
            Title::parse_or_default(Some("Director")).unwrap().as_str(),
            "Director"
        );
    }

    #[test]
    fn blank_invite_message_is_no_message() {
        assert_eq!(InviteMessage::parse("  ").unwrap(), None);
        assert!(InviteMessage::parse(&"x".repeat(2001)).is_err());
        assert!(
            InviteMessage::parse("Hello,\nsee you soon")
                .unwrap()
                .is_some()
        );
    }
}
