//! The `liaison` binary as an operator runs it.

use std::process::Command;
use std::sync::Arc;

use liaison::clock::SystemClock;
use liaison::config::DatabaseConfig;
use liaison::store::{AuthKind, NewOrgLink, StaffMatch, Store};
use uuid::Uuid;

fn liaison(dir: &std::path::Path, env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_liaison"));
    command
        .current_dir(dir)
        .args(args)
        .env_remove("LIAISON__CRM__ENCRYPTION_KEY");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("liaison runs")
}

#[tokio::test]
async fn start_up_refuses_without_an_encryption_key_once_org_links_exist() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/liaison.db", dir.path().display());
    let env = [
        ("LIAISON_DATABASE_URL", url.as_str()),
        ("LIAISON_LISTEN", "127.0.0.1:0"),
    ];

    let migrated = liaison(dir.path(), &env, &["migrate"]);
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );

    let store = Store::open(
        &url,
        &DatabaseConfig {
            max_connections: 1,
            acquire_timeout_seconds: 5,
        },
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    let tenancy = store
        .create_tenancy(liaison::store::NewTenancy {
            name: liaison::domain::values::DisplayName::parse("Acme").unwrap(),
            group_model: liaison::domain::tenancy::GroupModel::ClientTeams,
            mobile_policy: liaison::domain::tenancy::MobilePolicy::Optional,
            group_name_convention: "{last_name} Relationship".into(),
        })
        .await
        .unwrap();
    store
        .create_org_link(
            Uuid::now_v7(),
            NewOrgLink {
                name: "Acme".into(),
                org_id: "00D5g000004ZKTDEA4".into(),
                login_host: "https://login.salesforce.com".into(),
                auth_kind: AuthKind::WebServer,
                consumer_key: "key".into(),
                integration_username: None,
                api_version: "62.0".into(),
                field_mapping: Default::default(),
                staff_match: StaffMatch::Email,
                api_budget_percent: 20,
                tenancies: vec![tenancy.id],
                integration_user_id: None,
                auto_invite: None,
            },
            Some("v1:sealed".into()),
            None,
        )
        .await
        .unwrap();
    store.close().await;

    let refused = liaison(dir.path(), &env, &["serve"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("crm.encryption_key"), "{stderr}");
}

#[test]
fn a_bad_configuration_value_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = liaison(
        dir.path(),
        &[("LIAISON__DATABASE__MAX_CONNECTIONS", "many")],
        &["serve"],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(stderr.contains("database.max_connections"), "{stderr}");

    let out = liaison(
        dir.path(),
        &[("LIAISON__CRM__ENCRYPTION_KEY", "short")],
        &["serve"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("crm.encryption_key"));
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("short"),
        "the secret is not echoed"
    );
}

#[test]
fn token_create_prints_only_the_token_on_standard_output_even_with_debug_logs() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/liaison.db", dir.path().display());
    let env = [
        ("LIAISON_DATABASE_URL", url.as_str()),
        ("RUST_LOG", "debug"),
    ];

    let migrated = liaison(dir.path(), &env, &["migrate"]);
    assert!(migrated.status.success());
    assert_eq!(
        String::from_utf8_lossy(&migrated.stdout),
        "migrations are up to date\n"
    );

    let out = liaison(dir.path(), &env, &["token", "create", "--operator"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "stdout holds more than the token: {stdout:?}"
    );
    assert!(stdout.ends_with('\n'));
    let token = lines[0];
    assert!(
        !token.is_empty() && !token.contains(char::is_whitespace),
        "{token:?}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("DEBUG"),
        "the debug logs go to standard error: {stderr}"
    );
    assert!(stderr.contains("it is shown only now"), "{stderr}");
}
