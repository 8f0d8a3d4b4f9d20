-- intake schema v1. Timestamps are RFC 3339 UTC text so that they sort as they read,
-- on SQLite and PostgreSQL alike.
CREATE TABLE customers (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  created_at TEXT NOT NULL
);

CREATE TABLE integrations (
  id          TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers(id),
  provider    TEXT NOT NULL,
  status      TEXT NOT NULL DEFAULT 'enabled',   -- enabled | disabled
  config      TEXT NOT NULL,                     -- JSON object, not secret
  credentials BLOB,                              -- AES-256-GCM sealed JSON object
  key_id      TEXT,                              -- which key sealed credentials
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);
CREATE INDEX integrations_customer ON integrations(customer_id);

CREATE TABLE integration_objects (
  id                   INTEGER PRIMARY KEY,
  integration_id       TEXT NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
  interaction_type     TEXT NOT NULL,
  cursor               TEXT,      -- incremental cursor of the last committed page or run
  pending_cursor       TEXT,      -- highest cursor seen by the running sync (unsorted feeds)
  last_synced_at       TEXT,      -- end of the last successful sync
  last_attempt_at      TEXT,
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  UNIQUE (integration_id, interaction_type)
);

CREATE TABLE sync_runs (
  id                    INTEGER PRIMARY KEY,
  integration_object_id INTEGER NOT NULL REFERENCES integration_objects(id) ON DELETE CASCADE,
  started_at            TEXT NOT NULL,
  finished_at           TEXT,
  status                TEXT NOT NULL,   -- running | succeeded | failed | cancelled
  cursor_before         TEXT,
  cursor_after          TEXT,
  pages                 INTEGER NOT NULL DEFAULT 0,
  records_new           INTEGER NOT NULL DEFAULT 0,
  records_updated       INTEGER NOT NULL DEFAULT 0,
  records_unchanged     INTEGER NOT NULL DEFAULT 0,
  records_quarantined   INTEGER NOT NULL DEFAULT 0,
  error                 TEXT
);
CREATE INDEX sync_runs_object ON sync_runs(integration_object_id, started_at);

CREATE TABLE interactions (
  id                    INTEGER PRIMARY KEY,
  integration_object_id INTEGER NOT NULL REFERENCES integration_objects(id) ON DELETE CASCADE,
  external_id           TEXT NOT NULL,
  kind                  TEXT NOT NULL,
  data                  TEXT NOT NULL,   -- mapped record, JSON
  raw                   TEXT NOT NULL,   -- record as the provider sent it, JSON
  content_hash          TEXT NOT NULL,   -- sha256 of data and raw; unchanged records are skipped
  source_updated_at     TEXT,            -- the record's incremental cursor value
  first_seen_at         TEXT NOT NULL,
  updated_at            TEXT NOT NULL,   -- when this row last changed
  sync_run_id           INTEGER,
  UNIQUE (integration_object_id, external_id)
);
CREATE INDEX interactions_kind ON interactions(kind, updated_at);

CREATE TABLE quarantine (
  id                    INTEGER PRIMARY KEY,
  integration_object_id INTEGER NOT NULL REFERENCES integration_objects(id) ON DELETE CASCADE,
  sync_run_id           INTEGER,
  external_id           TEXT,
  reason                TEXT NOT NULL,
  raw                   TEXT NOT NULL,
  created_at            TEXT NOT NULL
);
