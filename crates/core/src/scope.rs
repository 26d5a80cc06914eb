//! Which systems a person may see (PRODUCT.md, users and roles): the
//! security office and internal audit see every system; department staff
//! their department's; a vendor's staff only the systems their company is
//! assigned to, in any party — never another's, not even its name or count.

use crate::identity::{Permission, Role};
use crate::parties::Parties;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every system.
    All,
    /// The systems of this department (organisation id).
    Department(i64),
    /// The systems this vendor company (organisation id) is assigned to as
    /// builder, maintenance vendor or cloud provider.
    Vendor(i64),
    /// None at all (a role without the permission, or staff without an
    /// organisation).
    Nothing,
}

impl Scope {
    /// The scope of a person of `role` in `organisation`.
    pub fn of(role: Role, organisation: Option<i64>) -> Scope {
        if !role.can(Permission::ViewSystems) {
            return Scope::Nothing;
        }
        match (role, organisation) {
            (Role::Vendor, Some(org)) => Scope::Vendor(org),
            (Role::Department, Some(org)) => Scope::Department(org),
            (Role::Vendor | Role::Department, None) => Scope::Nothing,
            _ => Scope::All,
        }
    }

    /// May a person of this scope see a system of these parties?
    pub fn allows(self, parties: &Parties) -> bool {
        match self {
            Scope::All => true,
            Scope::Department(d) => d == parties.department,
            Scope::Vendor(v) => parties.has_vendor(v),
            Scope::Nothing => false,
        }
    }

    pub fn is_all(self) -> bool {
        self == Scope::All
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_sees_what_product_md_says() {
        let cases = [
            (Role::SecurityOfficer, None, Scope::All),
            (Role::Auditor, None, Scope::All),
            (Role::Admin, None, Scope::Nothing),
            (Role::Department, Some(3), Scope::Department(3)),
            (Role::Vendor, Some(7), Scope::Vendor(7)),
            (Role::Vendor, None, Scope::Nothing),
            (Role::Department, None, Scope::Nothing),
        ];
        for (role, org, want) in cases {
            assert_eq!(Scope::of(role, org), want, "{role:?}");
        }
    }

    fn of(department: i64, builder: Option<i64>) -> Parties {
        Parties { department, builder, maintenance: None, cloud: None }
    }

    #[test]
    fn a_vendor_sees_only_its_own_systems() {
        let v = Scope::Vendor(7);
        assert!(v.allows(&of(1, Some(7))));
        assert!(!v.allows(&of(1, Some(8))) && !v.allows(&of(1, None)));
        assert!(Scope::Department(1).allows(&of(1, Some(8))) && !Scope::Department(2).allows(&of(1, Some(8))));
        assert!(!Scope::Nothing.allows(&of(1, Some(7))) && Scope::All.allows(&of(1, None)));
    }

    #[test]
    fn a_vendor_sees_the_systems_of_every_party_it_holds() {
        let maint = Parties { maintenance: Some(7), ..of(1, Some(8)) };
        let cloud = Parties { cloud: Some(7), ..of(1, Some(8)) };
        assert!(Scope::Vendor(7).allows(&maint) && Scope::Vendor(7).allows(&cloud));
        assert!(Scope::Vendor(8).allows(&maint), "the builder still sees it");
        assert!(!Scope::Vendor(9).allows(&maint) && !Scope::Vendor(1).allows(&maint), "a department id is no vendor");
    }
}
