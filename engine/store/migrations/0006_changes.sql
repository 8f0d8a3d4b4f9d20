-- The change feed (engine/store/changes.go, docs/changes.md): one row per insert,
-- update or delete of an interaction, account or contact, written in the same
-- transaction as the change itself, so a change is in the feed if and only if it
-- committed.
--
-- AUTOINCREMENT (not a plain INTEGER PRIMARY KEY) because a plain rowid may be reused
-- after the highest rows are deleted (pruning the feed, say): a consumer that remembers
-- "I have read up to seq 812" would then silently skip, or misread, the new change that
-- took number 812. With AUTOINCREMENT, SQLite never hands out a seq twice, so a
-- remembered position always means the same point in history.
CREATE TABLE changes (
  seq              INTEGER PRIMARY KEY AUTOINCREMENT,
  at               TEXT NOT NULL,      -- when the change committed, RFC 3339 UTC, fixed width
  entity           TEXT NOT NULL,      -- interaction | account | contact
  entity_id        INTEGER NOT NULL,   -- row id in interactions, accounts or contacts
  op               TEXT NOT NULL,      -- insert | update | delete
  customer_id      TEXT,
  integration_id   TEXT,               -- NULL for changes not made by one integration
  interaction_type TEXT,
  external_id      TEXT
);
-- Kept as history: no foreign keys, so a change outlives the row it talks about
-- (a delete must still be readable).
CREATE INDEX changes_customer ON changes(customer_id, seq);
