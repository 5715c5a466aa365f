//! The integration suite: one test binary, one module per area (as zero-to-production's
//! `tests/api/main.rs`), so the AWS SDK is linked once. Every test still gets its own tables
//! in the one DynamoDB Local, so the tests run in parallel.

mod accounts_api;
mod audit_trail;
mod authorization;
mod bootstrap;
mod console;
mod console_accounts;
mod console_audit;
mod console_layout;
mod console_tokens;
mod detection;
mod edge;
mod event_bus;
mod faults;
mod functions_start;
mod iam;
mod layout;
mod leaks;
mod lifecycle;
mod lineage;
mod local_system;
mod lockout;
mod oidc;
mod openapi;
mod people;
mod processes;
mod provisioner;
mod provisioner_trust;
mod scale;
mod security;
mod storage;
mod template;
mod tokens_api;
mod workloads;
