//! The integration tests: one binary, every test through HTTP on a random port or through the
//! store, each on SQLite and (when `LIAISON_TEST_POSTGRES_URL` is set) PostgreSQL.

mod helpers;

mod access;
mod audit;
mod audit_directory;
mod bad_input;
mod browser;
mod canvas;
mod cli;
mod client_status;
mod confidentiality;
mod console;
mod console_clients;
mod console_directory;
mod console_groups;
mod console_mapping;
mod console_org_links;
mod console_salesforce;
mod console_walk;
mod contract;
mod control_chars;
mod coverage;
mod crash;
mod directory;
mod funnel;
mod group_access;
mod instances;
mod intake;
mod invitations;
mod isolation;
mod mapping;
mod mobiles;
mod ops;
mod ops_failures;
mod ops_health;
mod outbound_hosts;
mod paging;
mod probe;
mod roles;
mod salesforce;
mod shared_links;
mod tokens;
mod uniqueness;
mod visibility;
mod writeback;
