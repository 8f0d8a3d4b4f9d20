-- Connecting customers with the OAuth2 authorization-code flow (intake oauth ...).
-- oauth_apps: the operator's app registration with each provider. The client secret
-- is sealed with the secret key, bound to "oauth_app:" || provider.
CREATE TABLE oauth_apps (
  provider      TEXT PRIMARY KEY,
  client_id     TEXT NOT NULL,
  client_secret BLOB NOT NULL,   -- AES-256-GCM sealed
  key_id        TEXT NOT NULL,   -- which key sealed client_secret
  redirect_url  TEXT,            -- NULL: <public URL>/oauth/callback of the server
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL
);

-- oauth_states: one row per started authorization, found again by the state the
-- provider echoes to the callback. Single use (used_at), valid until expires_at.
-- The PKCE code verifier is sealed, bound to "oauth_state:" || state, and erased
-- when the state is used.
CREATE TABLE oauth_states (
  state          TEXT PRIMARY KEY,   -- 32 random bytes, base64url
  provider       TEXT NOT NULL,
  customer_id    TEXT NOT NULL,
  integration_id TEXT,               -- NULL: CUSTOMER-PROVIDER
  config         TEXT NOT NULL,      -- JSON object, not secret
  code_verifier  BLOB,               -- AES-256-GCM sealed; NULL once used
  redirect_url   TEXT NOT NULL,      -- the redirect_uri sent to authorize, sent again to the token endpoint
  created_at     TEXT NOT NULL,
  expires_at     TEXT NOT NULL,
  used_at        TEXT
);
CREATE INDEX oauth_states_expires ON oauth_states(expires_at);
