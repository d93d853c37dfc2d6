//! Statements built at run time (many rows to a statement, lists of any length), for both
//! backends. sqlx's `QueryBuilder<Any>` writes `?` placeholders, which PostgreSQL does not
//! read; this one writes each backend's own: `$1, $2, ...` for PostgreSQL, `?` for SQLite
//! (SQLite reads `$N` too, but sqlx then looks each parameter's name up, which costs a
//! statement of 1,800 parameters time quadratic in them: log lines went from 286,000 to
//! 50,000 a second). The calls are sqlx's (`push`, `push_bind`, `push_values`,
//! `separated`), so the store's code reads as with sqlx's builder.

use super::schema::Backend;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, Arguments, Encode, Type};
use std::fmt::Write;

/// A statement being built.
pub struct QueryBuilder {
    sql: String,
    args: AnyArguments,
    /// `$N` placeholders (PostgreSQL) rather than `?` (SQLite).
    numbered: bool,
}

impl QueryBuilder {
    /// A statement for `backend` starting with `init`.
    pub fn new(backend: Backend, init: impl Into<String>) -> Self {
        QueryBuilder {
            sql: init.into(),
            args: AnyArguments::default(),
            numbered: backend == Backend::Postgres,
        }
    }

    /// Appends SQL text.
    pub fn push(&mut self, sql: impl std::fmt::Display) -> &mut Self {
        let _ = write!(self.sql, "{sql}");
        self
    }

    /// Appends a placeholder and binds `value` to it.
    pub fn push_bind<'t, T>(&mut self, value: T) -> &mut Self
    where
        T: Encode<'t, Any> + Type<Any>,
    {
        // Encoding into Any's values cannot fail for the types the store binds.
        self.args.add(value).expect("a value Any can hold");
        if self.numbered {
            let _ = write!(self.sql, "${}", self.args.len());
        } else {
            self.sql.push('?');
        }
        self
    }

    /// Appends `VALUES (..), (..)`, one tuple per item, its values bound by `push_tuple`.
    pub fn push_values<I, F>(&mut self, items: I, mut push_tuple: F) -> &mut Self
    where
        I: IntoIterator,
        F: FnMut(Separated<'_>, I::Item),
    {
        self.sql.push_str("VALUES ");
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.sql.push('(');
            push_tuple(self.separated(", "), item);
            self.sql.push(')');
        }
        self
    }

    /// A list whose items `separator` separates.
    pub fn separated(&mut self, separator: &'static str) -> Separated<'_> {
        Separated {
            builder: self,
            separator,
            first: true,
        }
    }

    /// The statement, ready to run.
    pub fn build(&mut self) -> Query<'static, Any, AnyArguments> {
        let sql = std::mem::take(&mut self.sql);
        let args = std::mem::take(&mut self.args);
        // The text is ours: every value in it is a bound placeholder.
        sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
    }
}

/// A list being appended to a statement.
pub struct Separated<'b> {
    builder: &'b mut QueryBuilder,
    separator: &'static str,
    first: bool,
}

impl Separated<'_> {
    fn separate(&mut self) {
        if !self.first {
            self.builder.sql.push_str(self.separator);
        }
        self.first = false;
    }

    /// Appends SQL text as the next item.
    pub fn push(&mut self, sql: impl std::fmt::Display) -> &mut Self {
        self.separate();
        self.builder.push(sql);
        self
    }

    /// Appends SQL text to the current item.
    pub fn push_unseparated(&mut self, sql: impl std::fmt::Display) -> &mut Self {
        self.builder.push(sql);
        self
    }

    /// Binds `value` as the next item.
    pub fn push_bind<'t, T>(&mut self, value: T) -> &mut Self
    where
        T: Encode<'t, Any> + Type<Any>,
    {
        self.separate();
        self.builder.push_bind(value);
        self
    }

    /// Binds `value` within the current item.
    pub fn push_bind_unseparated<'t, T>(&mut self, value: T) -> &mut Self
    where
        T: Encode<'t, Any> + Type<Any>,
    {
        self.builder.push_bind(value);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::{Backend, QueryBuilder};

    fn example(backend: Backend) -> String {
        let mut q = QueryBuilder::new(backend, "INSERT INTO t (a, b) ");
        q.push_values([(1i64, "x"), (2, "y")], |mut row, (a, b)| {
            row.push_bind(a).push_bind(b);
        });
        q.push(" WHERE k IN (");
        let mut list = q.separated(", ");
        list.push_bind(3i64).push_bind(4i64);
        q.push(")");
        q.sql
    }

    #[test]
    fn each_backend_gets_its_own_placeholders() {
        assert_eq!(
            example(Backend::Postgres),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4) WHERE k IN ($5, $6)"
        );
        assert_eq!(
            example(Backend::Sqlite),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?) WHERE k IN (?, ?)"
        );
    }
}
