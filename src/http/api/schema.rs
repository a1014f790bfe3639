//! OpenAPI schemas of the values the API parses, so that the document states the rules the
//! parsers in `domain::values` enforce and a client can check a request before sending it.
//! Request fields stay `String` (the handlers parse them and name the field at fault); these
//! types only describe them, through `#[schema(value_type = …)]`.

use std::borrow::Cow;

use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::domain::values;

/// One line of text: at least one character that is not white space, and no control
/// characters (U+0000–U+001F, U+007F–U+009F), which `parse_line` refuses.
pub const LINE_PATTERN: &str = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$";

/// E.164: a `+`, a country code that does not start with 0, 8 to 15 digits in all.
pub const E164_PATTERN: &str = r"^\+[1-9][0-9]{7,14}$";

fn text(description: &str, max: usize, pattern: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(pattern))
        .into()
}

macro_rules! described {
    ($name:ident, $schema:expr) => {
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $schema
            }
        }

        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

described!(
    PersonName,
    text(
        "A first or last name: one line, not blank.",
        values::PersonName::MAX,
        LINE_PATTERN
    )
);

described!(
    DisplayName,
    text(
        "The name of a tenancy, group, team account, token or org link: one line, not blank.",
        values::DisplayName::MAX,
        LINE_PATTERN
    )
);

described!(
    Title,
    text(
        "The line shown under a user's name: one line, not blank.",
        values::Title::MAX,
        LINE_PATTERN
    )
);

described!(
    Email,
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
        .description(Some(
            "An e-mail address whose domain has a dot (mail from the Internet can reach it)."
        ))
        .min_length(Some(3))
        .max_length(Some(values::Email::MAX))
        .into()
);

described!(
    E164Phone,
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some("A phone number in E.164 form, e.g. `+447768887464`."))
        .pattern(Some(E164_PATTERN))
        .into()
);

described!(
    SalesforceId,
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(
            "A Salesforce id: 15 case-sensitive letters and digits, or the 18-character form \
             whose last three characters must match the case of the first fifteen."
        ))
        .pattern(Some(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$"))
        .into()
);

/// A Salesforce id of one kind of object: its three-character key prefix, then the rest.
fn salesforce_id_of(description: &str, prefix: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .pattern(Some(format!(
            "^{prefix}[A-Za-z0-9]{{12}}(?:[A-Za-z0-9]{{3}})?$"
        )))
        .into()
}

described!(
    SalesforceOrgId,
    salesforce_id_of(
        "A Salesforce org id (`00D…`), 15 or 18 characters (the 18-character form's checksum \
         must match).",
        "00D"
    )
);

described!(
    SalesforceUserId,
    salesforce_id_of(
        "A Salesforce user id (`005…`), 15 or 18 characters (the 18-character form's checksum \
         must match).",
        "005"
    )
);

described!(
    InviteMessage,
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(
            "A personal message for the invitation e-mail: line breaks and tabs, but no other \
             control characters. Blank means none."
        ))
        .max_length(Some(values::InviteMessage::MAX))
        .pattern(Some(
            r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
        ))
        .into()
);

described!(
    GroupNameConvention,
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(
            "Pre-fills a new contact group's name: text with at least one of the placeholders \
             `{first_name}` and `{last_name}`, and no other braces."
        ))
        .max_length(Some(crate::domain::tenancy::GROUP_NAME_CONVENTION_MAX))
        .pattern(Some(
            r"^[^{}]*\{(?:first_name|last_name)\}[^{}]*(?:\{(?:first_name|last_name)\}[^{}]*)*$"
        ))
        .into()
);

#[cfg(test)]
mod tests {
    use super::*;

    /// The patterns above describe the parsers: what they match, the parsers accept.
    #[test]
    fn patterns_agree_with_the_parsers() {
        let line = regex::Regex::new(LINE_PATTERN).expect("line pattern");
        for ok in ["Ada", " Ada Lovelace ", "Zoë", "a\u{a0}b"] {
            assert!(line.is_match(ok), "{ok:?}");
            assert!(values::PersonName::parse(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "",
            "   ",
            "\u{a0}",
            "Smith\u{0}",
            "a\tb",
            "a\u{85}b",
            "a\u{1}b",
        ] {
            assert!(!line.is_match(bad), "{bad:?}");
            assert!(values::PersonName::parse(bad).is_err(), "{bad:?}");
        }
        let phone = regex::Regex::new(E164_PATTERN).expect("phone pattern");
        for ok in ["+447768887464", "+12345678"] {
            assert!(
                phone.is_match(ok) && values::E164Phone::parse(ok).is_ok(),
                "{ok:?}"
            );
        }
        for bad in [
            "+1234567",
            "+0123456789",
            "+1234567890123456",
            "447768887464",
        ] {
            assert!(
                !phone.is_match(bad) && values::E164Phone::parse(bad).is_err(),
                "{bad:?}"
            );
        }
    }
}
