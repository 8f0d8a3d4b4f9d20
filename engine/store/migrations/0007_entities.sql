-- A customer's own companies and people, resolved from every provider's records.
CREATE TABLE accounts (
  id          INTEGER PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers(id),
  domain      TEXT,                       -- registrable domain: the matching key
  name        TEXT,
  name_key    TEXT,                       -- normalised name, for matching by name
  data        TEXT NOT NULL DEFAULT '{}', -- attributes, merged across providers
  sources     TEXT NOT NULL DEFAULT '{}', -- per attribute: the provider and time of the value kept
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX accounts_domain ON accounts(customer_id, domain) WHERE domain IS NOT NULL;
CREATE INDEX accounts_name ON accounts(customer_id, name_key);

CREATE TABLE contacts (
  id          INTEGER PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers(id),
  email       TEXT,                       -- normalised: the matching key
  name        TEXT,
  account_id  INTEGER REFERENCES accounts(id),
  data        TEXT NOT NULL DEFAULT '{}',
  sources     TEXT NOT NULL DEFAULT '{}',
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX contacts_email ON contacts(customer_id, email) WHERE email IS NOT NULL;
CREATE INDEX contacts_account ON contacts(account_id);

-- The crosswalk: which provider record is which account or contact.
CREATE TABLE entity_links (
  id             INTEGER PRIMARY KEY,
  customer_id    TEXT NOT NULL,
  entity         TEXT NOT NULL,   -- account | contact
  entity_id      INTEGER NOT NULL,
  provider       TEXT NOT NULL,
  integration_id TEXT NOT NULL,
  external_id    TEXT NOT NULL,
  matched_by     TEXT NOT NULL,   -- crosswalk | domain | email | name | created
  created_at     TEXT NOT NULL,
  UNIQUE (customer_id, entity, provider, external_id)
);
CREATE INDEX entity_links_entity ON entity_links(entity, entity_id);

-- Records that match several candidates: never merged silently.
CREATE TABLE match_reviews (
  id             INTEGER PRIMARY KEY,
  customer_id    TEXT NOT NULL,
  entity         TEXT NOT NULL,
  provider       TEXT NOT NULL,
  integration_id TEXT NOT NULL,
  external_id    TEXT NOT NULL,
  reason         TEXT NOT NULL,
  candidates     TEXT NOT NULL,   -- JSON list of entity ids
  created_at     TEXT NOT NULL,
  resolved_at    TEXT,
  UNIQUE (customer_id, entity, provider, external_id)
);
