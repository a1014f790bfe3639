//! A probe generated from `/openapi.json`: every operation, sent by every role of another
//! tenancy (and by each role of the same tenancy that has less than the operation needs), is
//! refused and changes nothing. Then every read a plain staff member can make is run and
//! must keep out a client and a contact group they share nothing with, and plain staff may add
//! to their groups only the clients they already see.

use std::collections::{BTreeSet, HashMap};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures::future::join_all;
use hmac::{Hmac, Mac};
use liaison::domain::values::SalesforceId;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use uuid::Uuid;

use crate::helpers::{CLIENT_TEAMS, CONTACT_GROUPS, Model, Populated, Tenancy, TestApp, populate};
use crate::on_both_backends;

on_both_backends!(
    every_operation_refuses_another_tenancy_and_lesser_roles_of_its_own_on_contact_groups,
    every_operation_refuses_another_tenancy_and_lesser_roles_of_its_own_on_client_teams,
    the_admin_of_a_tenancy_sharing_a_shared_link_reads_it_filtered_and_changes_nothing,
    every_read_of_plain_staff_keeps_out_a_client_and_a_group_they_do_not_share_on_contact_groups,
    every_read_of_plain_staff_keeps_out_the_clients_of_teams_they_are_not_in_on_client_teams,
    plain_staff_add_to_their_groups_only_clients_they_see_and_admins_any,
);

/// The least a caller needs for an operation; a caller of the tenancy with less is refused
/// (401 where a bearer token is not the credential, else 403).
#[derive(Clone, Copy, PartialEq, PartialOrd)]
enum Needs {
    Staff,
    UsersAdmin,
    SystemAdmin,
    Operator,
    LinkKey,
}

/// Who may call an operation.
#[derive(Clone, Copy)]
enum Who {
    /// Any staff member of the tenancy; what they see is limited by what they share.
    Staff,
    /// System or users administrators of the tenancy, and operators.
    Admin,
    /// System administrators of the tenancy, and operators.
    SystemAdmin,
    /// Not scoped by a tenancy in its path: who may call it, and how callers of another
    /// tenancy are refused (`foreign`).
    Outside {
        needs: Needs,
        foreign: &'static [u16],
        why: &'static str,
    },
}

const OPERATORS_ONLY: Who = Who::Outside {
    needs: Needs::Operator,
    foreign: &[403],
    why: "operator tokens are for operators only",
};

/// Org links are managed by operators and by the system administrators of the tenancies they
/// serve; another tenancy's administrator is told the link does not exist.
const LINK_MANAGERS: Who = Who::Outside {
    needs: Needs::SystemAdmin,
    foreign: &[403, 404],
    why: "org links: operators, or system administrators of a tenancy the link serves",
};

/// A failed item of a queue: its tenancy's system administrators and operators; another
/// tenancy's administrator is told it does not exist.
const FAILURE_ITEM: Who = Who::Outside {
    needs: Needs::SystemAdmin,
    foreign: &[403, 404],
    why: "a failed item: operators, or system administrators of its tenancy",
};

/// The JSON invite API authenticates with an org link's API key, never a bearer token.
const LINK_KEY: Who = Who::Outside {
    needs: Needs::LinkKey,
    foreign: &[401],
    why: "authenticated by an org link's API key; tried with another tenancy's link key too",
};

/// Every operation of `/openapi.json`, by operationId. The probe fails for an operation that is
/// missing here, so a new route cannot slip past it.
const OPERATIONS: &[(&str, Who)] = &[
    ("list_operator_tokens", OPERATORS_ONLY),
    ("create_operator_token", OPERATORS_ONLY),
    ("revoke_operator_token", OPERATORS_ONLY),
    (
        "list_org_links",
        Who::Outside {
            needs: Needs::SystemAdmin,
            foreign: &[200, 403],
            why: "lists only the links of the caller's own tenancy (system administrators)",
        },
    ),
    (
        "create_org_link",
        Who::Outside {
            needs: Needs::SystemAdmin,
            foreign: &[403, 422],
            why: "a system administrator may link only their own tenancy (422 on `tenancies`)",
        },
    ),
    ("get_org_link", LINK_MANAGERS),
    ("update_org_link", LINK_MANAGERS),
    ("delete_org_link", LINK_MANAGERS),
    ("create_api_key", LINK_MANAGERS),
    ("connect_org_link", LINK_MANAGERS),
    ("disconnect_org_link", LINK_MANAGERS),
    ("list_inbox", LINK_MANAGERS),
    ("dismiss_inbox_item", LINK_MANAGERS),
    ("replay_inbox_item", LINK_MANAGERS),
    ("rotate_intake_secrets", LINK_MANAGERS),
    ("describe_sobject", LINK_MANAGERS),
    ("dry_run_mapping", LINK_MANAGERS),
    ("list_writebacks", LINK_MANAGERS),
    ("dismiss_writeback", LINK_MANAGERS),
    ("retry_writeback", LINK_MANAGERS),
    ("invite_context", LINK_KEY),
    ("invite_from_salesforce", LINK_KEY),
    (
        "list_tenancies",
        Who::Outside {
            needs: Needs::Staff,
            foreign: &[200],
            why: "lists only the caller's own tenancy",
        },
    ),
    (
        "create_tenancy",
        Who::Outside {
            needs: Needs::Operator,
            foreign: &[403],
            why: "only operators create tenancies",
        },
    ),
    ("get_tenancy", Who::Staff),
    ("update_tenancy", Who::SystemAdmin),
    ("list_clients", Who::Staff),
    ("invite_client", Who::Staff),
    ("get_client", Who::Staff),
    ("update_client", Who::Admin),
    ("link_crm_record", Who::Admin),
    ("client_events", Who::Staff),
    ("invitation_history", Who::Staff),
    ("resend_invitation", Who::Admin),
    ("revoke_client", Who::Admin),
    ("send_invitation", Who::Admin),
    ("email_deliveries", Who::Admin),
    ("list_staff", Who::Staff),
    ("create_staff", Who::Admin),
    ("get_staff", Who::Staff),
    ("update_staff", Who::Admin),
    ("set_salesforce_user", Who::Admin),
    ("list_team_accounts", Who::Staff),
    ("create_team_account", Who::Admin),
    ("get_team_account", Who::Staff),
    ("update_team_account", Who::Admin),
    ("list_delegates", Who::Staff),
    ("add_delegate", Who::Admin),
    ("remove_delegate", Who::Admin),
    ("list_tokens", Who::Admin),
    ("create_token", Who::Admin),
    ("revoke_token", Who::Admin),
    ("list_contacts", Who::Staff),
    ("list_groups", Who::Staff),
    ("create_group", Who::Staff),
    ("get_group", Who::Staff),
    ("delete_group", Who::Admin),
    ("rename_group", Who::Admin),
    ("list_members", Who::Staff),
    ("add_member", Who::Staff),
    ("remove_member", Who::Admin),
    ("list_audit", Who::SystemAdmin),
    (
        "list_installation_audit",
        Who::Outside {
            needs: Needs::Operator,
            foreign: &[403],
            why: "the installation's audit trail is the operators'",
        },
    ),
    (
        "get_health",
        Who::Outside {
            needs: Needs::SystemAdmin,
            foreign: &[200, 403],
            why: "answers only the links and items of the caller's own tenancy (system administrators)",
        },
    ),
    ("get_crm_record", Who::Staff),
    ("list_client_groups", Who::Staff),
    ("tenancy_funnel", Who::SystemAdmin),
    ("record_writebacks", LINK_MANAGERS),
    (
        "list_failures",
        Who::Outside {
            needs: Needs::SystemAdmin,
            foreign: &[200, 403],
            why: "lists only the failed items of the caller's own tenancy (system administrators)",
        },
    ),
    (
        "retry_all_failures",
        Who::Outside {
            needs: Needs::SystemAdmin,
            foreign: &[200, 403, 422],
            why: "retries only the failed items of the caller's own tenancy (system administrators); a filter naming an org link for the e-mails, which have none, is refused as such",
        },
    ),
    ("get_failure", FAILURE_ITEM),
    ("retry_failure", FAILURE_ITEM),
    ("dismiss_failure", FAILURE_ITEM),
];

/// Routes served outside `/api/v1`, which `/openapi.json` does not describe, and why none of
/// them is tenancy data a bearer token could reach.
const NOT_IN_THE_DOCUMENT: &[(&str, &str)] = &[
    ("/healthz", "liveness: no data"),
    ("/readyz", "readiness: no data"),
    ("/metrics", "counters by route template and status, no ids"),
    ("/openapi.json", "the document itself"),
    (
        "/salesforce/oauth/",
        "the OAuth pages: single-use tickets and states, no bearer token",
    ),
    (
        "/salesforce/canvas",
        "the invite form's entry: a signed request checked with the link's secret",
    ),
    (
        "/salesforce/invite",
        "the invite form's pages: a canvas session that entry opened",
    ),
    (
        "/salesforce/outbound/",
        "Outbound Message intake: a per-link token",
    ),
    (
        "/webhooks/salesforce/",
        "webhook intake: a per-link signing secret",
    ),
    (
        "/invitations/",
        "the client's page: a single-use link token",
    ),
];

/// One operation of the document.
struct Operation {
    id: String,
    method: Method,
    /// The path template, `{name}` for each parameter.
    path: String,
    body: Option<Value>,
    query: Vec<String>,
}

async fn document(app: &TestApp) -> Value {
    app.request(Method::GET, "/openapi.json", None, None)
        .await
        .expect(200)
}

fn operations(spec: &Value) -> Vec<Operation> {
    let mut found = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        assert!(path.starts_with("/api/v1/"), "{path} is outside /api/v1");
        for (prefix, _) in NOT_IN_THE_DOCUMENT {
            assert!(
                !path.starts_with(prefix),
                "{path} is in the document and must be probed"
            );
        }
        for (method, op) in item.as_object().expect("path item") {
            let method = match method.as_str() {
                "get" => Method::GET,
                "post" => Method::POST,
                "put" => Method::PUT,
                "patch" => Method::PATCH,
                "delete" => Method::DELETE,
                _ => continue,
            };
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            found.push(Operation {
                id: op["operationId"].as_str().expect("operationId").to_string(),
                method,
                path: path.clone(),
                body: op
                    .pointer("/requestBody/content/application~1json/schema")
                    .cloned(),
                query: params
                    .iter()
                    .filter(|p| p["in"] == "query")
                    .map(|p| p["name"].as_str().expect("name").to_string())
                    .collect(),
            });
        }
    }
    let ids: BTreeSet<&str> = found.iter().map(|o| o.id.as_str()).collect();
    let listed: BTreeSet<&str> = OPERATIONS.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        ids, listed,
        "every operation of /openapi.json needs its entry in OPERATIONS, and only those"
    );
    for (id, who) in OPERATIONS {
        if let Who::Outside { why, .. } = who {
            assert!(!why.is_empty(), "{id}");
        }
    }
    found
}

fn who(op: &Operation) -> Who {
    OPERATIONS
        .iter()
        .find(|(id, _)| *id == op.id)
        .map(|(_, w)| *w)
        .expect("listed")
}

fn tenancy_scoped(op: &Operation) -> bool {
    op.path.starts_with("/api/v1/tenancies/{tenancy_id}")
}

fn path_params(template: &str) -> Vec<String> {
    template
        .split('{')
        .skip(1)
        .map(|rest| rest.split('}').next().expect("closing brace").to_string())
        .collect()
}

/// The template with each parameter replaced; fails loudly for a parameter with no filler.
fn fill(template: &str, fillers: &HashMap<&str, Vec<String>>) -> Vec<String> {
    // A failed item is named by its queue and its id together: each queue's own item.
    let template = template.replace("{queue}/{item_id}", "{queue_item}");
    let template = template.as_str();
    let mut paths = vec![template.to_string()];
    for name in path_params(template) {
        let values = fillers.get(name.as_str()).unwrap_or_else(|| {
            panic!("no filler for the path parameter {{{name}}} of {template}: add one")
        });
        let pattern = format!("{{{name}}}");
        let mut next = Vec::new();
        for p in &paths {
            for v in values {
                next.push(p.replace(&pattern, v));
            }
        }
        paths = next;
    }
    paths
}

/// What request bodies are filled with.
struct Hints {
    tenancy: String,
    staff: String,
    group: String,
    client: String,
    link: String,
    /// The e-mail of the Salesforce user the JSON invite API names.
    email: String,
}

fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => resolve(
            spec,
            spec.pointer(r.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("unresolved {r}")),
        ),
        None => schema,
    }
}

/// The schema without its `null` alternative.
fn non_null<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    let schema = resolve(spec, schema);
    match schema.get("oneOf").and_then(Value::as_array) {
        Some(options) => options
            .iter()
            .find(|o| o.get("type") != Some(&json!("null")))
            .map(|o| resolve(spec, o))
            .expect("a non-null alternative"),
        None => schema,
    }
}

fn first_type(schema: &Value) -> &str {
    match &schema["type"] {
        Value::String(t) => t,
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .expect("a type"),
        _ if schema.get("enum").is_some() => "string",
        _ if schema.get("properties").is_some() => "object",
        other => panic!("schema without a type: {other} in {schema}"),
    }
}

fn scalar(spec: &Value, schema: &Value) -> bool {
    let schema = non_null(spec, schema);
    schema.get("enum").is_some()
        || match first_type(schema) {
            "array" => scalar(spec, &schema["items"]),
            "object" => false,
            _ => true,
        }
}

/// A plausible value for a property, by its name first: ids of the probed tenancy's objects,
/// an escalating role, a deactivation.
fn hinted(name: &str, schema: &Value, h: &Hints) -> Option<Value> {
    let uuid = schema["format"] == "uuid" || schema["items"]["format"] == "uuid";
    Some(match name {
        "tenancy_id" => json!(h.tenancy),
        "tenancies" => json!([h.tenancy]),
        "staff_id" => json!(h.staff),
        "org_link_id" => json!(h.link),
        "contact_groups" | "client_teams" => json!([h.group]),
        "members" => json!([h.staff]),
        _ if uuid => return None,
        "email" => json!(h.email),
        "mobile" => json!("+447700900555"),
        "contact_number" => json!("+442070000555"),
        "role" => json!("system_administrator"),
        "active" => json!(false),
        "paused" => json!(true),
        "org_id" => json!(org_id(9)),
        "login_host" => json!("production"),
        "api_version" => json!("62.0"),
        "api_budget_percent" => json!(50),
        "user_id" | "integration_user_id" => json!("0055g0000000001"),
        "record_id" | "id" => json!(contact_id(9)),
        "sobject" => json!("Contact"),
        "group_name_convention" => json!("{last_name} Probe"),
        "private_key" => json!(TEST_KEY),
        _ => return None,
    })
}

fn value(spec: &Value, name: &str, schema: &Value, h: &Hints) -> Value {
    let schema = non_null(spec, schema);
    if let Some(v) = hinted(name, schema, h) {
        return v;
    }
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    match first_type(schema) {
        "string" if schema["format"] == "uuid" => json!(h.client),
        "string" => json!("Probe"),
        "integer" | "number" => json!(50),
        "boolean" => json!(true),
        "array" => json!([value(spec, name, &schema["items"], h)]),
        "object" => {
            let required: BTreeSet<&str> = schema["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut body = serde_json::Map::new();
            for (prop, prop_schema) in schema["properties"].as_object().into_iter().flatten() {
                // Required properties, and every plain optional one, so that a change
                // would change something.
                if required.contains(prop.as_str()) || scalar(spec, prop_schema) {
                    body.insert(prop.clone(), value(spec, prop, prop_schema, h));
                }
            }
            Value::Object(body)
        }
        other => panic!("no value for type {other}"),
    }
}

fn request_body(spec: &Value, op: &Operation, h: &Hints) -> Option<Value> {
    op.body.as_ref().map(|schema| value(spec, "", schema, h))
}

/// A private key that parses, so a request carrying one is refused for who sent it.
const TEST_KEY: &str = include_str!("../../wiremock-fixtures/oauth/test-only-jwt-key.pem");

fn org_id(n: usize) -> String {
    SalesforceId::parse(&format!("00D5g0000{n:06}"))
        .expect("org id")
        .as_str()
        .to_string()
}

fn contact_id(n: usize) -> String {
    SalesforceId::parse(&format!("0035g0000{n:06}"))
        .expect("contact id")
        .as_str()
        .to_string()
}

/// An org link serving `tenancies`, its id and its webhook secret.
async fn link(app: &TestApp, name: &str, n: usize, tenancies: &[&str]) -> (String, String) {
    let created = app
        .post(
            "/api/v1/org-links",
            &app.operator,
            json!({ "name": name, "org_id": org_id(n), "login_host": app.salesforce.uri(),
                    "auth_kind": "web_server", "consumer_key": "3MVG9consumer",
                    "consumer_secret": "s3cret-consumer", "tenancies": tenancies }),
        )
        .await
        .expect(201);
    (
        created["id"].as_str().expect("id").to_string(),
        created["intake_secrets"]["webhook_secret"]
            .as_str()
            .expect("webhook secret")
            .to_string(),
    )
}

/// Links `client` to Contact `n` through `link`; answers the write-back that enqueues.
async fn writeback(app: &TestApp, t: &Tenancy, client: &str, link: &str, n: usize) -> String {
    app.put(
        &format!("/api/v1/tenancies/{}/clients/{client}/crm-record", t.id),
        &t.admin_token,
        Some(json!({ "org_link_id": link, "sobject": "Contact", "record_id": contact_id(n) })),
    )
    .await
    .expect(204);
    let page = app
        .get(
            &format!("/api/v1/org-links/{link}/writebacks"),
            &app.operator,
        )
        .await
        .expect(200);
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|w| w["client_id"] == client)
        .expect("the client's write-back")["id"]
        .as_str()
        .expect("id")
        .to_string()
}

/// A signed webhook for Contact `n` through `link`; answers the inbox item it stored.
async fn inbox_item(app: &TestApp, link: &str, secret: &str, n: usize) -> String {
    let body = json!({ "records": [{ "sobject": "Contact", "Id": contact_id(n),
                                     "LastModifiedDate": "2026-03-02T08:59:00.000Z",
                                     "fields": { "Email": "not an e-mail" } }] })
    .to_string();
    let now = app.clock.now_unix();
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_"))
        .expect("base64");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("key");
    mac.update(format!("msg_{n}.{now}.{body}").as_bytes());
    let signature = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    let response = app
        .http
        .post(format!("{}/webhooks/salesforce/{link}", app.address))
        .header("content-type", "application/json")
        .header("webhook-id", format!("msg_{n}"))
        .header("webhook-timestamp", now.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 200);
    // The linked client's new e-mail is invalid: the change fails at once, for ops to replay
    // or dismiss.
    liaison::jobs::inbox::pass(&app.store, &liaison::config::InboxConfig::default())
        .await
        .expect("inbox pass");
    let page = app
        .get(&format!("/api/v1/org-links/{link}/inbox"), &app.operator)
        .await
        .expect(200);
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["record_id"] == contact_id(n).as_str() && i["state"] == "failed")
        .expect("the failed change")["id"]
        .as_str()
        .expect("id")
        .to_string()
}

/// Tenancy A with its org link and queues, and tenancy B with every role.
struct World {
    spec: Value,
    m: Model,
    a: Populated,
    a_email: String,
    a_link: String,
    a_writeback: String,
    a_item: String,
    a_users_admin: String,
    b: Populated,
    b_users_admin: String,
    b_link_key: String,
}

async fn world(app: &TestApp, m: Model) -> World {
    let spec = document(app).await;
    let a = populate(app, "Alpha Wealth", "alpha", m).await;
    let b = populate(app, "Beta Partners", "beta", m).await;
    let (_, a_users_admin) = app
        .staff(&a.t, "Uma", "Useradmin", "users_administrator")
        .await;
    let (_, b_users_admin) = app
        .staff(&b.t, "Uma", "Useradmin", "users_administrator")
        .await;
    let (a_link, a_secret) = link(app, "Alpha production", 1, &[&a.t.id]).await;
    let a_writeback = writeback(app, &a.t, &a.client, &a_link, 1).await;
    let a_item = inbox_item(app, &a_link, &a_secret, 1).await;
    let (b_link, _) = link(app, "Beta production", 2, &[&b.t.id]).await;
    let b_link_key = app
        .post(
            &format!("/api/v1/org-links/{b_link}/api-key"),
            &app.operator,
            json!({}),
        )
        .await
        .expect(201)["api_key"]
        .as_str()
        .expect("api key")
        .to_string();
    // Every token has been used once, so nothing a later use records differs.
    for token in [&a.staff_token, &a.t.admin_token, &a_users_admin] {
        app.get(&format!("/api/v1/tenancies/{}", a.t.id), token)
            .await
            .expect(200);
    }
    World {
        spec,
        m,
        a_email: "jane@alpha.example".into(),
        a,
        a_link,
        a_writeback,
        a_item,
        a_users_admin,
        b,
        b_users_admin,
        b_link_key,
    }
}

impl World {
    /// A's object for every path parameter of the document.
    fn fillers(&self) -> HashMap<&'static str, Vec<String>> {
        let a = &self.a;
        HashMap::from([
            ("tenancy_id", vec![a.t.id.clone()]),
            ("group_kind", vec![self.m.kind.to_string()]),
            ("group_id", vec![a.group.clone()]),
            ("user_id", vec![a.client.clone()]),
            ("client_id", vec![a.client.clone()]),
            ("staff_id", vec![a.staff.clone()]),
            ("team_account_id", vec![a.team_account.clone()]),
            ("token_id", vec![a.admin_token_id.clone()]),
            ("org_link_id", vec![self.a_link.clone()]),
            ("writeback_id", vec![self.a_writeback.clone()]),
            ("item_id", vec![self.a_item.clone()]),
            ("sobject", vec!["Contact".to_string()]),
            (
                "queue",
                ["writebacks", "inbox", "emails"].map(String::from).to_vec(),
            ),
            (
                "queue_item",
                vec![
                    format!("writebacks/{}", self.a_writeback),
                    format!("inbox/{}", self.a_item),
                ],
            ),
            ("record_id", vec![contact_id(1)]),
        ])
    }

    fn hints(&self, email: &str) -> Hints {
        Hints {
            tenancy: self.a.t.id.clone(),
            staff: self.a.staff.clone(),
            group: self.a.group.clone(),
            client: self.a.client.clone(),
            link: self.a_link.clone(),
            email: email.to_string(),
        }
    }

    /// What of A no answer to another tenancy may contain.
    fn needles(&self) -> Vec<String> {
        let a = &self.a;
        vec![
            a.t.id.clone(),
            a.staff.clone(),
            a.spare.clone(),
            a.team_account.clone(),
            a.group.clone(),
            a.client.clone(),
            a.admin_token_id.clone(),
            self.a_link.clone(),
            self.a_writeback.clone(),
            self.a_item.clone(),
            self.a_email.clone(),
        ]
    }
}

/// Reads that ask Salesforce, which the probe's links (never connected) cannot answer: who may
/// call them is probed, what they read is not. `mapping.rs` reads a connected link's, shared
/// links' included.
const ASKS_SALESFORCE: &[&str] = &["describe_sobject"];

/// Every GET of the document, filled with A's objects, as the operator: all of A there is.
async fn snapshot(
    app: &TestApp,
    ops: &[Operation],
    fillers: &HashMap<&str, Vec<String>>,
) -> Vec<(String, Value)> {
    let mut seen = Vec::new();
    let reads = ops
        .iter()
        .filter(|op| op.method == Method::GET && !ASKS_SALESFORCE.contains(&op.id.as_str()));
    for op in reads {
        for path in fill(&op.path, fillers) {
            let body = app.get(&path, &app.operator).await.expect(200);
            seen.push((path, body));
        }
    }
    seen
}

/// Sends one request and describes what is wrong with its answer, if anything.
#[allow(clippy::too_many_arguments)]
async fn check(
    app: &TestApp,
    caller: &str,
    token: &str,
    method: Method,
    path: String,
    body: Option<Value>,
    allowed: &[u16],
    needles: &[String],
) -> Option<String> {
    let reply = app
        .request(method.clone(), &path, Some(token), body.clone())
        .await;
    let status = reply.status.as_u16();
    let text = reply.body.to_string();
    let what = format!("{caller}: {method} {path} {}", body.unwrap_or_default());
    if !allowed.contains(&status) {
        return Some(format!("{what} answered {status}, not {allowed:?}: {text}"));
    }
    if status == 404 && reply.body["code"] != "not-found" {
        return Some(format!("{what}: 404 is not a not-found problem: {text}"));
    }
    needles
        .iter()
        .find(|n| text.contains(n.as_str()))
        .map(|n| format!("{what} answered {status} naming {n}: {text}"))
}

async fn probe_other_tenancies(app: TestApp, m: Model) {
    let w = world(&app, m).await;
    let ops = operations(&w.spec);
    assert!(ops.len() >= 50, "{} operations", ops.len());
    let fillers = w.fillers();
    let needles = w.needles();
    let before = snapshot(&app, &ops, &fillers).await;

    let b_callers = [
        ("B's system administrator", w.b.t.admin_token.as_str()),
        ("B's users administrator", w.b_users_admin.as_str()),
        ("B's plain staff", w.b.staff_token.as_str()),
    ];
    let a_callers = [
        ("A's plain staff", Needs::Staff, w.a.staff_token.as_str()),
        (
            "A's users administrator",
            Needs::UsersAdmin,
            w.a_users_admin.as_str(),
        ),
        (
            "A's system administrator",
            Needs::SystemAdmin,
            w.a.t.admin_token.as_str(),
        ),
    ];
    let mut checks = Vec::new();
    for op in &ops {
        let who = who(op);
        let foreign: &[u16] = match who {
            _ if tenancy_scoped(op) => &[404],
            Who::Outside { foreign, .. } => foreign,
            _ => panic!("{} is not under a tenancy: say who may call it", op.id),
        };
        for path in fill(&op.path, &fillers) {
            for (caller, token) in b_callers {
                let body = request_body(&w.spec, op, &w.hints("probe@beta.example"));
                checks.push(check(
                    &app,
                    caller,
                    token,
                    op.method.clone(),
                    path.clone(),
                    body,
                    foreign,
                    &needles,
                ));
            }
            if op.path.starts_with("/api/v1/salesforce/") {
                // B's link key, acting for B's administrator, asking about tenancy A.
                let body = request_body(&w.spec, op, &w.hints("admin@beta.example"));
                checks.push(check(
                    &app,
                    "B's org link key",
                    &w.b_link_key,
                    op.method.clone(),
                    path.clone(),
                    body,
                    &[403, 404, 422],
                    &needles,
                ));
            }
            let needs = match who {
                Who::Staff => Needs::Staff,
                Who::Admin => Needs::UsersAdmin,
                Who::SystemAdmin => Needs::SystemAdmin,
                Who::Outside { needs, .. } => needs,
            };
            let refusal: &[u16] = if needs == Needs::LinkKey {
                &[401]
            } else {
                &[403]
            };
            for (caller, rank, token) in &a_callers {
                if *rank < needs {
                    let body = request_body(&w.spec, op, &w.hints("probe@alpha.example"));
                    checks.push(check(
                        &app,
                        caller,
                        token,
                        op.method.clone(),
                        path.clone(),
                        body,
                        refusal,
                        &[],
                    ));
                }
            }
        }
    }
    let count = checks.len();
    let failures: Vec<String> = join_all(checks).await.into_iter().flatten().collect();
    assert!(
        failures.is_empty(),
        "{} of {count} probes failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(snapshot(&app, &ops, &fillers).await, before);
}

async fn every_operation_refuses_another_tenancy_and_lesser_roles_of_its_own_on_contact_groups(
    app: TestApp,
) {
    probe_other_tenancies(app, CONTACT_GROUPS).await;
}

async fn every_operation_refuses_another_tenancy_and_lesser_roles_of_its_own_on_client_teams(
    app: TestApp,
) {
    probe_other_tenancies(app, CLIENT_TEAMS).await;
}

/// A link serving A and B: B's administrator may read it, with nothing of A's in the answer,
/// and every change to it or to A's queue items on it is refused and changes nothing.
async fn the_admin_of_a_tenancy_sharing_a_shared_link_reads_it_filtered_and_changes_nothing(
    app: TestApp,
) {
    let w = world(&app, CLIENT_TEAMS).await;
    let ops = operations(&w.spec);
    let (shared, secret) = link(&app, "Shared production", 3, &[&w.a.t.id, &w.b.t.id]).await;
    let shared_writeback = writeback(&app, &w.a.t, &w.a.client, &shared, 3).await;
    let shared_item = inbox_item(&app, &shared, &secret, 3).await;
    let mut fillers = w.fillers();
    fillers.insert("org_link_id", vec![shared.clone()]);
    fillers.insert("writeback_id", vec![shared_writeback.clone()]);
    fillers.insert("item_id", vec![shared_item.clone()]);
    fillers.insert("record_id", vec![contact_id(3)]);
    fillers.insert(
        "queue_item",
        vec![
            format!("writebacks/{shared_writeback}"),
            format!("inbox/{shared_item}"),
        ],
    );
    let mut needles = w.needles();
    needles.extend([shared_writeback, shared_item]);
    let before = snapshot(&app, &ops, &fillers).await;

    // Reads first and the deletion last, so that a write let through does not hide the
    // others' answers. Creating a link is not about this link and is left out; so are the
    // reads that ask Salesforce (`ASKS_SALESFORCE`).
    let mut link_ops: Vec<&Operation> = ops
        .iter()
        .filter(|op| {
            op.path.starts_with("/api/v1/org-links")
                && op.id != "create_org_link"
                && !ASKS_SALESFORCE.contains(&op.id.as_str())
        })
        .collect();
    link_ops.sort_by_key(|op| match op.method {
        Method::GET => 0,
        Method::DELETE => 2,
        _ => 1,
    });
    let mut checks = Vec::new();
    for op in link_ops {
        let reads = op.method == Method::GET;
        let allowed: &[u16] = if reads { &[200] } else { &[403, 404] };
        for path in fill(&op.path, &fillers) {
            let mut hints = w.hints("probe@beta.example");
            hints.link = shared.clone();
            hints.tenancy = w.b.t.id.clone();
            checks.push(check(
                &app,
                "B's system administrator on the shared link",
                &w.b.t.admin_token,
                op.method.clone(),
                path,
                request_body(&w.spec, op, &hints),
                allowed,
                &needles,
            ));
        }
    }
    let count = checks.len();
    let mut failures = Vec::new();
    // One at a time: a write let through would otherwise race the others.
    for c in checks {
        failures.extend(c.await);
    }
    assert!(
        failures.is_empty(),
        "{} of {count} probes failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(snapshot(&app, &ops, &fillers).await, before);
}

/// A tenancy where a plain staff member shares nothing with one client (and, on contact
/// groups, one group): every read under the tenancy, as them and as the administrator.
async fn plain_staff_reads(app: TestApp, m: Model) {
    let app = &app;
    let spec = document(app).await;
    let ops = operations(&spec);
    let t = app.tenancy("Gamma Trust", m.name).await;
    let tenancy = t.id.clone();
    let (plain, plain_token) = app.staff(&t, "Pia", "Plain", "staff").await;
    let (other_staff, _) = app.staff(&t, "Otto", "Other", "staff").await;
    let team_account = app
        .post(
            &format!("/api/v1/tenancies/{tenancy}/team-accounts"),
            &t.admin_token,
            json!({ "name": "Support", "email": "support@gamma.example", "mobile": "+447700900001" }),
        )
        .await
        .expect(201)["id"]
        .as_str()
        .expect("id")
        .to_string();
    let contact_groups = m.name == CONTACT_GROUPS.name;
    let hidden_group = app
        .group(
            &t,
            m.kind,
            if contact_groups {
                "Quigley Relationship"
            } else {
                "Private Clients"
            },
            &[&t.admin_id, &other_staff, &team_account],
        )
        .await;
    let invite = |first: &str, last: &str, group: &str| {
        let path = format!("/api/v1/tenancies/{tenancy}/clients");
        let token = t.admin_token.clone();
        let body = json!({ "first_name": first, "last_name": last,
                           "email": format!("{}.{}@gamma.example", first.to_lowercase(), last.to_lowercase()),
                           (m.field): [group] });
        async move { app.post(&path, &token, body).await }
    };
    let hidden = invite("Jane", "Quigley", &hidden_group).await.expect(201)["id"]
        .as_str()
        .expect("id")
        .to_string();
    // Her history: an invitation sent, so events and cycles have something to show.
    app.post(
        &format!("/api/v1/tenancies/{tenancy}/clients/{hidden}/send"),
        &t.admin_token,
        json!({}),
    )
    .await
    .expect(200);
    // On contact groups the plain staff member has a relationship of their own; on client
    // teams they are in no team, and another team holds another client.
    let own_members: Vec<&str> = if contact_groups {
        vec![&plain]
    } else {
        vec![&t.admin_id]
    };
    let own_group = app
        .group(&t, m.kind, "Olsen Relationship", &own_members)
        .await;
    let own = invite("Olly", "Olsen", &own_group).await.expect(201)["id"]
        .as_str()
        .expect("id")
        .to_string();

    let fillers: HashMap<&str, Vec<String>> = HashMap::from([
        ("tenancy_id", vec![tenancy.clone()]),
        ("group_kind", vec![m.kind.to_string()]),
        ("group_id", vec![hidden_group.clone(), own_group.clone()]),
        ("client_id", vec![hidden.clone(), own.clone()]),
        (
            "user_id",
            vec![
                hidden.clone(),
                own.clone(),
                plain.clone(),
                other_staff.clone(),
                t.admin_id.clone(),
                team_account.clone(),
            ],
        ),
        ("staff_id", vec![plain.clone(), other_staff.clone()]),
        ("team_account_id", vec![team_account.clone()]),
    ]);
    let mut needles = vec![
        hidden.clone(),
        "jane.quigley@gamma.example".to_string(),
        "quigley".to_string(),
    ];
    if contact_groups {
        needles.push(hidden_group.clone());
    }

    let mut reads = Vec::new();
    for op in ops
        .iter()
        .filter(|op| op.method == Method::GET && tenancy_scoped(op))
    {
        for path in fill(&op.path, &fillers) {
            if op.query.iter().any(|q| q == "q") {
                reads.push(format!("{path}?q=quigley"));
            }
            reads.push(path);
        }
    }
    assert!(reads.len() >= 30, "{} reads", reads.len());

    let mut admin_saw = String::new();
    let mut plain_saw = String::new();
    let mut failures = Vec::new();
    for path in &reads {
        let admin = app.get(path, &t.admin_token).await;
        assert_eq!(admin.status.as_u16(), 200, "{path}: {:#}", admin.body);
        admin_saw.push_str(&admin.body.to_string().to_lowercase());
        let reply = app.get(path, &plain_token).await;
        let text = reply.body.to_string().to_lowercase();
        if ![200, 403, 404].contains(&reply.status.as_u16()) {
            failures.push(format!("{path} answered {}: {text}", reply.status));
        }
        if let Some(n) = needles.iter().find(|n| text.contains(n.as_str())) {
            failures.push(format!("{path} shows plain staff {n}: {text}"));
        }
        if reply.status.is_success() {
            plain_saw.push_str(&text);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The same reads show an administrator everything, so the checks above were not vacuous.
    for n in &needles {
        assert!(admin_saw.contains(n.as_str()), "no read shows {n}");
    }
    // And plain staff get real answers: their own colleagues, and on contact groups their
    // own client.
    assert!(plain_saw.contains(&other_staff), "{plain_saw}");
    if contact_groups {
        assert!(
            plain_saw.contains("olly.olsen@gamma.example"),
            "{plain_saw}"
        );
    }
}

async fn every_read_of_plain_staff_keeps_out_a_client_and_a_group_they_do_not_share_on_contact_groups(
    app: TestApp,
) {
    plain_staff_reads(app, CONTACT_GROUPS).await;
}

async fn every_read_of_plain_staff_keeps_out_the_clients_of_teams_they_are_not_in_on_client_teams(
    app: TestApp,
) {
    plain_staff_reads(app, CLIENT_TEAMS).await;
}

async fn plain_staff_add_to_their_groups_only_clients_they_see_and_admins_any(app: TestApp) {
    let app = &app;
    let t = app.tenancy("Delta Advisers", "contact_groups").await;
    let tenancy = t.id.clone();
    let (plain, token) = app.staff(&t, "Pia", "Plain", "staff").await;
    let mine = app
        .group(&t, "contact-groups", "Plain Relationship", &[&plain])
        .await;
    let theirs = app
        .group(&t, "contact-groups", "Quigley Relationship", &[&t.admin_id])
        .await;
    let shared = app
        .group(&t, "contact-groups", "Roe Relationship", &[&plain])
        .await;
    let invite = |first: &str, last: &str, group: &str| {
        let path = format!("/api/v1/tenancies/{tenancy}/clients");
        let token = t.admin_token.clone();
        let body = json!({ "first_name": first, "last_name": last,
                           "email": format!("{}@delta.example", first.to_lowercase()),
                           "contact_groups": [group] });
        async move { app.post(&path, &token, body).await }
    };
    let unseen = invite("Jane", "Quigley", &theirs).await.expect(201)["id"]
        .as_str()
        .expect("id")
        .to_string();
    let seen = invite("Rob", "Roe", &shared).await.expect(201)["id"]
        .as_str()
        .expect("id")
        .to_string();
    let members = |group: String| {
        let path = format!("/api/v1/tenancies/{tenancy}/contact-groups/{group}/members");
        let token = t.admin_token.clone();
        async move {
            app.get(&path, &token).await.expect(200)["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|m| m["user_id"].as_str().expect("id").to_string())
                .collect::<Vec<_>>()
        }
    };
    let put = |group: &str, user: &str, body: Option<Value>| {
        let path = format!("/api/v1/tenancies/{tenancy}/contact-groups/{group}/members/{user}");
        let token = token.clone();
        async move { app.put(&path, &token, body).await }
    };
    let nobody = Uuid::now_v7().to_string();

    // A client they do not see is, to them, a client that does not exist.
    for body in [None, Some(json!({ "confidentiality_override": true }))] {
        let refused = put(&mine, &unseen, body.clone()).await.problem(404);
        let absent = put(&mine, &nobody, body.clone()).await.problem(404);
        assert_eq!(refused, absent);
        assert_eq!(refused["code"], "not-found");
        // With a group that is not theirs, the group is what is not found, either way.
        let refused = put(&theirs, &unseen, body.clone()).await.problem(404);
        let absent = put(&theirs, &nobody, body).await.problem(404);
        assert_eq!(refused, absent);
    }
    assert_eq!(members(mine.clone()).await, vec![plain.clone()]);
    let client_path = format!("/api/v1/tenancies/{tenancy}/clients/{unseen}");
    app.get(&client_path, &token).await.problem(404);
    let listed = app
        .get(&format!("/api/v1/tenancies/{tenancy}/clients"), &token)
        .await
        .expect(200);
    assert!(!listed.to_string().contains(&unseen), "{listed:#}");
    let book = app
        .get(
            &format!("/api/v1/tenancies/{tenancy}/users/{plain}/contacts"),
            &token,
        )
        .await
        .expect(200);
    assert!(!book.to_string().contains(&unseen), "{book:#}");
    // Her address book is refused as a book of no one is: the refusal tells nothing.
    let contacts = |user: &str| {
        let path = format!("/api/v1/tenancies/{tenancy}/users/{user}/contacts");
        let token = token.clone();
        async move { app.get(&path, &token).await }
    };
    assert_eq!(
        contacts(&unseen).await.problem(403),
        contacts(&nobody).await.problem(403)
    );

    // A client they already see, they may add.
    let added = put(&mine, &seen, None).await.expect(200);
    assert_eq!(added["user_id"], seen.as_str());
    assert!(members(mine.clone()).await.contains(&seen));

    // An administrator adds any client of the tenancy, and then the plain staff see her.
    let added = app
        .put(
            &format!("/api/v1/tenancies/{tenancy}/contact-groups/{mine}/members/{unseen}"),
            &t.admin_token,
            Some(json!({ "confidentiality_override": true })),
        )
        .await
        .expect(200);
    assert_eq!(added["user_id"], unseen.as_str());
    app.get(&client_path, &token).await.expect(200);
}
