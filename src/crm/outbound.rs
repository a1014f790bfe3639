//! Salesforce Outbound Messages: the SOAP 1.1 envelope Salesforce posts when a workflow rule or
//! flow fires, read with a streaming parser that refuses DTDs (so no entity can be declared,
//! let alone expanded), stops at the 101st notification, and keeps each record's fields as
//! sent (absent is not the same as `xsi:nil`).

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::reader::NsReader;
use serde_json::{Map, Value};

use crate::domain::values::SalesforceId;

/// Most notifications Salesforce puts in one message.
pub const MAX_NOTIFICATIONS: usize = 100;
/// The largest envelope we read.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

const OUTBOUND_NS: &[u8] = b"http://soap.sforce.com/2005/09/outbound";
const SOAP_NS: &[u8] = b"http://schemas.xmlsoap.org/soap/envelope/";
/// Deeper than any real envelope (Envelope/Body/notifications/Notification/sObject/field).
const MAX_DEPTH: usize = 12;
/// Most fields one record may carry.
const MAX_FIELDS: usize = 500;

/// The answer that tells Salesforce every notification of the message is stored.
pub const ACK: &str = "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body><notificationsResponse xmlns=\"http://soap.sforce.com/2005/09/outbound\"><Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>";

/// A SOAP 1.1 fault; `client` is our verdict on whose fault it is (`soapenv:Client` for bad
/// input, `soapenv:Server` when we could not store).
pub fn fault(client: bool, reason: &str) -> String {
    let code = if client {
        "soapenv:Client"
    } else {
        "soapenv:Server"
    };
    format!(
        "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body><soapenv:Fault>\
         <faultcode>{code}</faultcode><faultstring>{}</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>",
        quick_xml::escape::escape(reason)
    )
}

/// One message as Salesforce sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundMessage {
    pub organization_id: SalesforceId,
    pub action_id: Option<String>,
    pub notifications: Vec<Notification>,
}

/// One record change: the notification's own id (`04l…`, the key to deduplicate on), the
/// record's type and the fields the admin chose to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub id: String,
    /// From `xsi:type`, e.g. `Contact` or `Account`.
    pub sobject: String,
    /// Each field as text, or `null` for `xsi:nil="true"`.
    pub fields: Map<String, Value>,
}

/// Why an envelope was refused. The text names the problem and never echoes the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error("the body is not well-formed XML: {0}")]
    Malformed(String),
    #[error("a DOCTYPE is not accepted")]
    Doctype,
    #[error("a message holds at most {MAX_NOTIFICATIONS} notifications")]
    TooManyNotifications,
    #[error("{0}")]
    NotOutbound(String),
}

fn malformed(error: impl std::fmt::Display) -> OutboundError {
    OutboundError::Malformed(error.to_string())
}

fn not_outbound(reason: impl Into<String>) -> OutboundError {
    OutboundError::NotOutbound(reason.into())
}

/// Where the reader is inside the envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Outside,
    Envelope,
    Body,
    Notifications,
    /// A child of `notifications` that carries text (OrganizationId, ActionId, …).
    Header,
    Notification,
    NotificationId,
    SObject,
    Field,
    /// Anything we do not read (a SOAP header, say); skipped whole.
    Skipped,
}

#[derive(Default)]
struct Partial {
    id: Option<String>,
    sobject: Option<String>,
    fields: Map<String, Value>,
}

/// XML 1.0 allows no C0 control but TAB, LF and CR, and neither U+FFFE nor U+FFFF, raw or
/// as a character reference; quick-xml decodes `&#1;` all the same, so decoded text is checked
/// here before it can reach the inbox.
fn xml_chars(text: &str) -> Result<&str, OutboundError> {
    let illegal = |c: char| matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}');
    match text.chars().find(|c| illegal(*c)) {
        Some(c) => Err(malformed(format!(
            "it holds the character U+{:04X}, which XML 1.0 does not allow",
            u32::from(c)
        ))),
        None => Ok(text),
    }
}

fn attribute(start: &BytesStart, local: &[u8]) -> Result<Option<String>, OutboundError> {
    for attr in start.attributes() {
        let attr = attr.map_err(malformed)?;
        if attr.key.local_name().as_ref() == local {
            let value = attr.unescape_value().map_err(malformed)?;
            return Ok(Some(xml_chars(&value)?.to_string()));
        }
    }
    Ok(None)
}

fn is_ns(resolved: &ResolveResult, ns: &[u8]) -> bool {
    matches!(resolved, ResolveResult::Bound(Namespace(n)) if *n == ns)
}

fn local(start: &BytesStart) -> Result<String, OutboundError> {
    std::str::from_utf8(start.local_name().as_ref())
        .map(str::to_string)
        .map_err(malformed)
}

/// Parses an Outbound Message envelope.
pub fn parse(body: &[u8]) -> Result<OutboundMessage, OutboundError> {
    let text = std::str::from_utf8(body).map_err(|_| malformed("it is not UTF-8"))?;
    // Raw, the illegal characters could sit in names as well as in text.
    xml_chars(text)?;
    let mut reader = NsReader::from_str(text);
    let config = reader.config_mut();
    config.expand_empty_elements = true;
    config.check_end_names = true;
    config.trim_text(true);

    let mut stack: Vec<Place> = Vec::new();
    let mut organization_id: Option<String> = None;
    let mut action_id: Option<String> = None;
    let mut header_name = String::new();
    let mut field_name = String::new();
    let mut text_value = String::new();
    let mut nil = false;
    let mut current = Partial::default();
    let mut notifications = Vec::new();
    let mut seen_notifications = false;

    loop {
        let (resolved, event) = reader.read_resolved_event().map_err(malformed)?;
        let place = stack.last().copied().unwrap_or(Place::Outside);
        match event {
            Event::DocType(_) => return Err(OutboundError::Doctype),
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(malformed("elements are nested too deeply"));
                }
                let name = local(&start)?;
                let next = match place {
                    Place::Outside if name == "Envelope" && is_ns(&resolved, SOAP_NS) => {
                        Place::Envelope
                    }
                    Place::Outside => return Err(not_outbound("the body is not a SOAP envelope")),
                    Place::Envelope if name == "Body" && is_ns(&resolved, SOAP_NS) => Place::Body,
                    Place::Body if name == "notifications" && is_ns(&resolved, OUTBOUND_NS) => {
                        if seen_notifications {
                            return Err(not_outbound("the body holds more than one message"));
                        }
                        seen_notifications = true;
                        Place::Notifications
                    }
                    Place::Body => {
                        return Err(not_outbound(
                            "the SOAP body is not an Outbound Message (notifications)",
                        ));
                    }
                    Place::Notifications if name == "Notification" => {
                        if notifications.len() == MAX_NOTIFICATIONS {
                            return Err(OutboundError::TooManyNotifications);
                        }
                        current = Partial::default();
                        Place::Notification
                    }
                    Place::Notifications => {
                        header_name = name;
                        text_value.clear();
                        Place::Header
                    }
                    Place::Notification if name == "Id" => {
                        text_value.clear();
                        Place::NotificationId
                    }
                    Place::Notification if name == "sObject" => {
                        let kind = attribute(&start, b"type")?.unwrap_or_default();
                        let sobject = kind.rsplit(':').next().unwrap_or("").to_string();
                        if sobject.is_empty() {
                            return Err(not_outbound("an sObject has no xsi:type"));
                        }
                        current.sobject = Some(sobject);
                        Place::SObject
                    }
                    Place::SObject => {
                        if current.fields.len() >= MAX_FIELDS {
                            return Err(not_outbound(format!(
                                "a record carries more than {MAX_FIELDS} fields"
                            )));
                        }
                        nil = attribute(&start, b"nil")?.as_deref() == Some("true");
                        field_name = name;
                        text_value.clear();
                        Place::Field
                    }
                    Place::Header | Place::NotificationId | Place::Field => {
                        return Err(not_outbound(format!(
                            "an element inside {} was not expected",
                            if place == Place::Field {
                                "a record field"
                            } else {
                                "a text element"
                            }
                        )));
                    }
                    Place::Envelope | Place::Notification | Place::Skipped => Place::Skipped,
                };
                stack.push(next);
            }
            Event::End(_) => {
                stack.pop();
                match place {
                    Place::Header => {
                        let value = std::mem::take(&mut text_value);
                        match header_name.as_str() {
                            "OrganizationId" => organization_id = Some(value),
                            "ActionId" => action_id = Some(value).filter(|v| !v.is_empty()),
                            _ => {}
                        }
                    }
                    Place::NotificationId => current.id = Some(std::mem::take(&mut text_value)),
                    Place::Field => {
                        let value = if nil {
                            Value::Null
                        } else {
                            Value::String(std::mem::take(&mut text_value))
                        };
                        current
                            .fields
                            .insert(std::mem::take(&mut field_name), value);
                    }
                    Place::Notification => {
                        let partial = std::mem::take(&mut current);
                        let index = notifications.len();
                        let id = partial.id.filter(|id| !id.is_empty()).ok_or_else(|| {
                            not_outbound(format!("Notification[{index}] has no Id"))
                        })?;
                        let sobject = partial.sobject.ok_or_else(|| {
                            not_outbound(format!("Notification[{index}] has no sObject"))
                        })?;
                        notifications.push(Notification {
                            id,
                            sobject,
                            fields: partial.fields,
                        });
                    }
                    _ => {}
                }
            }
            Event::Text(t) => {
                let value = t.unescape().map_err(malformed)?;
                if matches!(place, Place::Header | Place::NotificationId | Place::Field) {
                    text_value.push_str(xml_chars(&value)?);
                }
            }
            Event::CData(c) => {
                if matches!(place, Place::Header | Place::NotificationId | Place::Field) {
                    text_value.push_str(std::str::from_utf8(&c).map_err(malformed)?);
                }
            }
            Event::Empty(_) => return Err(malformed("unexpected empty element")),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(malformed("the document ends inside an element"));
    }
    if !seen_notifications {
        return Err(not_outbound("the body is not an Outbound Message"));
    }
    let organization_id = organization_id
        .ok_or_else(|| not_outbound("the message has no OrganizationId"))
        .and_then(|raw| {
            SalesforceId::parse(&raw)
                .map_err(|reason| not_outbound(format!("OrganizationId {reason}")))
        })?;
    if notifications.is_empty() {
        return Err(not_outbound("the message holds no Notification"));
    }
    Ok(OutboundMessage {
        organization_id,
        action_id,
        notifications,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(notifications: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>00D5g000004ZKTDEA4</OrganizationId>
   <ActionId>04k5g000000ABCDAAA</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/62.0/00D5g000004ZKTD</EnterpriseUrl>
   <PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/62.0/00D5g000004ZKTD</PartnerUrl>
   {notifications}
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>"#
        )
    }

    fn notification(n: usize) -> String {
        format!(
            r#"<Notification><Id>04l5g00000{n:05}AAA</Id><sObject xsi:type="sf:Contact" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>0035g00000ABCDEAAA</sf:Id><sf:Email>a&amp;b@example.com</sf:Email><sf:MobilePhone xsi:nil="true"/><sf:LastModifiedDate>2017-09-01T16:27:19.000Z</sf:LastModifiedDate></sObject></Notification>"#
        )
    }

    #[test]
    fn reads_a_message_with_nil_and_escaped_fields() {
        let parsed = parse(envelope(&notification(1)).as_bytes()).unwrap();
        assert_eq!(parsed.organization_id.as_str(), "00D5g000004ZKTDEA4");
        assert_eq!(parsed.action_id.as_deref(), Some("04k5g000000ABCDAAA"));
        let n = &parsed.notifications[0];
        assert_eq!(n.id, "04l5g0000000001AAA");
        assert_eq!(n.sobject, "Contact");
        assert_eq!(n.fields["Email"], "a&b@example.com");
        assert_eq!(n.fields["MobilePhone"], Value::Null);
        assert!(!n.fields.contains_key("Title"));
    }

    #[test]
    fn refuses_a_doctype_and_undeclared_entities() {
        let laughs = format!(
            "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]>{}",
            envelope(&notification(1)).replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "")
        );
        assert_eq!(parse(laughs.as_bytes()), Err(OutboundError::Doctype));
        let entity = envelope(&notification(1)).replace("a&amp;b", "&xxe;");
        assert!(matches!(
            parse(entity.as_bytes()),
            Err(OutboundError::Malformed(_))
        ));
    }

    #[test]
    fn refuses_control_characters_raw_or_as_references() {
        for bad in [
            "a&#1;b@example.com",
            "a&#x1B;b@example.com",
            "a\u{1}b@example.com",
            "&#xFFFE;",
        ] {
            let doc = envelope(&notification(1)).replace("a&amp;b@example.com", bad);
            assert!(
                matches!(parse(doc.as_bytes()), Err(OutboundError::Malformed(_))),
                "{bad:?} accepted"
            );
        }
        let nul = envelope(&notification(1)).replace("a&amp;b@example.com", "a&#0;b");
        assert!(parse(nul.as_bytes()).is_err());
        let sobject = envelope(&notification(1)).replace("sf:Contact", "sf:Con&#2;tact");
        assert!(parse(sobject.as_bytes()).is_err());
        let tabs = envelope(&notification(1)).replace("a&amp;b@example.com", "a&#9;b&#10;c");
        assert!(parse(tabs.as_bytes()).is_ok());
    }

    #[test]
    fn refuses_the_101st_notification() {
        let hundred: String = (0..100).map(notification).collect();
        assert_eq!(
            parse(envelope(&hundred).as_bytes())
                .unwrap()
                .notifications
                .len(),
            100
        );
        let more: String = (0..101).map(notification).collect();
        assert_eq!(
            parse(envelope(&more).as_bytes()),
            Err(OutboundError::TooManyNotifications)
        );
    }

    #[test]
    fn refuses_truncated_and_foreign_documents() {
        let full = envelope(&notification(1));
        assert!(parse(&full.as_bytes()[..full.len() - 30]).is_err());
        assert!(parse(b"<a><b></a></b>").is_err());
        assert!(parse(b"<html/>").is_err());
        assert!(parse(b"").is_err());
    }
}
