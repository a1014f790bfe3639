//! Tenancy isolation: a tenancy-scoped token never sees or changes another tenancy's data,
//! and everything it tries is refused exactly as if the other tenancy's objects did not exist.

use std::collections::HashSet;

use futures::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{CLIENT_TEAMS, CONTACT_GROUPS, Model, Populated, TestApp, populate};
use crate::on_both_backends;

on_both_backends!(
    staff_of_tenancy_b_cannot_see_or_change_anything_of_a_contact_groups_tenancy_a,
    staff_of_tenancy_b_cannot_see_or_change_anything_of_a_client_teams_tenancy_a,
    ids_of_tenancy_a_name_nothing_under_tenancy_b_on_contact_groups,
    ids_of_tenancy_a_name_nothing_under_tenancy_b_on_client_teams,
    a_tenancy_scoped_token_lists_only_its_own_tenancy_and_an_operator_lists_all,
);

/// Everything of a tenancy its own administrator can read, to compare before and after.
async fn snapshot(app: &TestApp, p: &Populated, m: Model) -> Vec<(String, Value)> {
    let t = &p.t.id;
    let paths = [
        format!("/api/v1/tenancies/{t}"),
        format!("/api/v1/tenancies/{t}/staff"),
        format!("/api/v1/tenancies/{t}/staff/{}", p.staff),
        format!("/api/v1/tenancies/{t}/staff/{}", p.spare),
        format!("/api/v1/tenancies/{t}/team-accounts"),
        format!("/api/v1/tenancies/{t}/team-accounts/{}", p.team_account),
        format!(
            "/api/v1/tenancies/{t}/team-accounts/{}/delegates",
            p.team_account
        ),
        format!("/api/v1/tenancies/{t}/{}", m.kind),
        format!("/api/v1/tenancies/{t}/{}/{}", m.kind, p.group),
        format!("/api/v1/tenancies/{t}/{}/{}/members", m.kind, p.group),
        format!("/api/v1/tenancies/{t}/clients"),
        format!("/api/v1/tenancies/{t}/clients/{}", p.client),
        format!("/api/v1/tenancies/{t}/clients/{}/events", p.client),
        format!("/api/v1/tenancies/{t}/users/{}/contacts", p.staff),
        format!("/api/v1/tenancies/{t}/users/{}/contacts", p.client),
        format!("/api/v1/tenancies/{t}/users/{}/contacts", p.team_account),
        format!("/api/v1/tenancies/{t}/tokens"),
        format!("/api/v1/tenancies/{t}/audit?limit=200"),
    ];
    let mut seen = Vec::new();
    for path in paths {
        let body = app.get(&path, &p.t.admin_token).await.expect(200);
        seen.push((path, body));
    }
    seen
}

/// One request a foreign caller tries.
struct Attempt {
    method: Method,
    path: String,
    body: Option<Value>,
}

fn attempt(method: Method, path: String, body: Option<Value>) -> Attempt {
    Attempt { method, path, body }
}

/// Replaces every id of `ids` in `text` with a fresh random UUID (the same one each time).
fn with_random_ids(text: &str, ids: &[&str]) -> String {
    let mut out = text.to_string();
    for id in ids {
        out = out.replace(id, &Uuid::new_v4().to_string());
    }
    out
}

/// Sends `a` as `token` and asserts a refusal with `status`; then sends the same request with
/// `hidden` ids swapped for random ones and asserts the very same answer, so a refusal never
/// tells whether the other tenancy's object exists.
async fn refused_as_if_absent(
    app: &TestApp,
    token: &str,
    a: &Attempt,
    status: u16,
    hidden: &[&str],
) -> Value {
    let reply = app
        .request(a.method.clone(), &a.path, Some(token), a.body.clone())
        .await;
    assert_eq!(
        reply.status.as_u16(),
        status,
        "{} {}: {:#}",
        a.method,
        a.path,
        reply.body
    );
    assert_eq!(
        reply.content_type, "application/problem+json",
        "{} {}",
        a.method, a.path
    );
    assert_eq!(reply.body["status"], status, "{} {}", a.method, a.path);

    let random_path = with_random_ids(&a.path, hidden);
    let random_body = a
        .body
        .as_ref()
        .map(|b| serde_json::from_str(&with_random_ids(&b.to_string(), hidden)).expect("json"));
    let control = app
        .request(a.method.clone(), &random_path, Some(token), random_body)
        .await;
    assert_eq!(
        (control.status, &control.body),
        (reply.status, &reply.body),
        "{} {} answers differently for a random id",
        a.method,
        a.path
    );
    reply.body
}

/// Every route that takes tenancy A's id, with A's object ids, as a caller of tenancy B.
fn attempts_on_tenancy_a(a: &Populated, m: Model, b_slug: &str) -> Vec<Attempt> {
    let t = format!("/api/v1/tenancies/{}", a.t.id);
    let (s, spare, ta, g, c) = (&a.staff, &a.spare, &a.team_account, &a.group, &a.client);
    vec![
        attempt(Method::GET, t.clone(), None),
        attempt(
            Method::PATCH,
            t.clone(),
            Some(json!({ "name": "Taken over" })),
        ),
        attempt(Method::GET, format!("{t}/staff"), None),
        attempt(
            Method::POST,
            format!("{t}/staff"),
            Some(json!({ "first_name": "Mole", "last_name": "Agent",
                         "email": format!("mole@{b_slug}.example"), "role": "system_administrator" })),
        ),
        attempt(Method::GET, format!("{t}/staff/{s}"), None),
        attempt(
            Method::PATCH,
            format!("{t}/staff/{s}"),
            Some(json!({ "last_name": "Changed", "role": "system_administrator" })),
        ),
        attempt(
            Method::PATCH,
            format!("{t}/staff/{s}"),
            Some(json!({ "active": false })),
        ),
        attempt(Method::GET, format!("{t}/team-accounts"), None),
        attempt(
            Method::POST,
            format!("{t}/team-accounts"),
            Some(
                json!({ "name": "Fake Support", "email": format!("fake@{b_slug}.example"),
                         "mobile": "+447700900999" }),
            ),
        ),
        attempt(Method::GET, format!("{t}/team-accounts/{ta}"), None),
        attempt(
            Method::PATCH,
            format!("{t}/team-accounts/{ta}"),
            Some(json!({ "name": "Hijacked", "active": false })),
        ),
        attempt(
            Method::GET,
            format!("{t}/team-accounts/{ta}/delegates"),
            None,
        ),
        attempt(
            Method::PUT,
            format!("{t}/team-accounts/{ta}/delegates/{spare}"),
            None,
        ),
        attempt(
            Method::DELETE,
            format!("{t}/team-accounts/{ta}/delegates/{s}"),
            None,
        ),
        attempt(Method::GET, format!("{t}/{}", m.kind), None),
        attempt(Method::GET, format!("{t}/{}?q=smith", m.kind), None),
        attempt(
            Method::POST,
            format!("{t}/{}", m.kind),
            Some(json!({ "name": "Intruders", "members": [] })),
        ),
        // The other kind answers 404 too, not 409: that would tell A's model.
        attempt(Method::GET, format!("{t}/{}", m.other_kind), None),
        attempt(
            Method::POST,
            format!("{t}/{}", m.other_kind),
            Some(json!({ "name": "Intruders" })),
        ),
        attempt(Method::GET, format!("{t}/{}/{g}", m.kind), None),
        attempt(
            Method::PATCH,
            format!("{t}/{}/{g}", m.kind),
            Some(json!({ "name": "Renamed" })),
        ),
        attempt(Method::DELETE, format!("{t}/{}/{g}", m.kind), None),
        attempt(Method::GET, format!("{t}/{}/{g}/members", m.kind), None),
        attempt(
            Method::PUT,
            format!("{t}/{}/{g}/members/{spare}", m.kind),
            None,
        ),
        attempt(
            Method::PUT,
            format!("{t}/{}/{g}/members/{spare}", m.kind),
            Some(json!({ "confidentiality_override": true })),
        ),
        attempt(
            Method::DELETE,
            format!("{t}/{}/{g}/members/{s}", m.kind),
            None,
        ),
        attempt(Method::GET, format!("{t}/clients"), None),
        attempt(Method::GET, format!("{t}/clients?status=draft"), None),
        attempt(
            Method::POST,
            format!("{t}/clients"),
            Some(json!({ "first_name": "Eve", "last_name": "Spy",
                         "email": format!("eve@{b_slug}.example"), (m.field): [g],
                         "confidentiality_override": true })),
        ),
        attempt(Method::GET, format!("{t}/clients/{c}"), None),
        attempt(
            Method::PATCH,
            format!("{t}/clients/{c}"),
            Some(json!({ "first_name": "Changed", "email": "changed@example.com" })),
        ),
        attempt(Method::POST, format!("{t}/clients/{c}/revoke"), None),
        attempt(Method::GET, format!("{t}/clients/{c}/events"), None),
        attempt(Method::GET, format!("{t}/users/{s}/contacts"), None),
        attempt(Method::GET, format!("{t}/users/{c}/contacts"), None),
        attempt(Method::GET, format!("{t}/users/{ta}/contacts"), None),
        attempt(Method::GET, format!("{t}/tokens"), None),
        attempt(
            Method::POST,
            format!("{t}/tokens"),
            Some(json!({ "staff_id": s, "name": "Backdoor" })),
        ),
        attempt(
            Method::DELETE,
            format!("{t}/tokens/{}", a.admin_token_id),
            None,
        ),
        attempt(Method::GET, format!("{t}/audit"), None),
        attempt(Method::GET, format!("{t}/audit?target={s}"), None),
    ]
}

async fn b_cannot_touch_a(app: TestApp, m: Model) {
    let a = populate(&app, "Alpha Wealth", "alpha", m).await;
    let b = populate(&app, "Beta Partners", "beta", m).await;
    let (_, b_users_admin_token) = app
        .staff(&b.t, "Uma", "Useradmin", "users_administrator")
        .await;
    let before_a = snapshot(&app, &a, m).await;
    let before_b = snapshot(&app, &b, m).await;

    let hidden: [&str; 7] = [
        &a.t.id,
        &a.staff,
        &a.spare,
        &a.team_account,
        &a.group,
        &a.client,
        &a.admin_token_id,
    ];
    let attempts = attempts_on_tenancy_a(&a, m, "beta");
    assert!(attempts.len() >= 35);
    // Every attempt is refused before it reaches A's data, so they may all run at once.
    let tokens = [&b.t.admin_token, &b_users_admin_token, &b.staff_token];
    let refusals = tokens.iter().flat_map(|token| {
        attempts
            .iter()
            .map(|at| refused_as_if_absent(&app, token, at, 404, &hidden))
    });
    for (problem, at) in join_all(refusals).await.iter().zip(attempts.iter().cycle()) {
        assert_eq!(problem["code"], "not-found", "{} {}", at.method, at.path);
    }

    // Nothing of A changed, and A's own token still works (it was not revoked).
    assert_eq!(snapshot(&app, &a, m).await, before_a);
    // B gained nothing from the attempts either.
    assert_eq!(snapshot(&app, &b, m).await, before_b);
}

async fn staff_of_tenancy_b_cannot_see_or_change_anything_of_a_contact_groups_tenancy_a(
    app: TestApp,
) {
    b_cannot_touch_a(app, CONTACT_GROUPS).await;
}

async fn staff_of_tenancy_b_cannot_see_or_change_anything_of_a_client_teams_tenancy_a(
    app: TestApp,
) {
    b_cannot_touch_a(app, CLIENT_TEAMS).await;
}

/// A's object ids used under B's own tenancy path, by B's administrator.
async fn a_ids_under_b(app: TestApp, m: Model) {
    let a = populate(&app, "Alpha Wealth", "alpha", m).await;
    let b = populate(&app, "Beta Partners", "beta", m).await;
    let before_a = snapshot(&app, &a, m).await;
    let before_b = snapshot(&app, &b, m).await;

    let t = format!("/api/v1/tenancies/{}", b.t.id);
    let (s, spare, ta, g, c) = (&a.staff, &a.spare, &a.team_account, &a.group, &a.client);
    let (b_admin, b_ta, b_g) = (&b.t.admin_id, &b.team_account, &b.group);
    let not_found = vec![
        attempt(Method::GET, format!("{t}/staff/{s}"), None),
        attempt(
            Method::PATCH,
            format!("{t}/staff/{s}"),
            Some(json!({ "last_name": "Changed" })),
        ),
        attempt(
            Method::PATCH,
            format!("{t}/staff/{s}"),
            Some(json!({ "active": false })),
        ),
        attempt(Method::GET, format!("{t}/team-accounts/{ta}"), None),
        attempt(
            Method::PATCH,
            format!("{t}/team-accounts/{ta}"),
            Some(json!({ "name": "Hijacked" })),
        ),
        attempt(
            Method::GET,
            format!("{t}/team-accounts/{ta}/delegates"),
            None,
        ),
        attempt(
            Method::PUT,
            format!("{t}/team-accounts/{ta}/delegates/{b_admin}"),
            None,
        ),
        attempt(
            Method::DELETE,
            format!("{t}/team-accounts/{ta}/delegates/{s}"),
            None,
        ),
        attempt(
            Method::DELETE,
            format!("{t}/team-accounts/{b_ta}/delegates/{s}"),
            None,
        ),
        attempt(Method::GET, format!("{t}/{}/{g}", m.kind), None),
        attempt(
            Method::PATCH,
            format!("{t}/{}/{g}", m.kind),
            Some(json!({ "name": "Renamed" })),
        ),
        attempt(Method::DELETE, format!("{t}/{}/{g}", m.kind), None),
        attempt(Method::GET, format!("{t}/{}/{g}/members", m.kind), None),
        attempt(
            Method::PUT,
            format!("{t}/{}/{g}/members/{b_admin}", m.kind),
            None,
        ),
        attempt(
            Method::DELETE,
            format!("{t}/{}/{g}/members/{s}", m.kind),
            None,
        ),
        // B's own group with A's users.
        attempt(
            Method::PUT,
            format!("{t}/{}/{b_g}/members/{spare}", m.kind),
            None,
        ),
        attempt(
            Method::PUT,
            format!("{t}/{}/{b_g}/members/{c}", m.kind),
            Some(json!({ "confidentiality_override": true })),
        ),
        attempt(
            Method::DELETE,
            format!("{t}/{}/{b_g}/members/{s}", m.kind),
            None,
        ),
        attempt(Method::GET, format!("{t}/clients/{c}"), None),
        attempt(
            Method::PATCH,
            format!("{t}/clients/{c}"),
            Some(json!({ "first_name": "Changed" })),
        ),
        attempt(Method::POST, format!("{t}/clients/{c}/revoke"), None),
        attempt(Method::GET, format!("{t}/clients/{c}/events"), None),
        attempt(Method::GET, format!("{t}/users/{s}/contacts"), None),
        attempt(Method::GET, format!("{t}/users/{c}/contacts"), None),
        attempt(Method::GET, format!("{t}/users/{ta}/contacts"), None),
        attempt(
            Method::DELETE,
            format!("{t}/tokens/{}", a.admin_token_id),
            None,
        ),
        attempt(
            Method::DELETE,
            format!("/api/v1/operator/tokens/{}", a.admin_token_id),
            None,
        ),
    ];
    let hidden: [&str; 6] = [s, spare, ta, g, c, a.admin_token_id.as_str()];
    for at in &not_found {
        // The operator route is for operators only: 403 before anything is looked up.
        let status = if at.path.contains("/operator/") {
            403
        } else {
            404
        };
        refused_as_if_absent(&app, &b.t.admin_token, at, status, &hidden).await;
    }
    // The operator, who sees every tenancy, gets 404 for the same mix-ups: A's objects are
    // not B's.
    for at in not_found
        .iter()
        .filter(|at| !at.path.contains("/operator/"))
    {
        refused_as_if_absent(&app, &app.operator, at, 404, &hidden).await;
    }

    // A's ids in B's request bodies name nothing in B: refused as for any unknown id.
    let invalid = [
        (
            attempt(
                Method::PUT,
                format!("{t}/team-accounts/{b_ta}/delegates/{s}"),
                None,
            ),
            "staff_id",
        ),
        (
            attempt(
                Method::POST,
                format!("{t}/tokens"),
                Some(json!({ "staff_id": s, "name": "Backdoor" })),
            ),
            "staff_id",
        ),
        (
            attempt(
                Method::POST,
                format!("{t}/{}", m.kind),
                Some(json!({ "name": "Mixed", "members": [b_admin, s] })),
            ),
            "members[1]",
        ),
        (
            attempt(
                Method::POST,
                format!("{t}/{}", m.kind),
                Some(json!({ "name": "Mixed", "members": [ta] })),
            ),
            "members[0]",
        ),
        (
            attempt(
                Method::POST,
                format!("{t}/clients"),
                Some(
                    json!({ "first_name": "Eve", "last_name": "Spy", "email": "eve@beta.example",
                             (m.field): [b_g, g], "confidentiality_override": true }),
                ),
            ),
            if m.field == "contact_groups" {
                "contact_groups[1]"
            } else {
                "client_teams[1]"
            },
        ),
    ];
    for (at, field) in &invalid {
        let problem = refused_as_if_absent(&app, &b.t.admin_token, at, 422, &hidden).await;
        assert_eq!(
            crate::helpers::Reply::fields(&problem),
            [*field],
            "{} {}",
            at.method,
            at.path
        );
    }
    if m.name == "contact_groups" {
        let at = attempt(
            Method::POST,
            format!("{t}/clients"),
            Some(
                json!({ "first_name": "Eve", "last_name": "Spy", "email": "eve@beta.example",
                         "new_contact_group": { "name": "Spy Relationship", "members": [b_admin, s] } }),
            ),
        );
        let problem = refused_as_if_absent(&app, &b.t.admin_token, &at, 422, &hidden).await;
        assert_eq!(
            crate::helpers::Reply::fields(&problem),
            ["new_contact_group.members[1]"]
        );
    }

    assert_eq!(snapshot(&app, &a, m).await, before_a);
    assert_eq!(snapshot(&app, &b, m).await, before_b);
}

async fn ids_of_tenancy_a_name_nothing_under_tenancy_b_on_contact_groups(app: TestApp) {
    a_ids_under_b(app, CONTACT_GROUPS).await;
}

async fn ids_of_tenancy_a_name_nothing_under_tenancy_b_on_client_teams(app: TestApp) {
    a_ids_under_b(app, CLIENT_TEAMS).await;
}

fn ids(page: &Value) -> HashSet<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_string())
        .collect()
}

async fn a_tenancy_scoped_token_lists_only_its_own_tenancy_and_an_operator_lists_all(app: TestApp) {
    let a = app.tenancy("Alpha Wealth", "contact_groups").await;
    let b = app.tenancy("Beta Partners", "client_teams").await;
    let (_, b_staff_token) = app.staff(&b, "Sam", "Staff", "staff").await;

    for token in [&b.admin_token, &b_staff_token] {
        let page = app.get("/api/v1/tenancies", token).await.expect(200);
        assert_eq!(ids(&page), HashSet::from([b.id.clone()]));
        assert_eq!(page["next_cursor"], Value::Null);
        // Paging past B, or starting the walk at A, still never shows A.
        let after_a = app
            .get(&format!("/api/v1/tenancies?after={}&limit=1", a.id), token)
            .await
            .expect(200);
        assert!(!ids(&after_a).contains(&a.id));
    }
    let all = app
        .get("/api/v1/tenancies", &app.operator)
        .await
        .expect(200);
    assert_eq!(ids(&all), HashSet::from([a.id.clone(), b.id.clone()]));

    // Only an operator creates tenancies or operator tokens.
    let refused = app
        .post(
            "/api/v1/tenancies",
            &b.admin_token,
            json!({ "name": "Gamma", "group_model": "client_teams" }),
        )
        .await
        .problem(403);
    assert_eq!(refused["code"], "forbidden");
    app.post(
        "/api/v1/operator/tokens",
        &b.admin_token,
        json!({ "name": "Escalation" }),
    )
    .await
    .problem(403);
    app.get("/api/v1/operator/tokens", &b.admin_token)
        .await
        .problem(403);
    let all = app
        .get("/api/v1/tenancies", &app.operator)
        .await
        .expect(200);
    assert_eq!(all["items"].as_array().map(Vec::len), Some(2));
}
