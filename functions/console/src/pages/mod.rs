//! The organization's pages. Each handler: the signed-in person
//! ([`Signed`](crate::signin::Signed)), the form (for a change: CSRF and the admin role first),
//! the admin API's own validation, one use case, and a page or a redirect. What more than one
//! page shows is in [`crate::parts`]: no page uses another.

pub mod accounts;
pub mod audit;
pub mod settings;
pub mod tokens;
pub mod trust;
