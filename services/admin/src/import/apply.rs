//! Writing a checked import plan: new branches and departments, new employees in batches, and
//! updates of the changed fields only, where a new email address ends the employee's open
//! invitation. The caller runs it inside one transaction.

use chrono::Utc;
use mep24web_entities::{account, employee, org_unit};
use mep24web_platform::db::Scoped;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
};

use super::plan::{Action, Change, Field, Plan, UnitRef, Value, language_code};
use crate::invitations::end_open_invitations;

/// Rows per multi-row `INSERT`. Twelve columns each stay far below the bind parameter limits
/// of SQLite (32,766) and PostgreSQL (65,535).
const INSERT_BATCH: usize = 500;

/// Counts of a written import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub created: usize,
    pub updated: usize,
}

/// Writes the plan. Unchanged rows are not touched, so their `updated_at` stays.
pub async fn apply<C: ConnectionTrait>(
    scope: &Scoped<'_, C>,
    plan: &Plan,
) -> Result<Applied, DbErr> {
    let conn = scope.conn();
    let tenant_id = scope.tenant_id().get();
    let now = Utc::now();

    // `org_units` has no unique index on names. The caller holds the tenant lock, so no other
    // import or node form adds a node between its snapshot and these inserts.
    let mut new_unit_ids = Vec::with_capacity(plan.new_units.len());
    for unit in &plan.new_units {
        let parent = resolve(unit.parent, &new_unit_ids)?;
        let inserted = org_unit::ActiveModel {
            tenant_id: Set(tenant_id),
            parent_id: Set(Some(parent)),
            kind: Set(unit.kind.to_owned()),
            name: Set(unit.name.clone()),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(conn)
        .await?;
        new_unit_ids.push(inserted.id);
    }

    let mut created = Vec::new();
    for planned in plan.rows.iter().filter(|row| row.action == Action::Create) {
        let row = &planned.row;
        created.push(employee::ActiveModel {
            tenant_id: Set(tenant_id),
            personnel_number: Set(row.personnel_number.clone()),
            first_name: Set(row.first_name.clone()),
            last_name: Set(row.last_name.clone()),
            email: Set(row.email.clone()),
            phone: Set(row.phone.clone()),
            entry_date: Set(row.entry_date),
            exit_date: Set(row.exit_date),
            org_unit_id: Set(resolve(planned.unit, &new_unit_ids)?),
            language: Set(row.language.map_or("de", language_code).to_owned()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        });
    }
    let created_count = created.len();
    let mut remaining = created.into_iter().peekable();
    while remaining.peek().is_some() {
        let batch: Vec<employee::ActiveModel> = remaining.by_ref().take(INSERT_BATCH).collect();
        employee::Entity::insert_many(batch)
            .exec_without_returning(conn)
            .await?;
    }

    let mut updated = 0;
    let mut new_addresses = Vec::new();
    for planned in &plan.rows {
        let Action::Update { id, changes } = &planned.action else {
            continue;
        };
        if changes.iter().any(|change| change.field == Field::Email) {
            new_addresses.push(*id);
        }
        let mut model = employee::ActiveModel {
            updated_at: Set(now),
            ..Default::default()
        };
        for change in changes {
            set_field(&mut model, change, &new_unit_ids)?;
        }
        let result = scope
            .update_many::<employee::Entity>()
            .set(model)
            .filter(employee::Column::Id.eq(*id))
            .exec(conn)
            .await?;
        if result.rows_affected != 1 {
            return Err(DbErr::RecordNotUpdated);
        }
        // The portal login shows the employee's name, so a renamed employee's login follows.
        let renamed = changes
            .iter()
            .any(|change| matches!(change.field, Field::FirstName | Field::LastName));
        if renamed {
            let display_name = format!("{} {}", planned.row.first_name, planned.row.last_name);
            scope
                .update_many::<account::Entity>()
                .col_expr(account::Column::DisplayName, Expr::value(display_name))
                .filter(account::Column::EmployeeId.eq(*id))
                .exec(conn)
                .await?;
        }
        updated += 1;
    }
    // An open invitation of these employees went to the old address, which may have been a
    // wrong one.
    end_open_invitations(scope, &new_addresses, now).await?;

    Ok(Applied {
        created: created_count,
        updated,
    })
}

/// Returns the id of an existing node or of one created earlier in this run.
fn resolve(unit: UnitRef, new_unit_ids: &[i64]) -> Result<i64, DbErr> {
    match unit {
        UnitRef::Existing(id) => Ok(id),
        UnitRef::New(index) => new_unit_ids.get(index).copied().ok_or_else(|| {
            DbErr::Custom(format!(
                "import plan refers to new node {index} before creating it"
            ))
        }),
    }
}

fn set_field(
    model: &mut employee::ActiveModel,
    change: &Change,
    new_unit_ids: &[i64],
) -> Result<(), DbErr> {
    match (change.field, &change.new) {
        (Field::LastName, Value::Text(Some(value))) => model.last_name = Set(value.clone()),
        (Field::FirstName, Value::Text(Some(value))) => model.first_name = Set(value.clone()),
        (Field::Email, Value::Text(value)) => model.email = Set(value.clone()),
        (Field::Phone, Value::Text(value)) => model.phone = Set(value.clone()),
        (Field::EntryDate, Value::Date(value)) => model.entry_date = Set(*value),
        (Field::ExitDate, Value::Date(value)) => model.exit_date = Set(*value),
        (Field::Language, Value::Language(value)) => model.language = Set(value.clone()),
        (Field::OrgUnit, Value::Unit(unit)) => {
            model.org_unit_id = Set(resolve(*unit, new_unit_ids)?)
        }
        // The value itself stays out of the message, because it may be an email address.
        (field, _) => {
            return Err(DbErr::Custom(format!(
                "import plan has a value of the wrong type for field {}",
                field.code()
            )));
        }
    }
    Ok(())
}
