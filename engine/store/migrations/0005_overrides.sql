-- An override file attached to one integration (intake integrations override), applied
-- after customers/CUSTOMER/PROVIDER.yaml.
ALTER TABLE integrations ADD COLUMN override TEXT;
-- Records an interaction type's filter skipped.
ALTER TABLE sync_runs ADD COLUMN records_filtered INTEGER NOT NULL DEFAULT 0;
