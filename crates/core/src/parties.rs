//! Who answers which requirements of a system: the owning department, the
//! vendor that builds it, its maintenance vendor and its cloud provider.
//!
//! Each catalog item names its default party; for one system the officer
//! assigns an organisation to each vendor party and may move single items
//! to another party. An item is answered by the organisation its party
//! falls to: an unassigned maintenance or cloud party falls to the builder,
//! and a system without any vendor is answered by its department.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The party an item belongs to. Written out rather than with
/// `closed_set!`: the catalog file names it, through serde.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    Department,
    #[default]
    Builder,
    Maintenance,
    Cloud,
}

impl Party {
    pub const ALL: &'static [Party] = &[Party::Department, Party::Builder, Party::Maintenance, Party::Cloud];

    /// The stored code (and the catalog file's word).
    pub fn as_str(self) -> &'static str {
        match self {
            Party::Department => "department",
            Party::Builder => "builder",
            Party::Maintenance => "maintenance",
            Party::Cloud => "cloud",
        }
    }

    pub fn parse(s: &str) -> Option<Party> {
        Party::ALL.iter().copied().find(|p| p.as_str() == s)
    }

    /// The party's name in the checklist's own words (the catalog workbook's
    /// 回答者 column).
    pub fn word(self) -> &'static str {
        match self {
            Party::Department => "所管課",
            Party::Builder => "構築事業者",
            Party::Maintenance => "保守事業者",
            Party::Cloud => "クラウド事業者",
        }
    }

    /// A party by its code or its word.
    pub fn from_word(s: &str) -> Option<Party> {
        let s = s.trim();
        Party::ALL.iter().copied().find(|p| p.as_str() == s || p.word() == s)
    }

    /// The catalog's default, left out of a catalog file.
    pub fn is_builder(&self) -> bool {
        *self == Party::Builder
    }
}

/// The organisations of one system: its department and the vendor of each
/// vendor party, if assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parties {
    pub department: i64,
    pub builder: Option<i64>,
    pub maintenance: Option<i64>,
    pub cloud: Option<i64>,
}

impl Parties {
    /// The organisation that answers the items of `party`.
    pub fn answerer(&self, party: Party) -> i64 {
        let builder = self.builder.unwrap_or(self.department);
        match party {
            Party::Department => self.department,
            Party::Builder => builder,
            Party::Maintenance => self.maintenance.unwrap_or(builder),
            Party::Cloud => self.cloud.unwrap_or(builder),
        }
    }

    /// Is `org` one of the system's vendors, in any party?
    pub fn has_vendor(&self, org: i64) -> bool {
        [self.builder, self.maintenance, self.cloud].contains(&Some(org))
    }

    /// Does `org` keep the system's records and inventory: its department,
    /// or one of its vendors?
    pub fn kept_by(&self, org: i64) -> bool {
        self.department == org || self.has_vendor(org)
    }
}

/// The party of each item: the officer's move for this system, else the
/// catalog's default.
pub fn party_of(number: u32, default: Party, moves: &[(u32, Party)]) -> Party {
    moves.iter().find(|(n, _)| *n == number).map_or(default, |(_, p)| *p)
}

/// The items each organisation answers (its part), from each applicable
/// item's party.
pub fn parts(items: &[(u32, Party)], parties: &Parties) -> BTreeMap<i64, Vec<u32>> {
    let mut parts: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
    for (n, p) in items {
        parts.entry(parties.answerer(*p)).or_default().push(*n);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPT: i64 = 1;
    const BUILD: i64 = 10;
    const MAINT: i64 = 11;
    const CLOUD: i64 = 12;

    #[test]
    fn each_party_falls_to_its_organisation_then_the_builder_then_the_department() {
        let full = Parties { department: DEPT, builder: Some(BUILD), maintenance: Some(MAINT), cloud: Some(CLOUD) };
        let got: Vec<i64> = Party::ALL.iter().map(|p| full.answerer(*p)).collect();
        assert_eq!(got, [DEPT, BUILD, MAINT, CLOUD]);
        let builder_only = Parties { maintenance: None, cloud: None, ..full };
        let got: Vec<i64> = Party::ALL.iter().map(|p| builder_only.answerer(*p)).collect();
        assert_eq!(got, [DEPT, BUILD, BUILD, BUILD], "unassigned vendor parties fall to the builder");
        let no_vendor = Parties { department: DEPT, builder: None, maintenance: None, cloud: None };
        assert!(Party::ALL.iter().all(|p| no_vendor.answerer(*p) == DEPT), "no vendor: the department answers all");
        assert!(full.has_vendor(CLOUD) && !full.has_vendor(DEPT) && !no_vendor.has_vendor(BUILD));
    }

    #[test]
    fn a_move_wins_over_the_catalog_and_parts_group_by_organisation() {
        let moves = [(7, Party::Builder)];
        assert_eq!(party_of(7, Party::Department, &moves), Party::Builder);
        assert_eq!(party_of(8, Party::Maintenance, &moves), Party::Maintenance);
        let parties = Parties { department: DEPT, builder: Some(BUILD), maintenance: Some(MAINT), cloud: None };
        let items = [(7, Party::Department), (8, Party::Maintenance), (31, Party::Builder), (72, Party::Cloud)];
        let got = parts(&items, &parties);
        assert_eq!(got.get(&DEPT), Some(&vec![7]));
        assert_eq!(got.get(&MAINT), Some(&vec![8]));
        assert_eq!(got.get(&BUILD), Some(&vec![31, 72]), "no cloud provider: the builder answers 72");
    }

    #[test]
    fn codes_round_trip() {
        for p in Party::ALL {
            assert_eq!(Party::parse(p.as_str()), Some(*p));
        }
        assert_eq!(Party::parse("vendor"), None);
        assert_eq!(Party::from_word(" 保守事業者 "), Some(Party::Maintenance));
        assert_eq!(Party::from_word("cloud"), Some(Party::Cloud));
        assert_eq!(Party::from_word("事業者"), None);
    }
}
