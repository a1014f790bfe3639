//! The e-mails Liaison sends, as plain text and HTML, from the templates in `templates/mail/`.
//! Everything that comes from people (names, the staff's message) is escaped in the HTML part
//! by the template engine; the plain-text part keeps it as written.

use askama::Template;

use super::Email;
use crate::markup::render;

#[derive(Template)]
#[template(path = "mail/invitation.txt")]
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

/// The invitation's HTML part: the same values as its text.
#[derive(Template)]
#[template(path = "mail/invitation.html")]
struct InvitationHtml<'a, 'i>(&'i Invitation<'a>);

impl<'a> std::ops::Deref for InvitationHtml<'a, '_> {
    type Target = Invitation<'a>;

    fn deref(&self) -> &Invitation<'a> {
        self.0
    }
}

pub fn invitation(i: &Invitation<'_>) -> Email {
    Email {
        to_name: format!("{} {}", i.first_name, i.last_name),
        to: i.email.to_string(),
        subject: format!("{} invites you to its secure messenger", i.tenancy_name),
        text: render(i),
        html: render(&InvitationHtml(i)),
        sender_name: Some(i.tenancy_name.to_string()),
    }
}

#[derive(Template)]
#[template(path = "mail/client_accepted.txt")]
struct ClientAccepted<'a> {
    tenancy_name: &'a str,
    staff_first_name: &'a str,
    client_name: &'a str,
}

#[derive(Template)]
#[template(path = "mail/client_accepted.html")]
struct ClientAcceptedHtml<'a, 'n>(&'n ClientAccepted<'a>);

impl<'a> std::ops::Deref for ClientAcceptedHtml<'a, '_> {
    type Target = ClientAccepted<'a>;

    fn deref(&self) -> &ClientAccepted<'a> {
        self.0
    }
}

/// Tells a member of staff that a client they cover accepted.
pub fn client_accepted(
    tenancy_name: &str,
    staff_first_name: &str,
    staff_email: &str,
    client_name: &str,
) -> Email {
    let note = ClientAccepted {
        tenancy_name,
        staff_first_name,
        client_name,
    };
    Email {
        to_name: staff_first_name.to_string(),
        to: staff_email.to_string(),
        subject: format!("{client_name} accepted your invitation"),
        text: render(&note),
        html: render(&ClientAcceptedHtml(&note)),
        sender_name: Some(tenancy_name.to_string()),
    }
}

/// One tenancy's sign-in link in a console sign-in e-mail.
#[derive(Debug, Clone)]
pub struct SignInLink {
    pub tenancy_name: String,
    pub url: String,
}

#[derive(Template)]
#[template(path = "mail/console_sign_in.txt")]
pub struct ConsoleSignIn<'a> {
    pub first_name: &'a str,
    pub email: &'a str,
    /// One link per tenancy the address administers.
    pub links: &'a [SignInLink],
    /// How long the links work.
    pub minutes: i64,
}

#[derive(Template)]
#[template(path = "mail/console_sign_in.html")]
struct ConsoleSignInHtml<'a, 's>(&'s ConsoleSignIn<'a>);

impl<'a> std::ops::Deref for ConsoleSignInHtml<'a, '_> {
    type Target = ConsoleSignIn<'a>;

    fn deref(&self) -> &ConsoleSignIn<'a> {
        self.0
    }
}

/// An administrator's links into the admin console, one per tenancy, sent because someone
/// asked for them at the sign-in page.
pub fn console_sign_in(s: &ConsoleSignIn<'_>) -> Email {
    Email {
        to_name: s.first_name.to_string(),
        to: s.email.to_string(),
        subject: "Sign in to the Liaison console".to_string(),
        text: render(s),
        html: render(&ConsoleSignInHtml(s)),
        sender_name: None,
    }
}

/// An org link Salesforce no longer accepts, told to a system administrator of a tenancy it
/// serves, with the link's console page.
#[derive(Template)]
#[template(path = "mail/link_unauthorized.txt")]
pub struct LinkUnauthorized<'a> {
    pub first_name: &'a str,
    pub email: &'a str,
    pub link_name: &'a str,
    pub tenancy_name: &'a str,
    pub reason: &'a str,
    /// The link's page in the console.
    pub url: &'a str,
}

#[derive(Template)]
#[template(path = "mail/link_unauthorized.html")]
struct LinkUnauthorizedHtml<'a, 'n>(&'n LinkUnauthorized<'a>);

impl<'a> std::ops::Deref for LinkUnauthorizedHtml<'a, '_> {
    type Target = LinkUnauthorized<'a>;

    fn deref(&self) -> &LinkUnauthorized<'a> {
        self.0
    }
}

pub fn link_unauthorized(n: &LinkUnauthorized<'_>) -> Email {
    Email {
        to_name: n.first_name.to_string(),
        to: n.email.to_string(),
        subject: format!(
            "Reconnect Salesforce: the org link {} stopped working",
            n.link_name
        ),
        text: render(n),
        html: render(&LinkUnauthorizedHtml(n)),
        sender_name: None,
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
