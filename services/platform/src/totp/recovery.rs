//! Single-use recovery codes for planners who lost their authenticator app.
//!
//! A code is 16 characters from an alphabet without look-alikes (no I, L, O, 0 or 1), shown in
//! groups of four: about 79 random bits, so a SHA-256 hash is enough to store it. A code is used
//! up by one conditional update, so two requests with the same code cannot both succeed.

use chrono::Utc;
use mep24web_entities::recovery_code;
use rand::Rng;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, PaginatorTrait, QueryFilter, Set,
};

use crate::db::Scoped;
use crate::tenant::TenantId;
use crate::tokens;

/// Number of codes a planner gets at enrollment and at each renewal.
pub const CODE_COUNT: usize = 10;
/// Characters of a code, without the group separators.
const CODE_CHARS: usize = 16;
/// Characters per group in the displayed form.
const GROUP_CHARS: usize = 4;
/// Upper-case letters and digits without I, L, O, 0 and 1, which people confuse when typing.
const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// Generates [`CODE_COUNT`] new codes in their displayed form, e.g. `K7QM-2XHD-9RTA-WNPE`.
pub fn generate() -> Vec<String> {
    let mut rng = rand::rngs::OsRng;
    (0..CODE_COUNT)
        .map(|_| {
            let chars: Vec<char> = (0..CODE_CHARS)
                .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
                .collect();
            chars
                .chunks(GROUP_CHARS)
                .map(|group| group.iter().collect::<String>())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

/// Returns a typed code in its stored form: upper case, without spaces and hyphens. Text that
/// cannot be a recovery code is `None`.
pub fn normalize(input: &str) -> Option<String> {
    let code: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let valid = code.len() == CODE_CHARS && code.bytes().all(|b| ALPHABET.contains(&b));
    valid.then_some(code)
}

/// Replaces every recovery code of the account with the given ones (in displayed form), storing
/// only their hashes. Run it in the transaction that enables two-factor login or renews codes.
pub async fn replace_all<C: ConnectionTrait>(
    conn: &C,
    tenant_id: TenantId,
    account_id: i64,
    codes: &[String],
) -> Result<(), DbErr> {
    delete_all(conn, tenant_id, account_id).await?;
    let now = Utc::now();
    for code in codes {
        let Some(normalized) = normalize(code) else {
            continue;
        };
        recovery_code::ActiveModel {
            tenant_id: Set(tenant_id.get()),
            account_id: Set(account_id),
            code_hash: Set(tokens::hash(&normalized)),
            created_at: Set(now),
            used_at: Set(None),
            ..Default::default()
        }
        .insert(conn)
        .await?;
    }
    Ok(())
}

/// Deletes every recovery code of the account.
pub async fn delete_all<C: ConnectionTrait>(
    conn: &C,
    tenant_id: TenantId,
    account_id: i64,
) -> Result<(), DbErr> {
    Scoped::new(conn, tenant_id)
        .delete_many::<recovery_code::Entity>()
        .filter(recovery_code::Column::AccountId.eq(account_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Marks an unused code of the account as used and returns true, or returns false when the
/// text is no unused code of this account.
pub async fn consume<C: ConnectionTrait>(
    conn: &C,
    tenant_id: TenantId,
    account_id: i64,
    input: &str,
) -> Result<bool, DbErr> {
    let Some(normalized) = normalize(input) else {
        return Ok(false);
    };
    let used = Scoped::new(conn, tenant_id)
        .update_many::<recovery_code::Entity>()
        .col_expr(recovery_code::Column::UsedAt, Expr::value(Utc::now()))
        .filter(recovery_code::Column::AccountId.eq(account_id))
        .filter(recovery_code::Column::CodeHash.eq(tokens::hash(&normalized)))
        .filter(recovery_code::Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    Ok(used.rows_affected == 1)
}

/// Counts the account's unused recovery codes.
pub async fn remaining<C: ConnectionTrait>(
    conn: &C,
    tenant_id: TenantId,
    account_id: i64,
) -> Result<u64, DbErr> {
    Scoped::new(conn, tenant_id)
        .find::<recovery_code::Entity>()
        .filter(recovery_code::Column::AccountId.eq(account_id))
        .filter(recovery_code::Column::UsedAt.is_null())
        .count(conn)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_returns_distinct_grouped_codes() {
        let codes = generate();
        assert_eq!(codes.len(), CODE_COUNT);
        for code in &codes {
            assert_eq!(code.len(), 19, "{code}");
            assert_eq!(code.matches('-').count(), 3, "{code}");
            assert!(normalize(code).is_some(), "{code}");
        }
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), CODE_COUNT);
    }

    #[test]
    fn normalize_ignores_case_spaces_and_hyphens() {
        assert_eq!(
            normalize(" k7qm-2xhd 9rta-wnpe ").as_deref(),
            Some("K7QM2XHD9RTAWNPE")
        );
        assert_eq!(normalize("K7QM-2XHD-9RTA-WNP"), None);
        assert_eq!(normalize("K7QM-2XHD-9RTA-WNP0"), None);
        assert_eq!(normalize("123456"), None);
    }
}
