//! What a notice of the review says and to whom (items 22, 23): items
//! returned reach the people of the organisation that answers them, with
//! the item numbers; the last part submitted reaches the security office;
//! an approval, every organisation that answered. The subject is fixed;
//! the system's name is only in the body. Sent by the notifier
//! ([`crate::notify::Notifier::run_once`]).

use mamori_core::identity::Role;
use mamori_core::monitoring::NoticeKind;
use mamori_core::parties::Parties;
use mamori_core::scope::Scope;
use mamori_store::accounts::Account;
use mamori_store::notices::Notice;
use std::collections::BTreeSet;

/// The enabled department and vendor accounts of `orgs`.
fn answering<'a>(accounts: &'a [Account], orgs: &'a BTreeSet<i64>) -> impl Iterator<Item = &'a Account> {
    accounts.iter().filter(|a| {
        a.disabled_at.is_none()
            && matches!(a.role, Role::Department | Role::Vendor)
            && a.organisation_id.is_some_and(|org| orgs.contains(&org))
    })
}

/// The addresses of the enabled department and vendor accounts of `orgs`.
pub(crate) fn of_organisations(accounts: &[Account], orgs: &BTreeSet<i64>) -> Vec<String> {
    answering(accounts, orgs).map(|a| a.email.clone()).collect()
}

/// Who hears `n`: its organisation's people, or the security office;
/// only those who may see the system as it is now (`parties`): an
/// organisation taken off the system since the step hears nothing of it.
pub(crate) fn recipients(accounts: &[Account], n: &Notice, parties: &Parties) -> Vec<String> {
    let orgs: BTreeSet<i64> = n.organisation_id.into_iter().collect();
    let to: Vec<&Account> = match n.organisation_id {
        Some(_) => answering(accounts, &orgs).collect(),
        None => accounts.iter().filter(|a| a.disabled_at.is_none() && a.role == Role::SecurityOfficer).collect(),
    };
    to.into_iter().filter(|a| Scope::of(a.role, a.organisation_id).allows(parties)).map(|a| a.email.clone()).collect()
}

/// The fixed subject and the body of `n` about the system `name`.
pub(crate) fn text(origin: &str, n: &Notice, name: &str) -> (String, String) {
    let (subject, lead, more) = match n.kind {
        NoticeKind::Returned => {
            let items: Vec<String> = n.items.iter().map(|i| format!("No.{i}")).collect();
            (
                "[mamori] チェックリストの回答が差し戻されました",
                "セキュリティ担当者がチェックリストの回答を差し戻しました。項目のコメントを確認し、直して提出し直してください。",
                format!("差し戻された項目: {}\n\n直すのはこちらから:", items.join(", ")),
            )
        }
        NoticeKind::Submitted => (
            "[mamori] チェックリストの回答が提出されました",
            "チェックリストの回答がすべて提出されました。審査をお願いします。",
            "審査はこちらから:".to_owned(),
        ),
        NoticeKind::Approved => (
            "[mamori] チェックリストの回答が承認されました",
            "チェックリストの回答が承認されました。ご対応ありがとうございました。",
            "結果はこちらから:".to_owned(),
        ),
    };
    let body = format!(
        "{lead}\n\nシステム: {name}\n対象: 第{}回\n{more}\n{origin}/systems/{}\n\nこのメールは mamori から自動で送信しています。\n",
        n.round, n.system_id
    );
    (subject.to_owned(), body)
}
