-- The daemon (intake run): the database is its queue, so that a restart, or another
-- daemon on the same PostgreSQL database, loses nothing (engine/schedule, docs/operations.md).

-- When the scheduler runs each integration object next: last successful sync +
-- frequency + jitter, or a backoff after failures. NULL: not scheduled yet (due at
-- once); 9999-12-31T23:59:59.999Z: never (its interaction type left the spec).
ALTER TABLE integration_objects ADD COLUMN next_due_at TEXT;
-- A sync-now request (POST /v1/integrations/{id}/sync) that arrived while the object
-- was running: it runs again as soon as that run ends.
ALTER TABLE integration_objects ADD COLUMN sync_requested_at TEXT;
CREATE INDEX integration_objects_due ON integration_objects(next_due_at);

-- The lease of the daemon syncing an integration (one lease covers all its types, so
-- its rate limit holds across them). A lease that is not renewed by heartbeats
-- expires, and another daemon takes the integration over.
ALTER TABLE integrations ADD COLUMN lease_owner TEXT;
ALTER TABLE integrations ADD COLUMN lease_expires_at TEXT;
ALTER TABLE integrations ADD COLUMN lease_heartbeat_at TEXT;
CREATE INDEX integrations_lease ON integrations(lease_expires_at);

-- Which daemon ran a sync (its lease owner id); NULL for intake sync.
ALTER TABLE sync_runs ADD COLUMN owner TEXT;
