//! Migrations: the SQLite and PostgreSQL trees stay in lockstep, and every migration runs up, down and up again.

use concord::config::DatabaseUrl;
use std::collections::BTreeSet;

use crate::harness::TestDatabase;

fn versions(backend: &str) -> BTreeSet<String> {
    crate::harness::migration_tree(backend)
        .into_iter()
        .map(|m| m.version)
        .collect()
}

#[test]
fn the_two_migration_trees_have_the_same_versions() {
    let sqlite = versions("sqlite");
    let postgres = versions("postgres");
    assert!(!sqlite.is_empty());
    assert_eq!(
        sqlite, postgres,
        "migrations/sqlite and migrations/postgres must hold the same versions"
    );
}

#[test]
fn every_migration_runs_up_down_and_up_again() {
    let database = TestDatabase::create_empty();
    let pool = concord::platform::db::pool(&DatabaseUrl::parse(database.url()).unwrap()).unwrap();
    let mut conn = pool.get().unwrap();
    let total = versions("sqlite").len();

    assert_eq!(
        concord::platform::db::run_migrations(&mut conn)
            .unwrap()
            .len(),
        total
    );
    concord::programs::current(&mut conn).expect("the schema works after the first run");
    assert_eq!(
        concord::platform::db::revert_all_migrations(&mut conn)
            .unwrap()
            .len(),
        total
    );
    assert!(
        concord::programs::current(&mut conn).is_err(),
        "reverting removes the tables"
    );
    assert_eq!(
        concord::platform::db::run_migrations(&mut conn)
            .unwrap()
            .len(),
        total
    );
    let program = concord::programs::current(&mut conn).unwrap();
    assert_eq!(program.currency, "USD");
}

// ---------------------------------------------------------------------------------------------------------------
// Lockstep: replaying each tree's `up.sql` files as text gives the same tables, columns, checks and indexes after
// every version, once the known differences between the dialects are normalised away (id columns, BLOB/BYTEA,
// INTEGER/BIGINT, length/char_length, SQLite's table rebuilds against PostgreSQL's ALTER ... CONSTRAINT). A column
// added to one tree only, or a check widened in one only, fails it.

use std::collections::BTreeMap;

#[derive(Debug, Default, Clone, PartialEq)]
struct Schema {
    /// table -> column -> its type and options, normalised, without its CHECK.
    tables: BTreeMap<String, BTreeMap<String, String>>,
    /// (table, column) -> the column's CHECK expression, normalised.
    checks: BTreeMap<(String, String), String>,
    /// index -> what it covers.
    indexes: BTreeMap<String, String>,
}

/// Statements of a migration, lower-cased with whitespace collapsed and comments removed.
fn statements(sql: &str) -> Vec<String> {
    let without_comments: String = sql
        .lines()
        .map(|line| line.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    without_comments
        .split(';')
        .map(|s| {
            s.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// Splits at commas outside parentheses.
fn split_top_level(body: &str) -> Vec<String> {
    let (mut parts, mut current, mut depth) = (Vec::new(), String::new(), 0i32);
    for ch in body.chars() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if ch == ',' && depth == 0 {
            parts.push(current.trim().to_string());
            current.clear();
        } else {
            current.push(ch);
        }
    }
    if !current.trim().is_empty() {
        parts.push(current.trim().to_string());
    }
    parts
}

/// The dialects' known differences, made equal.
fn normalise(definition: &str) -> String {
    let mut d = format!(" {definition} ");
    for (from, to) in [
        (
            " bigint generated always as identity primary key ",
            " <id> ",
        ),
        (" integer primary key not null ", " <id> "),
        (" integer primary key autoincrement ", " <id> "),
        ("char_length(", "length("),
        (" bytea", " blob"),
        (" integer", " bigint"),
    ] {
        d = d.replace(from, to);
    }
    d.trim().to_string()
}

/// A column definition without its CHECK, and the CHECK's expression.
fn take_check(definition: &str) -> (String, Option<String>) {
    let Some(at) = definition.find("check (") else {
        return (normalise(definition), None);
    };
    let open = at + "check ".len();
    let mut depth = 0;
    let mut close = definition.len();
    for (i, ch) in definition[open..].char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    close = open + i + 1;
                    break;
                }
            }
            _ => {}
        }
    }
    let rest = format!("{} {}", &definition[..at], &definition[close..]);
    (
        normalise(
            rest.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .as_str(),
        ),
        Some(normalise(&definition[open..close])),
    )
}

fn strip_words<'a>(s: &'a str, words: &str) -> Option<&'a str> {
    s.strip_prefix(words).map(str::trim_start)
}

fn first_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find([' ', '(']) {
        Some(i) => (&s[..i], s[i..].trim_start()),
        None => (s, ""),
    }
}

impl Schema {
    fn add_column(&mut self, table: &str, item: &str) {
        let (column, definition) = first_word(item);
        let (definition, check) = take_check(definition);
        self.tables
            .entry(table.to_string())
            .or_default()
            .insert(column.to_string(), definition);
        if let Some(check) = check {
            self.checks
                .insert((table.to_string(), column.to_string()), check);
        }
    }

    /// PostgreSQL names a column's CHECK `<table>_<column>_check`.
    fn column_of_check(&self, table: &str, constraint: &str) -> Option<String> {
        let column = constraint
            .strip_prefix(&format!("{table}_"))?
            .strip_suffix("_check")?;
        Some(column.to_string())
    }

    fn alter(&mut self, table: &str, action: &str) -> Result<(), String> {
        if let Some(column) = strip_words(action, "add column") {
            self.add_column(table, column);
        } else if let Some(new_name) = strip_words(action, "rename to") {
            let columns = self.tables.remove(table).unwrap_or_default();
            self.tables.insert(new_name.to_string(), columns);
            let moved: Vec<_> = self
                .checks
                .keys()
                .filter(|(t, _)| t == table)
                .cloned()
                .collect();
            for key in moved {
                let check = self.checks.remove(&key).unwrap();
                self.checks.insert((new_name.to_string(), key.1), check);
            }
        } else if let Some(rest) = strip_words(action, "rename column") {
            let (from, rest) = first_word(rest);
            let to = strip_words(rest, "to").ok_or("rename column without to")?;
            let columns = self.tables.entry(table.to_string()).or_default();
            let definition = columns.remove(from).ok_or("rename of an unknown column")?;
            columns.insert(to.to_string(), definition);
        } else if let Some(column) = strip_words(action, "drop column") {
            self.tables
                .entry(table.to_string())
                .or_default()
                .remove(column);
            self.checks.remove(&(table.to_string(), column.to_string()));
        } else if let Some(name) = strip_words(action, "drop constraint") {
            let column = self.column_of_check(table, name).ok_or_else(|| {
                format!("drop of a constraint not named <table>_<column>_check: {name}")
            })?;
            self.checks.remove(&(table.to_string(), column));
        } else if let Some(rest) = strip_words(action, "add constraint") {
            let (name, rest) = first_word(rest);
            let column = self
                .column_of_check(table, name)
                .ok_or_else(|| format!("a constraint not named <table>_<column>_check: {name}"))?;
            let (_, check) = take_check(rest);
            self.checks.insert(
                (table.to_string(), column),
                check.ok_or("add constraint without check")?,
            );
        } else {
            return Err(format!("alter table {table} {action}"));
        }
        Ok(())
    }

    fn apply(&mut self, statement: &str) -> Result<(), String> {
        let s = statement;
        if ["begin", "commit"].contains(&s)
            || ["insert ", "update ", "delete ", "pragma ", "select "]
                .iter()
                .any(|p| s.starts_with(p))
        {
            return Ok(());
        }
        if let Some(rest) = strip_words(s, "create table") {
            let rest = strip_words(rest, "if not exists").unwrap_or(rest);
            let (table, body) = first_word(rest);
            let body = body
                .strip_prefix('(')
                .and_then(|b| b.strip_suffix(')'))
                .ok_or("create table without a column list")?;
            self.tables.insert(table.to_string(), BTreeMap::new());
            for item in split_top_level(body) {
                let table_constraint = [
                    "primary key",
                    "unique",
                    "foreign key",
                    "check",
                    "constraint",
                ]
                .iter()
                .any(|k| item.starts_with(k));
                if !table_constraint {
                    self.add_column(table, &item);
                }
            }
        } else if let Some(rest) = strip_words(s, "alter table") {
            let (table, actions) = first_word(rest);
            for action in split_top_level(actions) {
                self.alter(table, &action)?;
            }
        } else if let Some(rest) = strip_words(s, "drop table") {
            let table = strip_words(rest, "if exists").unwrap_or(rest);
            self.tables.remove(table);
            self.checks.retain(|(t, _), _| t != table);
        } else if let Some(rest) = strip_words(s, "create unique index")
            .map(|r| ("unique ", r))
            .or_else(|| strip_words(s, "create index").map(|r| ("", r)))
            .map(|(unique, r)| (unique, strip_words(r, "if not exists").unwrap_or(r)))
            .map(|(unique, r)| {
                let (name, on) = first_word(r);
                (name.to_string(), format!("{unique}{}", normalise(on)))
            })
        {
            self.indexes.insert(rest.0, rest.1);
        } else if let Some(rest) = strip_words(s, "drop index") {
            self.indexes
                .remove(strip_words(rest, "if exists").unwrap_or(rest));
        } else {
            return Err(s.to_string());
        }
        Ok(())
    }
}

/// The schema after each version of a tree: (version, schema).
fn replay(migrations: &[(String, String)]) -> Result<Vec<(String, Schema)>, String> {
    let mut schema = Schema::default();
    let mut after = Vec::new();
    for (version, up) in migrations {
        for statement in statements(up) {
            schema.apply(&statement).map_err(|s| {
                format!("{version}: a statement the lockstep check does not read: {s}")
            })?;
        }
        after.push((version.clone(), schema.clone()));
    }
    Ok(after)
}

/// The first place the two trees part, in words.
fn first_difference(sqlite: &[(String, Schema)], postgres: &[(String, Schema)]) -> Option<String> {
    for ((version, a), (_, b)) in sqlite.iter().zip(postgres) {
        for table in a.tables.keys().chain(b.tables.keys()) {
            let (ca, cb) = (a.tables.get(table), b.tables.get(table));
            if ca != cb {
                let empty = BTreeMap::new();
                let (ca, cb) = (ca.unwrap_or(&empty), cb.unwrap_or(&empty));
                for column in ca.keys().chain(cb.keys()) {
                    if ca.get(column) != cb.get(column) {
                        return Some(format!(
                            "after {version}, {table}.{column}: sqlite {:?}, postgres {:?}",
                            ca.get(column),
                            cb.get(column)
                        ));
                    }
                }
                return Some(format!(
                    "after {version}, table {table} is in one tree only"
                ));
            }
        }
        if a.checks != b.checks {
            let key = a
                .checks
                .keys()
                .chain(b.checks.keys())
                .find(|k| a.checks.get(*k) != b.checks.get(*k))
                .unwrap();
            return Some(format!(
                "after {version}, the check on {}.{}: sqlite {:?}, postgres {:?}",
                key.0,
                key.1,
                a.checks.get(key),
                b.checks.get(key)
            ));
        }
        if a.indexes != b.indexes {
            return Some(format!(
                "after {version}, indexes differ: sqlite {:?}, postgres {:?}",
                a.indexes, b.indexes
            ));
        }
    }
    None
}

fn tree(backend: &str) -> Vec<(String, String)> {
    crate::harness::migration_tree(backend)
        .into_iter()
        .map(|m| (m.version, m.up))
        .collect()
}

#[test]
fn the_two_migration_trees_build_the_same_schema_after_every_version() {
    let sqlite = replay(&tree("sqlite")).unwrap();
    let postgres = replay(&tree("postgres")).unwrap();
    assert!(
        sqlite.last().unwrap().1.tables.len() > 20,
        "the replay read the tables"
    );
    if let Some(difference) = first_difference(&sqlite, &postgres) {
        panic!("migrations/sqlite and migrations/postgres part: {difference}");
    }
}

#[test]
fn the_lockstep_check_catches_a_column_or_check_in_one_tree_only() {
    let base = "CREATE TABLE payouts (\n id INTEGER PRIMARY KEY NOT NULL,\n status TEXT NOT NULL CHECK (status IN ('pending')), -- a comment\n data BLOB\n);";
    let pg = "CREATE TABLE payouts (\n id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n status TEXT NOT NULL CHECK (status IN ('pending')),\n data BYTEA\n);";
    let v = |up: &str| vec![("v1".to_string(), up.to_string())];
    let same = first_difference(&replay(&v(base)).unwrap(), &replay(&v(pg)).unwrap());
    assert_eq!(same, None, "the dialects' differences are normalised");

    let mut sqlite = v(base);
    let mut postgres = v(pg);
    sqlite.push((
        "v2".into(),
        "ALTER TABLE payouts ADD COLUMN note TEXT;".into(),
    ));
    postgres.push(("v2".into(), "SELECT 1;".into()));
    let found = first_difference(&replay(&sqlite).unwrap(), &replay(&postgres).unwrap());
    assert!(found.unwrap().contains("payouts.note"));

    // SQLite rebuilds the table to widen a check; PostgreSQL swaps the constraint. Forgetting the swap fails.
    let rebuild = "CREATE TABLE payouts_new (id INTEGER PRIMARY KEY NOT NULL, status TEXT NOT NULL CHECK (status IN ('pending', 'cancelled')), data BLOB); INSERT INTO payouts_new SELECT * FROM payouts; DROP TABLE payouts; ALTER TABLE payouts_new RENAME TO payouts;";
    let swap = "ALTER TABLE payouts DROP CONSTRAINT payouts_status_check, ADD CONSTRAINT payouts_status_check CHECK (status IN ('pending', 'cancelled'));";
    let mut sqlite = v(base);
    sqlite.push(("v2".into(), rebuild.into()));
    let mut postgres = v(pg);
    postgres.push(("v2".into(), swap.into()));
    assert_eq!(
        first_difference(&replay(&sqlite).unwrap(), &replay(&postgres).unwrap()),
        None
    );
    postgres[1].1 = "SELECT 1;".into();
    let found = first_difference(&replay(&sqlite).unwrap(), &replay(&postgres).unwrap());
    assert!(found.unwrap().contains("payouts.status"));
}
