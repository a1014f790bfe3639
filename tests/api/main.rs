//! The integration tests: one binary, every test through HTTP on a random port or through the
//! store, each on SQLite and (when `LIAISON_TEST_POSTGRES_URL` is set) PostgreSQL.

mod helpers;

mod access;
mod bad_input;
mod browser;
mod canvas;
mod cli;
mod contract;
mod control_chars;
mod crash;
mod directory;
mod fixtures;
mod instances;
mod intake;
mod invitations;
mod isolation;
mod ops;
mod outbound_hosts;
mod probe;
mod rules;
mod salesforce;
mod shared_links;
mod smtp;
mod writeback;
