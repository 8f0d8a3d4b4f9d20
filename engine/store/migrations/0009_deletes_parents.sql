-- Deletions (spec key deletes) and parent/child types (spec key parent).
--
-- A record the provider deleted keeps its row: deleted_at says since when it is gone
-- (RFC 3339 UTC, fixed width); NULL while it exists. A record that reappears gets
-- NULL again. The change feed records the transition as op delete.
ALTER TABLE interactions ADD COLUMN deleted_at TEXT;
-- What a sync deleted: intake interactions list --deleted only, and reconcile's scan
-- of an object's live rows (the unique index on object + external id serves that).
CREATE INDEX interactions_deleted ON interactions(integration_object_id, deleted_at) WHERE deleted_at IS NOT NULL;

-- Rows a run marked deleted (flag, deleted-records endpoint or reconcile). Not part of
-- the new/updated/unchanged/quarantined/filtered split of the records it read.
ALTER TABLE sync_runs ADD COLUMN records_deleted INTEGER NOT NULL DEFAULT 0;

-- A child type's records point at the parent record they were fetched for (row id in
-- interactions; NULL for other types), so that re-reading a parent's children in full
-- can tell which of them are gone (deletes.reconcile on a child type).
ALTER TABLE interactions ADD COLUMN parent_id INTEGER;
CREATE INDEX interactions_parent ON interactions(integration_object_id, parent_id) WHERE parent_id IS NOT NULL;

-- A child type iterates the parents changed since its last successful sync: the
-- changes of one integration object after a position.
CREATE INDEX changes_object ON changes(integration_id, interaction_type, seq);
-- Its first sync visits every stored parent in row id order, a batch at a time.
CREATE INDEX interactions_object_id ON interactions(integration_object_id, id);
