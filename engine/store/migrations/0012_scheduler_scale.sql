-- Scheduler scale (docs/scheduler-scale.md): a claim and the loop's next wake-up read
-- indexes in due order and stop at the first usable row, instead of joining every
-- integration to its objects and sorting them (which cost tens of milliseconds per
-- claim at 100,000 integration objects).

-- 1 once an integration's objects exist (EnsureObject(s) set it). New integrations
-- (0) have nothing scheduled yet and are due at once; integrations_new finds them
-- without looking at every integration's objects.
ALTER TABLE integrations ADD COLUMN has_objects INTEGER NOT NULL DEFAULT 0;
UPDATE integrations SET has_objects = 1 WHERE EXISTS (SELECT 1 FROM integration_objects o WHERE o.integration_id = integrations.id);
CREATE INDEX integrations_new ON integrations(id) WHERE has_objects = 0;

-- Objects that never synced successfully go first; they are few (new ones, and ones
-- failing since their first run), so a claim looks at them through an index of their
-- own before it walks integration_objects_due.
CREATE INDEX integration_objects_never ON integration_objects(next_due_at) WHERE last_synced_at IS NULL;

-- Disabled integrations leave the schedule (Never; enabling one makes its objects due
-- at once, store.SetIntegrationStatus): due objects of integrations disabled long ago
-- would otherwise stay first in integration_objects_due, and every claim and wake-up
-- would walk past them.
UPDATE integration_objects SET next_due_at = '9999-12-31T23:59:59.999Z'
WHERE integration_id IN (SELECT id FROM integrations WHERE status <> 'enabled');
