//! Reading typed values out of rows, identically for both backends.

use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::clock::from_millis;

fn corrupt(column: &str, value: &str) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: format!("unexpected stored value `{value}`").into(),
    }
}

pub fn id(row: &AnyRow, column: &str) -> sqlx::Result<Uuid> {
    let raw: String = row.try_get(column)?;
    Uuid::parse_str(&raw).map_err(|_| corrupt(column, &raw))
}

pub fn opt_id(row: &AnyRow, column: &str) -> sqlx::Result<Option<Uuid>> {
    let raw: Option<String> = row.try_get(column)?;
    raw.map(|raw| Uuid::parse_str(&raw).map_err(|_| corrupt(column, &raw)))
        .transpose()
}

pub fn text(row: &AnyRow, column: &str) -> sqlx::Result<String> {
    row.try_get(column)
}

pub fn opt_text(row: &AnyRow, column: &str) -> sqlx::Result<Option<String>> {
    row.try_get(column)
}

pub fn time(row: &AnyRow, column: &str) -> sqlx::Result<OffsetDateTime> {
    Ok(from_millis(row.try_get(column)?))
}

pub fn opt_time(row: &AnyRow, column: &str) -> sqlx::Result<Option<OffsetDateTime>> {
    Ok(row.try_get::<Option<i64>, _>(column)?.map(from_millis))
}

pub fn int(row: &AnyRow, column: &str) -> sqlx::Result<i64> {
    row.try_get(column)
}

/// A stored enum value, parsed by the domain type's own `parse`.
pub fn parsed<T>(row: &AnyRow, column: &str, parse: impl Fn(&str) -> Option<T>) -> sqlx::Result<T> {
    let raw: String = row.try_get(column)?;
    parse(&raw).ok_or_else(|| corrupt(column, &raw))
}

/// As `parsed`, for a column that may be NULL.
pub fn opt_parsed<T>(
    row: &AnyRow,
    column: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> sqlx::Result<Option<T>> {
    let raw: Option<String> = row.try_get(column)?;
    raw.map(|raw| parse(&raw).ok_or_else(|| corrupt(column, &raw)))
        .transpose()
}
