//! Insyn's database schema as sea-orm migrations, shared by SQLite and PostgreSQL.
