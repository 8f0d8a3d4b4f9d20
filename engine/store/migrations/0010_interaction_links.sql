-- What each interaction refers to (engine/store/links.go, docs/linking.md): one row
-- per interaction and role, holding the keys the record named and the account or
-- contact they resolved to, or why they did not. Unresolved rows are found again by
-- their keys (the partial indexes below) when a matching account or contact appears,
-- so the links end up the same whatever order the records arrived in.
CREATE TABLE interaction_links (
  id             INTEGER PRIMARY KEY,
  customer_id    TEXT NOT NULL,
  interaction_id INTEGER NOT NULL REFERENCES interactions(id) ON DELETE CASCADE,
  role           TEXT NOT NULL,   -- account | contact: what is referred to
  origin         TEXT NOT NULL,   -- ref (spec links) | contact (the account of the record's contact)
                                  -- | company (a contact record's company) | self (an unmatched update_only/link_only record)
  provider       TEXT NOT NULL,   -- the provider whose external ids ref_id holds
  ref_type       TEXT,            -- links.*.type: the interaction type of ref_id
  ref_id         TEXT,            -- the provider's external id of the account or contact
  ref_email      TEXT,            -- contact: normalised address
  ref_domain     TEXT,            -- account: registrable domain
  ref_name       TEXT,            -- a label for reports; never matched
  contact_id     INTEGER,         -- origin contact: the record's contact; company: the contact the record is
  entity_id      INTEGER,         -- the account or contact resolved to; NULL while unresolved
  resolved_by    TEXT,            -- crosswalk | domain | email | contact
  reason         TEXT,            -- while unresolved: not_found | ambiguous | no_account | contact_unresolved | unmatched
  detail         TEXT,            -- while unresolved: what was looked for
  match_keys     TEXT,            -- origin self: the record's match keys (JSON), to match it later
  updated_at     TEXT NOT NULL,
  UNIQUE (interaction_id, role)
);
-- An account's or contact's interactions (intake accounts show). Partial: the lookups
-- of unresolved rows below must not take it for theirs (entity_id IS NULL).
CREATE INDEX interaction_links_entity ON interaction_links(role, entity_id) WHERE entity_id IS NOT NULL;
-- Re-resolution: a new crosswalk link, a new account domain, a new contact address,
-- a contact whose account changed.
CREATE INDEX interaction_links_ref_id ON interaction_links(customer_id, role, provider, ref_id) WHERE ref_id IS NOT NULL;
CREATE INDEX interaction_links_domain ON interaction_links(customer_id, ref_domain) WHERE entity_id IS NULL;
CREATE INDEX interaction_links_email ON interaction_links(customer_id, ref_email) WHERE entity_id IS NULL;
CREATE INDEX interaction_links_contact ON interaction_links(contact_id) WHERE contact_id IS NOT NULL;
-- intake links unresolved.
CREATE INDEX interaction_links_unresolved ON interaction_links(customer_id, reason) WHERE entity_id IS NULL;

-- A digest of the references a stored record had when its rows were written: a record
-- whose content is unchanged but whose references differ (links changed in the spec or
-- an override) gets its rows rewritten without being stored again.
ALTER TABLE interactions ADD COLUMN links_hash TEXT;

-- Records of an update_only or link_only type that matched no account or contact.
ALTER TABLE sync_runs ADD COLUMN records_unmatched INTEGER NOT NULL DEFAULT 0;
