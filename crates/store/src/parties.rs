//! Who answers which items of a system (`mamori_core::parties`): the
//! officer's moves of single items to another party, and the submission of
//! each organisation's part, each with its history line and audit event.

use crate::identity::Ctx;
use crate::notices;
use crate::revision::Key;
use crate::systems::{
    answers_in, history_line, lock_open_round, move_status, overrides_in, system_event, SystemRecord,
};
use crate::{parsed, timestamp, with_conn, with_read_conn, Store, StoreError, Tx};
use mamori_core::audit::{Action, Changes};
use mamori_core::checklist::{self, HistoryKind, ItemState};
use mamori_core::clock::to_unix_micros;
use mamori_core::monitoring::NoticeKind;
use mamori_core::parties::{self, Party};
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;

/// The officer's move of one item to another party than the catalog's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemMove {
    pub number: u32,
    pub party: Party,
    pub actor_login: String,
    pub at: OffsetDateTime,
}

/// One organisation's part of a round, submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartSubmitted {
    pub organisation_id: i64,
    pub actor_login: String,
    pub at: OffsetDateTime,
}

/// The parts of a system's round: which organisation answers each
/// applicable item, under which party, and which parts are in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parts {
    /// Each applicable item: its party and the organisation answering it.
    pub items: BTreeMap<u32, (Party, i64)>,
    pub submitted: Vec<PartSubmitted>,
}

impl Parts {
    /// The organisation that answers item `number`, if it applies.
    pub fn answerer(&self, number: u32) -> Option<i64> {
        self.items.get(&number).map(|(_, org)| *org)
    }

    pub fn party(&self, number: u32) -> Option<Party> {
        self.items.get(&number).map(|(p, _)| *p)
    }

    /// The organisations that answer at least one item, in id order.
    pub fn organisations(&self) -> BTreeSet<i64> {
        self.items.values().map(|(_, org)| *org).collect()
    }

    /// The items `org` answers.
    pub fn numbers_of(&self, org: i64) -> Vec<u32> {
        self.items.iter().filter(|(_, (_, o))| *o == org).map(|(n, _)| *n).collect()
    }

    pub fn submission(&self, org: i64) -> Option<&PartSubmitted> {
        self.submitted.iter().find(|p| p.organisation_id == org)
    }

    pub fn is_submitted(&self, org: i64) -> bool {
        self.submission(org).is_some()
    }

    /// Is the part item `number` belongs to submitted?
    pub fn item_submitted(&self, number: u32) -> bool {
        self.answerer(number).is_some_and(|o| self.is_submitted(o))
    }

    /// The items that start or stop applying, or change who answers them,
    /// from these parts to `after`; and those of them whose part, before
    /// or after, is submitted ([`checklist::can_change_scope`]).
    pub fn changed_to(&self, after: &Parts) -> (Vec<u32>, Vec<u32>) {
        let numbers: BTreeSet<u32> = self.items.keys().chain(after.items.keys()).copied().collect();
        let changed: Vec<u32> = numbers.into_iter().filter(|n| self.answerer(*n) != after.answerer(*n)).collect();
        let submitted = |o: Option<i64>| o.is_some_and(|o| self.is_submitted(o));
        let in_submitted =
            changed.iter().copied().filter(|n| submitted(self.answerer(*n)) || submitted(after.answerer(*n))).collect();
        (changed, in_submitted)
    }

    /// Parts with an item still to be submitted, other than `org`'s.
    pub fn open_besides(&self, org: i64) -> bool {
        self.organisations().into_iter().any(|o| o != org && !self.is_submitted(o))
    }
}

#[derive(sqlx::FromRow)]
struct MoveRow {
    number: i64,
    party: String,
    actor_login: String,
    at_us: i64,
}

impl MoveRow {
    fn into_record(self) -> Result<ItemMove, StoreError> {
        Ok(ItemMove {
            number: self.number as u32,
            party: parsed("party", &self.party, Party::parse)?,
            actor_login: self.actor_login,
            at: timestamp(self.at_us)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct SubmittedRow {
    organisation_id: i64,
    actor_login: String,
    at_us: i64,
}

impl SubmittedRow {
    fn into_record(self) -> Result<PartSubmitted, StoreError> {
        Ok(PartSubmitted {
            organisation_id: self.organisation_id,
            actor_login: self.actor_login,
            at: timestamp(self.at_us)?,
        })
    }
}

const SELECT_MOVES: &str =
    "SELECT number, party, actor_login, at_us FROM item_party WHERE system_id = $1 ORDER BY number";
const SELECT_SUBMITTED: &str = "SELECT organisation_id, actor_login, at_us FROM part_submission \
     WHERE system_id = $1 AND round = $2 ORDER BY organisation_id";

async fn insert_part(tx: &mut Tx, ctx: &Ctx, s: &SystemRecord, org: i64) -> Result<(), StoreError> {
    with_conn!(tx, c => {
        sqlx::query("INSERT INTO part_submission (system_id, round, organisation_id, actor_login, at_us) VALUES ($1, $2, $3, $4, $5)")
            .bind(s.id).bind(s.round).bind(org).bind(&ctx.actor.login).bind(to_unix_micros(ctx.now))
            .execute(c).await?;
    });
    Ok(())
}

async fn moves_in(tx: &mut Tx, system_id: i64) -> Result<Vec<ItemMove>, StoreError> {
    let rows = with_conn!(tx, c => sqlx::query_as::<_, MoveRow>(SELECT_MOVES).bind(system_id).fetch_all(c).await?);
    rows.into_iter().map(MoveRow::into_record).collect()
}

async fn submitted_in(tx: &mut Tx, s: &SystemRecord) -> Result<Vec<PartSubmitted>, StoreError> {
    let rows = with_conn!(tx, c => {
        sqlx::query_as::<_, SubmittedRow>(SELECT_SUBMITTED).bind(s.id).bind(s.round).fetch_all(c).await?
    });
    rows.into_iter().map(SubmittedRow::into_record).collect()
}

impl Store {
    /// The officer's moves of single items of a system.
    pub async fn item_moves(&self, system_id: i64) -> Result<Vec<ItemMove>, StoreError> {
        self.kept(Key::ItemMoves(system_id), async || {
            let rows =
                with_read_conn!(self, c => sqlx::query_as::<_, MoveRow>(SELECT_MOVES).bind(system_id).fetch_all(c).await?)?;
            rows.into_iter().map(MoveRow::into_record).collect()
        })
        .await
    }

    /// The parts of a system's current round.
    pub async fn parts(&self, s: &SystemRecord) -> Result<Parts, StoreError> {
        let overrides: Vec<(u32, bool)> = self.overrides(s.id).await?.iter().map(|o| (o.number, o.applies)).collect();
        let moves = self.item_moves(s.id).await?;
        let submitted = self
            .kept(Key::PartsSubmitted(s.id, s.round), async || {
                let rows = with_read_conn!(self, c => {
                    sqlx::query_as::<_, SubmittedRow>(SELECT_SUBMITTED).bind(s.id).bind(s.round).fetch_all(c).await?
                })?;
                rows.into_iter().map(SubmittedRow::into_record).collect::<Result<Vec<_>, _>>()
            })
            .await?;
        self.parts_of(s, &overrides, &moves, submitted).await
    }

    async fn parts_of(
        &self,
        s: &SystemRecord,
        overrides: &[(u32, bool)],
        moves: &[ItemMove],
        submitted: Vec<PartSubmitted>,
    ) -> Result<Parts, StoreError> {
        let catalog = self.catalog(s.catalog_version_id).await?;
        let conditions = self.catalog_conditions(s.catalog_version_id).await?;
        let moves: Vec<(u32, Party)> = moves.iter().map(|m| (m.number, m.party)).collect();
        let who = s.input.parties();
        let items = conditions
            .applicable_at(&s.input.attrs, overrides)
            .map(|(i, n)| {
                let party = parties::party_of(n, catalog.requirements[i].party, &moves);
                (n, (party, who.answerer(party)))
            })
            .collect();
        Ok(Parts { items, submitted })
    }

    /// The workflow's view of every applicable item and the parts, read in
    /// `tx` (the system locked by the caller).
    pub(crate) async fn parts_in(&self, tx: &mut Tx, s: &SystemRecord) -> Result<(Vec<ItemState>, Parts), StoreError> {
        let overrides: Vec<(u32, bool)> = overrides_in(tx, s.id).await?.iter().map(|o| (o.number, o.applies)).collect();
        let moves = moves_in(tx, s.id).await?;
        let submitted = submitted_in(tx, s).await?;
        let parts = self.parts_of(s, &overrides, &moves, submitted).await?;
        let applicable: Vec<u32> = parts.items.keys().copied().collect();
        let decided = answers_in(tx, s.id, s.round).await?.into_iter().map(|a| (a.number, a.review)).collect();
        Ok((checklist::item_states(&applicable, &decided), parts))
    }

    /// May `by` (an organisation; `None`: anyone, as the console) change
    /// item `number` now? `Missing` if the item does not apply or is
    /// another's; refused by the workflow while its part is submitted.
    pub(crate) fn check_change(
        s: &SystemRecord,
        parts: &Parts,
        number: u32,
        by: Option<i64>,
    ) -> Result<(), StoreError> {
        let org = parts.answerer(number).ok_or(StoreError::Missing)?;
        if by.is_some_and(|b| b != org) {
            return Err(StoreError::Missing);
        }
        checklist::can_change_part(s.status, parts.is_submitted(org)).map_err(StoreError::Refused)
    }

    /// The officer moves item `number` of a system to `party` (back to the
    /// catalog's default removes the move). Refused while the item is with
    /// the officer: the system submitted or approved, or the part it leaves
    /// or joins submitted.
    pub async fn move_item(&self, ctx: &Ctx, system_id: i64, number: u32, party: Party) -> Result<(), StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        let s = lock_open_round(&mut tx, ctx, system_id).await?;
        let (_, parts) = self.parts_in(&mut tx, &s).await?;
        let from = parts.party(number).ok_or(StoreError::Missing)?;
        let to_org = s.input.parties().answerer(party);
        checklist::can_change_part(s.status, parts.item_submitted(number) || parts.is_submitted(to_org))
            .map_err(StoreError::Refused)?;
        let catalog = self.catalog(s.catalog_version_id).await?;
        let default = catalog.requirements.iter().find(|r| r.number == number).map_or(Party::Builder, |r| r.party);
        with_conn!(tx, c => {
            sqlx::query("DELETE FROM item_party WHERE system_id = $1 AND number = $2")
                .bind(s.id).bind(i64::from(number)).execute(&mut *c).await?;
            if party != default {
                sqlx::query("INSERT INTO item_party (system_id, number, party, actor_login, at_us) VALUES ($1, $2, $3, $4, $5)")
                    .bind(s.id).bind(i64::from(number)).bind(party.as_str()).bind(&ctx.actor.login)
                    .bind(to_unix_micros(ctx.now)).execute(&mut *c).await?;
            }
        });
        let ev = system_event(ctx, Action::ItemPartyMoved, s.id)
            .changes(Changes::new().with("number", number).with("from", from.as_str()).with("to", party.as_str()));
        tx.commit_audited(ctx.now, ev).await
    }

    /// Organisation `org` submits its part of a system's round: every item
    /// it answers answered, none still returned. The last part in submits
    /// the system to the officer. `Missing` if `org` answers nothing here.
    pub async fn submit_part(&self, ctx: &Ctx, system_id: i64, org: i64) -> Result<(), StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        let s = lock_open_round(&mut tx, ctx, system_id).await?;
        let (items, parts) = self.parts_in(&mut tx, &s).await?;
        let mine = parts.numbers_of(org);
        if mine.is_empty() {
            return Err(StoreError::Missing);
        }
        let part: Vec<ItemState> = items.into_iter().filter(|i| mine.contains(&i.number)).collect();
        let to = checklist::submit_part(s.status, &part, parts.is_submitted(org), parts.open_besides(org))
            .map_err(StoreError::Refused)?;
        self.record_part(&mut tx, ctx, &s, org).await?;
        if to != s.status {
            move_status(&mut tx, ctx, s.id, s.status, to).await?;
        }
        if to == checklist::SystemStatus::Submitted {
            notices::queue(&mut tx, ctx.now, NoticeKind::Submitted, &s, None, &[]).await?;
        }
        let mut changes = Changes::new().with("organisation_id", org).with("items", mine.len());
        if to == checklist::SystemStatus::Submitted {
            changes = changes.with("system", "submitted");
        }
        tx.commit_audited(ctx.now, system_event(ctx, Action::SystemSubmitted, s.id).changes(changes)).await
    }

    /// Submits every part still open at once (the console's demonstration
    /// data; a person submits their own part with [`Store::submit_part`]).
    pub async fn submit_system(&self, ctx: &Ctx, system_id: i64) -> Result<(), StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        let s = lock_open_round(&mut tx, ctx, system_id).await?;
        let (items, parts) = self.parts_in(&mut tx, &s).await?;
        let to = checklist::submit(s.status, &items).map_err(StoreError::Refused)?;
        for org in parts.organisations() {
            if !parts.is_submitted(org) {
                insert_part(&mut tx, ctx, &s, org).await?;
            }
        }
        history_line(&mut tx, ctx, &s, 0, HistoryKind::Submit, None, "").await?;
        move_status(&mut tx, ctx, s.id, s.status, to).await?;
        notices::queue(&mut tx, ctx.now, NoticeKind::Submitted, &s, None, &[]).await?;
        tx.commit_audited(ctx.now, system_event(ctx, Action::SystemSubmitted, s.id)).await
    }

    /// The row and the history line of one part submitted; the line names
    /// the organisation.
    async fn record_part(&self, tx: &mut Tx, ctx: &Ctx, s: &SystemRecord, org: i64) -> Result<(), StoreError> {
        insert_part(tx, ctx, s, org).await?;
        let name: String = with_conn!(tx, c => {
            sqlx::query_scalar("SELECT name FROM organisation WHERE id = $1").bind(org).fetch_one(c).await?
        });
        history_line(tx, ctx, s, 0, HistoryKind::Submit, None, &name).await
    }

    /// The notices of a review's end: each organisation whose items came
    /// back hears which; an approval is told to every organisation that
    /// answered the round.
    pub(crate) async fn queue_review_notices(
        &self,
        tx: &mut Tx,
        now: OffsetDateTime,
        s: &SystemRecord,
        to: checklist::SystemStatus,
        items: &[ItemState],
        parts: &Parts,
    ) -> Result<(), StoreError> {
        let mut returned: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
        for i in items.iter().filter(|i| i.review == checklist::Review::Returned) {
            if let Some(org) = parts.answerer(i.number) {
                returned.entry(org).or_default().push(i.number);
            }
        }
        match to {
            checklist::SystemStatus::Returned => {
                for (org, numbers) in returned {
                    notices::queue(tx, now, NoticeKind::Returned, s, Some(org), &numbers).await?;
                }
            }
            checklist::SystemStatus::Approved => {
                for org in parts.organisations() {
                    notices::queue(tx, now, NoticeKind::Approved, s, Some(org), &[]).await?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// A return reopens the parts that hold a returned item; the others
    /// stay submitted.
    pub(crate) async fn reopen_returned(
        &self,
        tx: &mut Tx,
        s: &SystemRecord,
        items: &[ItemState],
        parts: &Parts,
    ) -> Result<(), StoreError> {
        let reopened: BTreeSet<i64> = items
            .iter()
            .filter(|i| i.review == checklist::Review::Returned)
            .filter_map(|i| parts.answerer(i.number))
            .collect();
        for org in reopened {
            with_conn!(tx, c => {
                sqlx::query("DELETE FROM part_submission WHERE system_id = $1 AND round = $2 AND organisation_id = $3")
                    .bind(s.id).bind(s.round).bind(org).execute(c).await?;
            });
        }
        Ok(())
    }
}
