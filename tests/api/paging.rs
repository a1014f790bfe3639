//! Lists: pages walked with `next_cursor`, and search over names and e-mails.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::{TestApp, at, id_of, invited, keys, set};
use crate::on_both_backends;

on_both_backends!(
    pagination_walks_every_item_once_with_next_cursor,
    search_finds_names_and_emails_and_takes_wildcards_literally,
);

/// Walks a list `limit` at a time; returns the `key` of every item in order and the number of
/// pages.
async fn walk(
    app: &TestApp,
    path: &str,
    token: &str,
    limit: u32,
    key: &str,
) -> (Vec<String>, usize) {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut after: Option<String> = None;
    loop {
        let url = match &after {
            Some(cursor) => format!("{path}{sep}limit={limit}&after={cursor}"),
            None => format!("{path}{sep}limit={limit}"),
        };
        let page = app.get(&url, token).await.expect(200);
        pages += 1;
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= limit as usize);
        seen.extend(items.iter().map(|i| i[key].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                assert_eq!(
                    items.len(),
                    limit as usize,
                    "only a full page has a next one"
                );
                assert_eq!(cursor, seen.last().unwrap());
                after = Some(cursor.to_string());
            }
            None => break,
        }
        assert!(pages < 50, "pagination does not end");
    }
    (seen, pages)
}

async fn pagination_walks_every_item_once_with_next_cursor(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    for i in 0..6 {
        app.staff(&t, &format!("Sam{i}"), "Staff", "staff").await;
    }
    let team = app
        .group(&t, "client-teams", "Private", &[&t.admin_id])
        .await;
    for first in ["Ann", "Bob", "Cat", "Dan", "Eve"] {
        invited(&app, &t, first, "client_teams", &[&team], json!({})).await;
    }
    let all_staff = app
        .get(&at(&t, "/staff?limit=200"), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(all_staff["next_cursor"], Value::Null);
    let all_staff: Vec<String> = all_staff["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(all_staff.len(), 7);

    for (limit, pages) in [(1, 7), (3, 3), (7, 1), (50, 1)] {
        let (seen, n) = walk(&app, &at(&t, "/staff"), &t.admin_token, limit, "id").await;
        assert_eq!(seen, all_staff, "limit {limit}");
        assert_eq!(n, pages, "limit {limit}");
    }
    let (clients, pages) = walk(&app, &at(&t, "/clients"), &t.admin_token, 2, "id").await;
    assert_eq!(clients.len(), 5);
    assert_eq!(pages, 3);
    assert_eq!(clients.iter().collect::<HashSet<_>>().len(), 5);
    let (drafts, _) = walk(
        &app,
        &at(&t, "/clients?status=draft"),
        &t.admin_token,
        2,
        "id",
    )
    .await;
    assert_eq!(drafts, clients);
    let (members, pages) = walk(
        &app,
        &at(&t, &format!("/client-teams/{team}/members")),
        &t.admin_token,
        4,
        "user_id",
    )
    .await;
    assert_eq!(members.len(), 6);
    assert_eq!(members.iter().collect::<HashSet<_>>().len(), 6);
    assert_eq!(pages, 2);
    let (contacts, _) = walk(
        &app,
        &at(&t, &format!("/users/{}/contacts", t.admin_id)),
        &t.admin_token,
        2,
        "id",
    )
    .await;
    assert_eq!(contacts.len(), 5);
    assert_eq!(contacts.iter().collect::<HashSet<_>>().len(), 5);
    let (tokens, _) = walk(&app, &at(&t, "/tokens"), &t.admin_token, 3, "id").await;
    assert_eq!(tokens.len(), 7);
    assert_eq!(tokens.iter().collect::<HashSet<_>>().len(), 7);
}

async fn search_finds_names_and_emails_and_takes_wildcards_literally(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let (sam, _) = app.staff(&t, "Sam", "Smithers", "staff").await;
    let (sue, _) = app.staff(&t, "Sue", "Jones", "staff").await;
    let private = app
        .group(&t, "client-teams", "Private Clients", &[&sam])
        .await;
    app.group(&t, "client-teams", "Business", &[&sue]).await;

    let found = app
        .get(&at(&t, "/staff?q=SMITH"), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(keys(&found, "id"), set(&[&sam]));
    let found = app
        .get(&at(&t, "/staff?q=sue.jones%40firm"), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(keys(&found, "id"), set(&[&sue]));
    let found = app
        .get(&at(&t, "/staff?q=sam%20smithers"), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(keys(&found, "id"), set(&[&sam]));
    for wildcard in ["%25", "_", "%5C"] {
        let found = app
            .get(&at(&t, &format!("/staff?q={wildcard}")), &t.admin_token)
            .await
            .expect(200);
        assert_eq!(keys(&found, "id"), HashSet::new(), "q={wildcard}");
    }
    let found = app
        .get(&at(&t, "/client-teams?q=private"), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(keys(&found, "id"), set(&[&private]));
}
