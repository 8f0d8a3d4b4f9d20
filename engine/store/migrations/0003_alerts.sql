-- Failure policy and alerts (engine/alert). Timestamps are RFC 3339 UTC text.

-- A customer may receive its alerts on a webhook. The signing secret is sealed with
-- the secret box like credentials, bound to "customer:" + id; webhook_key_id names
-- the key that sealed it.
ALTER TABLE customers ADD COLUMN webhook_url TEXT;
ALTER TABLE customers ADD COLUMN webhook_secret BLOB;
ALTER TABLE customers ADD COLUMN webhook_key_id TEXT;

-- Why and since when an integration is disabled (status = 'disabled'); NULL when enabled.
ALTER TABLE integrations ADD COLUMN disabled_at TEXT;
ALTER TABLE integrations ADD COLUMN disabled_reason TEXT;

CREATE TABLE alerts (
  id               INTEGER PRIMARY KEY,
  created_at       TEXT NOT NULL,
  kind             TEXT NOT NULL,   -- sync_failed | integration_disabled | recovered
  customer_id      TEXT NOT NULL,
  integration_id   TEXT NOT NULL,
  provider         TEXT NOT NULL DEFAULT '',
  interaction_type TEXT NOT NULL DEFAULT '',
  sync_run_id      INTEGER,         -- the run that raised it
  class            TEXT,            -- failure class of that run (auth, permanent, ...)
  message          TEXT NOT NULL    -- the run's error, secrets already redacted
);
-- Kept as history: no foreign keys, so alerts outlive the rows they talk about.
CREATE INDEX alerts_integration ON alerts(integration_id, id);
CREATE INDEX alerts_customer ON alerts(customer_id, id);

-- One row per alert and webhook it is sent to.
CREATE TABLE alert_deliveries (
  id              INTEGER PRIMARY KEY,
  alert_id        INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
  target          TEXT NOT NULL,      -- operator | customer
  url             TEXT NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  delivered_at    TEXT,               -- set on a 2xx answer
  last_error      TEXT,               -- why the last attempt failed (no secrets)
  next_attempt_at TEXT,               -- when a flush retries it; NULL once delivered or given up
  UNIQUE (alert_id, target)
);
CREATE INDEX alert_deliveries_due ON alert_deliveries(next_attempt_at);
