-- intake quarantine list filters by integration object and by run.
CREATE INDEX quarantine_object ON quarantine(integration_object_id, id);
CREATE INDEX quarantine_run ON quarantine(sync_run_id);
