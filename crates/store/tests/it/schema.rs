use crate::each_backend;
use mamori_store::Backend;

/// The two migration folders must describe the same tables and columns.
#[tokio::test]
async fn sqlite_and_postgres_schemas_agree() {
    let dbs = each_backend().await;
    let mut described = Vec::new();
    for db in &dbs {
        described.push(db.store.describe_schema().await.unwrap());
    }
    assert!(described[0].iter().any(|(t, _)| t == "audit_event"), "{:?}", described[0]);
    if let [sqlite, postgres] = &described[..] {
        assert_eq!(sqlite, postgres);
    } else {
        assert_eq!(dbs[0].store.backend(), Backend::Sqlite);
    }
    for db in dbs {
        db.cleanup().await;
    }
}

/// Migration 0034 gives each record kept before it the organisation that
/// keeps it: its creator's, unless the account ledger shows the creator
/// moved to another organisation since (then, as for one made at the
/// console, none: the department's to change). Its statement is run here on
/// records made through the store, their organisation taken off first.
#[tokio::test]
async fn migration_0034_gives_a_record_its_creator_s_organisation_unless_the_creator_moved_since() {
    use mamori_core::identity::{OrgKind, Role};
    use mamori_store::records::Keeper;
    for db in each_backend().await {
        let store = &db.store;
        let ctx = crate::system_ctx(time::OffsetDateTime::now_utc());
        let org = async |name: &str| store.create_organisation_audited(&ctx, name, OrgKind::Vendor, "").await.unwrap();
        let (builder, maintenance) = (org("ベンダーA").await, org("保守ベンダー").await);
        let dept = store.create_organisation_audited(&ctx, "情報政策課", OrgKind::Department, "").await.unwrap();
        let catalog = store.ensure_catalog(&ctx).await.unwrap().unwrap();
        let input = mamori_store::systems::SystemInput::new("基幹システム", dept);
        let sys = store.create_system(&ctx, &input, catalog).await.unwrap();
        for login in ["stays", "moves"] {
            store.issue_account(&ctx, &crate::new_account(login, Role::Vendor, Some(builder)), "").await.unwrap();
        }
        let values = mamori_core::records::Values([("name".to_owned(), "保守窓口".to_owned())].into());
        let add = async |login: &str, at: time::OffsetDateTime, keeper: Keeper<'_>| {
            let actor = mamori_core::audit::Actor { account_id: None, login: login.into() };
            let by = mamori_store::identity::Ctx { now: at, actor, ..ctx.clone() };
            let kind = mamori_core::records::RecordKind::Contact;
            store.save_record(&by, sys, None, kind, &values, keeper).await.unwrap()
        };
        let later = |minutes: i64| ctx.now + time::Duration::minutes(minutes);
        let stayed = add("stays", ctx.now, Keeper::vendor(builder, &[])).await;
        let before_the_move = add("moves", ctx.now, Keeper::vendor(builder, &[])).await;
        let at_the_console = add("system", ctx.now, Keeper::CONSOLE).await;
        let moving = store.account_by_login("moves").await.unwrap().unwrap();
        let change = mamori_store::identity::AccountChange {
            display_name: &moving.display_name,
            email: &moving.email,
            role: Role::Vendor,
            organisation: Some((maintenance, "保守ベンダー")),
            seen: &moving.edit_mark(),
        };
        store.change_account(&crate::system_ctx(later(1)), moving.id, &change, "異動").await.unwrap();
        let after_the_move = add("moves", later(2), Keeper::vendor(maintenance, &[])).await;

        store.execute_unchecked_for_tests("UPDATE record SET organisation_id = NULL").await.unwrap();
        let migration = match db.name {
            "sqlite" => include_str!("../../migrations/sqlite/0034_record_keeper.sql"),
            _ => include_str!("../../migrations/postgres/0034_record_keeper.sql"),
        };
        let fill = &migration[migration.find("UPDATE record").unwrap()..];
        store.execute_unchecked_for_tests(fill).await.unwrap();
        let kept = store.records(sys).await.unwrap();
        let of = |id: i64| kept.iter().find(|r| r.id == id).unwrap().organisation_id;
        assert_eq!(of(stayed), Some(builder), "{}", db.name);
        assert_eq!(of(before_the_move), None, "{}: its creator moved since", db.name);
        assert_eq!(of(at_the_console), None, "{}", db.name);
        assert_eq!(of(after_the_move), Some(maintenance), "{}", db.name);
        db.cleanup().await;
    }
}
