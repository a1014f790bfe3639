//! `TestApp`: the whole application on a random port with a database of its own, on SQLite
//! or PostgreSQL, plus a client that speaks to it over HTTP, and the requests and checks the
//! tests of the directory's rules share.

use std::collections::HashSet;
use std::sync::Arc;

use liaison::clock::ManualClock;
use liaison::config::DatabaseConfig;
use liaison::store::{Backend, Store};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use uuid::Uuid;

pub mod browser;
pub mod canvas;
pub mod console;
pub mod fixtures;
pub mod invitations;
pub mod salesforce;
pub mod smtp;

/// Runs a test body once per backend: `mod name { fn sqlite; fn postgres }`. The PostgreSQL
/// variant runs when `LIAISON_TEST_POSTGRES_URL` was set at build time (the build script
/// watches it) and is reported as ignored otherwise.
#[macro_export]
macro_rules! on_both_backends {
    // `with OPTIONS; names…`: each test's app is spawned with those `TestOptions`.
    (with $options:expr; $($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    let app = $crate::helpers::TestApp::spawn_with($crate::helpers::TestBackend::Sqlite, $options).await;
                    super::$name(app).await;
                }

                #[tokio::test]
                #[cfg_attr(
                    not(liaison_test_postgres),
                    ignore = "LIAISON_TEST_POSTGRES_URL is not set (scripts/test sets it)"
                )]
                async fn postgres() {
                    let app = $crate::helpers::TestApp::spawn_with($crate::helpers::TestBackend::Postgres, $options).await;
                    super::$name(app).await;
                }
            }
        )+
    };
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    let app = $crate::helpers::TestApp::spawn($crate::helpers::TestBackend::Sqlite).await;
                    super::$name(app).await;
                }

                #[tokio::test]
                #[cfg_attr(
                    not(liaison_test_postgres),
                    ignore = "LIAISON_TEST_POSTGRES_URL is not set (scripts/test sets it)"
                )]
                async fn postgres() {
                    let app = $crate::helpers::TestApp::spawn($crate::helpers::TestBackend::Postgres).await;
                    super::$name(app).await;
                }
            }
        )+
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    Sqlite,
    Postgres,
}

/// A database that exists for one test and is removed after it.
enum TestDb {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { admin_url, name } = self {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Dropping needs async I/O; do it on a runtime of its own so any test runtime works.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(runtime) = runtime {
                    runtime.block_on(async {
                        sqlx::any::install_default_drivers();
                        if let Ok(mut conn) =
                            <sqlx::AnyConnection as sqlx::Connection>::connect(&admin_url).await
                        {
                            let _ = sqlx::Executor::execute(
                                &mut conn,
                                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str(),
                            )
                            .await;
                        }
                    });
                }
            })
            .join();
        }
    }
}

/// How a `TestApp` differs from the default one (`TestOptions::default()` is the default app:
/// the test-double switch on, so links may point at the wiremock server).
#[derive(Clone, Default)]
pub struct TestOptions {
    /// Leave `crm.allow_http_login_hosts` off: only Salesforce's hosts and `allowed_hosts`
    /// may be called, over https, as in production.
    pub strict_hosts: bool,
    /// `crm.allowed_hosts`.
    pub allowed_hosts: Vec<String>,
    /// Answers the app's host-name look-ups instead of the system resolver.
    pub lookup: Option<Arc<dyn liaison::crm::hosts::Lookup>>,
    /// The API's settings (trusted proxies, token lifetimes).
    pub api: liaison::config::ApiConfig,
    /// The admin console's settings, and whether its sign-in e-mails go to a loopback SMTP
    /// server (`TestApp::smtp`).
    pub console: liaison::config::ConsoleConfig,
    pub console_mail: bool,
}

pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    pub store: Store,
    pub clock: ManualClock,
    /// An operator token, as `liaison token create --operator` would print.
    pub operator: String,
    /// Stands in for Salesforce (login host and instance alike).
    pub salesforce: wiremock::MockServer,
    /// The app's database, for a `liaison` process started beside it.
    pub database_url: String,
    /// Where the console's sign-in e-mails arrive, when the options asked for it.
    pub smtp: Option<smtp::SmtpServer>,
    shutdown: Option<oneshot::Sender<()>>,
    _db: TestDb,
}

impl TestApp {
    /// Ends every server session of the app's PostgreSQL database, as a restart or a proxy
    /// cutting idle connections would; false on SQLite, which has no server.
    pub async fn cut_database_sessions(&self) -> bool {
        let TestDb::Postgres { admin_url, name } = &self._db else {
            return false;
        };
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(admin_url)
            .await
            .expect("connect as admin");
        let sql = format!(
            "SELECT COUNT(pg_terminate_backend(pid)) AS ended FROM pg_stat_activity \
             WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        );
        sqlx::Executor::execute(&mut conn, sql.as_str())
            .await
            .expect("terminate sessions");
        true
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A response as the test reads it.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Value,
}

impl Reply {
    /// Asserts the status and returns the body.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {:#}",
            self.body
        );
        self.body
    }

    /// Asserts an RFC 9457 problem with this status, and returns its body.
    #[track_caller]
    pub fn problem(self, status: u16) -> Value {
        assert_eq!(
            self.content_type, "application/problem+json",
            "body: {:#}",
            self.body
        );
        assert_eq!(self.body["status"], status, "body: {:#}", self.body);
        self.expect(status)
    }

    /// The fields a problem names.
    pub fn fields(body: &Value) -> Vec<String> {
        body["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e["field"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl TestApp {
    pub async fn spawn(backend: TestBackend) -> TestApp {
        Self::spawn_with(backend, TestOptions::default()).await
    }

    pub async fn spawn_with(backend: TestBackend, options: TestOptions) -> TestApp {
        let (url, db) = match backend {
            TestBackend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/liaison.db", dir.path().display());
                (url, TestDb::Sqlite(dir))
            }
            TestBackend::Postgres => {
                let admin_url =
                    std::env::var("LIAISON_TEST_POSTGRES_URL").expect("LIAISON_TEST_POSTGRES_URL");
                let name = format!("liaison_test_{}", Uuid::new_v4().simple());
                sqlx::any::install_default_drivers();
                let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin_url)
                    .await
                    .expect("connect to LIAISON_TEST_POSTGRES_URL");
                sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str())
                    .await
                    .expect("create test database");
                let url = database_url_with_name(&admin_url, &name);
                (url, TestDb::Postgres { admin_url, name })
            }
        };
        let clock = ManualClock::new(time::macros::datetime!(2026-03-02 09:00 UTC));
        let config = DatabaseConfig {
            max_connections: 5,
            acquire_timeout_seconds: 10,
        };
        let store = Store::open(&url, &config, Arc::new(clock.clone()))
            .await
            .expect("open store");
        assert_eq!(
            store.backend(),
            if backend == TestBackend::Sqlite {
                Backend::Sqlite
            } else {
                Backend::Postgres
            }
        );
        let operator = store
            .create_operator_token("tests", None)
            .await
            .expect("operator token")
            .token;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = format!("http://{}", listener.local_addr().expect("address"));
        let salesforce = wiremock::MockServer::start().await;
        let (tx, rx) = oneshot::channel::<()>();
        let mut crm = crm_config(&address);
        crm.allow_http_login_hosts = !options.strict_hosts;
        crm.allowed_hosts = options.allowed_hosts;
        let lookup = options
            .lookup
            .unwrap_or_else(|| Arc::new(liaison::crm::hosts::SystemLookup));
        let mut state = liaison::app_state_with_lookup(store.clone(), crm, &options.api, lookup)
            .expect("app state");
        let smtp = options.console_mail.then(smtp::SmtpServer::start);
        state.console = console::console(&address, options.console, smtp.as_ref());
        tokio::spawn(liaison::serve(listener, state, 64 * 1024, async {
            let _ = rx.await;
        }));
        TestApp {
            address,
            http: reqwest::Client::new(),
            store,
            clock,
            operator,
            salesforce,
            database_url: url,
            smtp,
            shutdown: Some(tx),
            _db: db,
        }
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.http.request(method, format!("{}{path}", self.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request sent");
        read(response).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.request(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.request(Method::POST, path, Some(token), Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.request(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn put(&self, path: &str, token: &str, body: Option<Value>) -> Reply {
        self.request(Method::PUT, path, Some(token), body).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.request(Method::DELETE, path, Some(token), None).await
    }

    /// Sends raw bytes with a content type, for malformed-input tests.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Reply {
        let response = self
            .http
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request sent");
        read(response).await
    }

    /// A tenancy with a system administrator and a token for them.
    pub async fn tenancy(&self, name: &str, model: &str) -> Tenancy {
        let tenancy = self
            .post(
                "/api/v1/tenancies",
                &self.operator,
                json!({ "name": name, "group_model": model }),
            )
            .await
            .expect(201);
        let id = tenancy["id"].as_str().expect("id").to_string();
        let slug = name.to_lowercase().replace(' ', "-");
        let admin = self
            .post(
                &format!("/api/v1/tenancies/{id}/staff"),
                &self.operator,
                json!({ "first_name": "Ada", "last_name": "Admin", "email": format!("admin@{slug}.example"),
                        "role": "system_administrator" }),
            )
            .await
            .expect(201);
        let admin_id = admin["id"].as_str().expect("id").to_string();
        let admin_token = self.token_for(&id, &admin_id).await;
        Tenancy {
            id,
            admin_id,
            admin_token,
        }
    }

    /// A token acting as a staff user, issued by the operator.
    pub async fn token_for(&self, tenancy: &str, staff: &str) -> String {
        let created = self
            .post(
                &format!("/api/v1/tenancies/{tenancy}/tokens"),
                &self.operator,
                json!({ "staff_id": staff, "name": "test" }),
            )
            .await
            .expect(201);
        created["token"].as_str().expect("token").to_string()
    }

    /// A staff user with a role, and a token acting as them.
    pub async fn staff(
        &self,
        t: &Tenancy,
        first: &str,
        last: &str,
        role: &str,
    ) -> (String, String) {
        let staff = self
            .post(
                &format!("/api/v1/tenancies/{}/staff", t.id),
                &t.admin_token,
                json!({ "first_name": first, "last_name": last,
                        "email": format!("{}.{}@firm.example", first.to_lowercase(), last.to_lowercase()),
                        "role": role }),
            )
            .await
            .expect(201);
        let id = staff["id"].as_str().expect("id").to_string();
        let token = self.token_for(&t.id, &id).await;
        (id, token)
    }

    /// A contact group or client team with these members, created by the admin.
    pub async fn group(&self, t: &Tenancy, kind: &str, name: &str, members: &[&str]) -> String {
        let group = self
            .post(
                &format!("/api/v1/tenancies/{}/{kind}", t.id),
                &t.admin_token,
                json!({ "name": name, "members": members }),
            )
            .await
            .expect(201);
        group["id"].as_str().expect("id").to_string()
    }
}

/// The shape of a tenancy's model in the API.
#[derive(Clone, Copy)]
pub struct Model {
    pub name: &'static str,
    pub kind: &'static str,
    pub other_kind: &'static str,
    /// The invite field that names existing groups.
    pub field: &'static str,
}

pub const CONTACT_GROUPS: Model = Model {
    name: "contact_groups",
    kind: "contact-groups",
    other_kind: "client-teams",
    field: "contact_groups",
};

pub const CLIENT_TEAMS: Model = Model {
    name: "client_teams",
    kind: "client-teams",
    other_kind: "contact-groups",
    field: "client_teams",
};

/// A populated tenancy: staff, a team account with a delegate, a group with members, a client.
pub struct Populated {
    pub t: Tenancy,
    /// A plain staff user: in the group, delegate of the team account.
    pub staff: String,
    pub staff_token: String,
    /// A second staff user, in nothing yet.
    pub spare: String,
    pub team_account: String,
    pub group: String,
    pub client: String,
    /// The id of the admin's token (as listed under /tokens).
    pub admin_token_id: String,
}

pub async fn populate(app: &TestApp, name: &str, slug: &str, m: Model) -> Populated {
    let t = app.tenancy(name, m.name).await;
    let (staff, staff_token) = app.staff(&t, "Sam", &format!("Staff{slug}"), "staff").await;
    let (spare, _) = app.staff(&t, "Pat", &format!("Spare{slug}"), "staff").await;
    let team_account = app
        .post(
            &format!("/api/v1/tenancies/{}/team-accounts", t.id),
            &t.admin_token,
            json!({ "name": "Support", "email": format!("support@{slug}.example"),
                    "mobile": "+447700900001", "contact_number": "+442070000001" }),
        )
        .await
        .expect(201)["id"]
        .as_str()
        .expect("id")
        .to_string();
    app.put(
        &format!(
            "/api/v1/tenancies/{}/team-accounts/{team_account}/delegates/{staff}",
            t.id
        ),
        &t.admin_token,
        None,
    )
    .await
    .expect(200);
    let group = app
        .group(&t, m.kind, "Smith Relationship", &[&staff, &team_account])
        .await;
    let client = app
        .post(
            &format!("/api/v1/tenancies/{}/clients", t.id),
            &t.admin_token,
            json!({ "first_name": "Jane", "last_name": "Smith", "email": format!("jane@{slug}.example"),
                    (m.field): [group] }),
        )
        .await
        .expect(201)["id"]
        .as_str()
        .expect("id")
        .to_string();
    let tokens = app
        .get(
            &format!("/api/v1/tenancies/{}/tokens", t.id),
            &t.admin_token,
        )
        .await
        .expect(200);
    let admin_token_id = tokens["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|tok| tok["staff_id"] == t.admin_id.as_str())
        .expect("admin's token is listed")["id"]
        .as_str()
        .expect("id")
        .to_string();
    Populated {
        t,
        staff,
        staff_token,
        spare,
        team_account,
        group,
        client,
        admin_token_id,
    }
}

/// A tenancy made for a test, with its first system administrator.
pub struct Tenancy {
    pub id: String,
    pub admin_id: String,
    pub admin_token: String,
}

/// The key tests seal Salesforce secrets with.
pub const TEST_ENCRYPTION_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// CRM settings for tests: a fixed key, callbacks to this app, and retries without waiting.
pub fn crm_config(public_url: &str) -> liaison::config::CrmConfig {
    liaison::config::CrmConfig {
        encryption_key: Some(liaison::config::Secret::new(TEST_ENCRYPTION_KEY)),
        public_url: public_url.to_string(),
        retries: 2,
        retry_min_delay_ms: 1,
        retry_max_delay_ms: 20,
        allow_http_login_hosts: true,
        ..Default::default()
    }
}

fn database_url_with_name(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

async fn read(response: reqwest::Response) -> Reply {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = response.bytes().await.expect("body");
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Reply {
        status,
        content_type,
        body,
    }
}

// ---- the directory through HTTP, as the tests of its rules ask it ----

/// A path under the tenancy's `/api/v1/tenancies/{id}`.
pub fn at(t: &Tenancy, rest: &str) -> String {
    format!("/api/v1/tenancies/{}{rest}", t.id)
}

/// The `id` of an answer.
pub fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

/// The `key` of every item of a page.
pub fn keys(page: &Value, key: &str) -> HashSet<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i[key].as_str().expect("key").to_string())
        .collect()
}

pub fn set(ids: &[&String]) -> HashSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

pub async fn count(app: &TestApp, path: &str, token: &str) -> usize {
    app.get(path, token).await.expect(200)["items"]
        .as_array()
        .expect("items")
        .len()
}

pub async fn contacts(app: &TestApp, t: &Tenancy, user: &str) -> HashSet<String> {
    let page = app
        .get(&at(t, &format!("/users/{user}/contacts")), &t.admin_token)
        .await
        .expect(200);
    keys(&page, "id")
}

pub async fn member_ids(app: &TestApp, t: &Tenancy, kind: &str, group: &str) -> HashSet<String> {
    let page = app
        .get(&at(t, &format!("/{kind}/{group}/members")), &t.admin_token)
        .await
        .expect(200);
    keys(&page, "user_id")
}

/// A client invited by `token` into `groups` of the tenancy's model (`field`).
pub async fn invite(
    app: &TestApp,
    t: &Tenancy,
    token: &str,
    first: &str,
    field: &str,
    groups: &[&str],
    extra: Value,
) -> Reply {
    let mut body = json!({ "first_name": first, "last_name": "Client",
                           "email": format!("{}@clients.example", first.to_lowercase()),
                           (field): groups });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    app.post(&at(t, "/clients"), token, body).await
}

pub async fn invited(
    app: &TestApp,
    t: &Tenancy,
    first: &str,
    field: &str,
    groups: &[&str],
    extra: Value,
) -> String {
    id_of(
        &invite(app, t, &t.admin_token, first, field, groups, extra)
            .await
            .expect(201),
    )
}

pub async fn team_account(
    app: &TestApp,
    t: &Tenancy,
    name: &str,
    mobile: &str,
    contact: &str,
) -> String {
    let body = app
        .post(
            &at(t, "/team-accounts"),
            &t.admin_token,
            json!({ "name": name, "email": format!("{}@firm.example", name.to_lowercase()),
                    "mobile": mobile, "contact_number": contact }),
        )
        .await
        .expect(201);
    id_of(&body)
}

#[track_caller]
pub fn conflict(reply: Reply, code: &str, fields: &[&str]) -> Value {
    let body = reply.problem(409);
    assert_eq!(body["code"], code, "{body:#}");
    assert_eq!(Reply::fields(&body), fields, "{body:#}");
    body
}

#[track_caller]
pub fn invalid(reply: Reply, fields: &[&str]) -> Value {
    let body = reply.problem(422);
    assert_eq!(body["code"], "invalid-fields", "{body:#}");
    assert_eq!(Reply::fields(&body), fields, "{body:#}");
    body
}

#[track_caller]
pub fn forbidden(reply: Reply) {
    let body = reply.problem(403);
    assert_eq!(body["code"], "forbidden", "{body:#}");
}
