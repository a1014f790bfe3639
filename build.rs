// Migrations are embedded by `sqlx::migrate!`; rebuild when one is added or changed.
// The PostgreSQL variants of the integration tests are compiled as ignored, and so reported,
// when no server is named for them: a test that cannot run never counts as passed.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-env-changed=LIAISON_TEST_POSTGRES_URL");
    println!("cargo:rustc-check-cfg=cfg(liaison_test_postgres)");
    if std::env::var("LIAISON_TEST_POSTGRES_URL").is_ok_and(|v| !v.is_empty()) {
        println!("cargo:rustc-cfg=liaison_test_postgres");
    }
}
