//! Domain rules of mamori. Nothing here does I/O, so every rule of the
//! checklist can be unit-tested in microseconds.

/// A closed set of codes: an enum with `ALL`, `as_str` (the stored code)
/// and `parse`.
macro_rules! closed_set {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $code:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored code.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            pub fn parse(s: &str) -> Option<$name> {
                match s { $($code => Some($name::$variant),)+ _ => None }
            }
        }
    };
}
pub(crate) use closed_set;

pub mod audit;
pub mod catalog;
pub mod checklist;
pub mod clock;
pub mod identity;
pub mod inventory;
pub mod jobs;
pub mod jst;
pub mod monitoring;
pub mod parties;
pub mod password;
pub mod policy;
pub mod records;
pub mod report;
pub mod scope;
pub mod text;
pub mod totp;
pub mod verification;
pub mod vulns;
pub mod yaml;
pub mod yearly;
