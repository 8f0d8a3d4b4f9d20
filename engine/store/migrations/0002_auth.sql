-- Token refresh across processes: credentials carry a version for compare-and-swap,
-- and a lease ensures one process at a time spends a (rotating) refresh token.
ALTER TABLE integrations ADD COLUMN credentials_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE integrations ADD COLUMN refresh_lock_owner TEXT;
ALTER TABLE integrations ADD COLUMN refresh_lock_until TEXT;
-- Why a run failed: auth, permanent, transient, rate_limited, bad_data.
ALTER TABLE sync_runs ADD COLUMN error_class TEXT;
