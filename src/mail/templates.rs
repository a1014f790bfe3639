//! The e-mails Liaison sends, as plain text and HTML. Everything that comes from people (names,
//! the staff's message) is escaped in the HTML part.

use super::Email;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub struct Invitation<'a> {
    pub tenancy_name: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub email: &'a str,
    pub link: &'a str,
    /// The staff's own words, if any.
    pub message: Option<&'a str>,
    /// When the link stops working, for people (e.g. "Wed 4 Mar 2026, 09:00 UTC").
    pub valid_until: &'a str,
}

pub fn invitation(i: &Invitation<'_>) -> Email {
    let subject = format!("{} invites you to its secure messenger", i.tenancy_name);
    let message_text = i.message.map(|m| format!("\n{m}\n")).unwrap_or_default();
    let text = format!(
        "Dear {first},\n\n{tenancy} invites you to talk with them securely.\n{message}\n\
         Accept or decline your invitation here:\n{link}\n\n\
         This link works until {until}. If it has expired, look for a newer e-mail from us, or ask \
         {tenancy} to send a new invitation.\n\nIf you did not expect this e-mail, you can ignore it.\n",
        first = i.first_name,
        tenancy = i.tenancy_name,
        message = message_text,
        link = i.link,
        until = i.valid_until,
    );
    let message_html = i
        .message
        .map(|m| {
            format!(
                "<blockquote>{}</blockquote>",
                escape(m).replace('\n', "<br>")
            )
        })
        .unwrap_or_default();
    let html = format!(
        "<!doctype html><html lang=\"en\"><body>\
         <p>Dear {first},</p><p>{tenancy} invites you to talk with them securely.</p>{message}\
         <p><a href=\"{link}\">Accept or decline your invitation</a></p>\
         <p>This link works until {until}. If it has expired, look for a newer e-mail from us, or ask {tenancy} \
         to send a new invitation.</p><p>If you did not expect this e-mail, you can ignore it.</p></body></html>",
        first = escape(i.first_name),
        tenancy = escape(i.tenancy_name),
        message = message_html,
        link = escape(i.link),
        until = escape(i.valid_until),
    );
    Email {
        to_name: format!("{} {}", i.first_name, i.last_name),
        to: i.email.to_string(),
        subject,
        text,
        html,
        sender_name: Some(i.tenancy_name.to_string()),
    }
}

/// Tells a member of staff that a client they cover accepted.
pub fn client_accepted(
    tenancy_name: &str,
    staff_first_name: &str,
    staff_email: &str,
    client_name: &str,
) -> Email {
    let subject = format!("{client_name} accepted your invitation");
    let text = format!(
        "Dear {staff_first_name},\n\n{client_name} accepted the invitation to {tenancy_name}'s secure messenger. \
         You can now talk with them there.\n"
    );
    let html = format!(
        "<!doctype html><html lang=\"en\"><body><p>Dear {}</p><p>{} accepted the invitation to {}'s secure messenger. \
         You can now talk with them there.</p></body></html>",
        escape(staff_first_name),
        escape(client_name),
        escape(tenancy_name)
    );
    Email {
        to_name: staff_first_name.to_string(),
        to: staff_email.to_string(),
        subject,
        text,
        html,
        sender_name: Some(tenancy_name.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_staff_message_is_escaped_in_the_html_part() {
        let email = invitation(&Invitation {
            tenancy_name: "Acme & Co",
            first_name: "Jane",
            last_name: "Smith",
            email: "jane@example.com",
            link: "https://liaison.example/i/abc",
            message: Some("<script>alert(1)</script>\nSee you"),
            valid_until: "Wed 4 Mar 2026, 09:00 UTC",
        });
        assert!(
            email
                .html
                .contains("&lt;script&gt;alert(1)&lt;/script&gt;<br>See you")
        );
        assert!(!email.html.contains("<script>"));
        assert!(email.html.contains("Acme &amp; Co"));
        assert!(
            email.text.contains("<script>alert(1)</script>"),
            "plain text stays as written"
        );
        assert!(email.text.contains("https://liaison.example/i/abc"));
    }
}
