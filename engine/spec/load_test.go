package spec_test

// The tests use only the standard library: testify's assert package needs a go.sum
// entry (go.yaml.in/yaml/v3) that this module does not carry.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/intakehq/intake/engine/spec"
)

var update = flag.Bool("update", false, "rewrite testdata/specs/bad/expected.golden from the current loader output")

const (
	// The bad specs live in the repository's testdata/, shared with other tests; errors
	// name them by their path from the repository root.
	repoRoot   = "../.."
	badDir     = "testdata/specs/bad"
	goldenFile = "testdata/specs/bad/expected.golden"
)

// badSpecs is the Prometheus-style table of broken connectors: each file under
// testdata/specs/bad is a small realistic spec with exactly one mistake, and want is the
// full error text (every line) the loader prints for it. The same messages are kept,
// one section per file, in testdata/specs/bad/expected.golden (go test -run TestBadSpecs
// -update rewrites it).
var badSpecs = []struct {
	file string // under testdata/specs/bad
	want string
}{
	// Unknown keys.
	{"unknown_top_key.bad.yaml",
		`testdata/specs/bad/unknown_top_key.bad.yaml:3:1: descripton: unknown key "descripton" (did you mean "description"?)`},
	{"unknown_request_key.bad.yaml",
		`testdata/specs/bad/unknown_request_key.bad.yaml:13:7: interaction_types.tickets.request.parms: unknown key "parms" (did you mean "params"?)`},
	{"unknown_key_no_match.bad.yaml",
		`testdata/specs/bad/unknown_key_no_match.bad.yaml:17:7: interaction_types.tickets.pagination.follow_redirects: unknown key "follow_redirects" (allowed: has_more, in, limit, limit_param, max_pages, next, param, rel, start, stop, stop_on_short_page, total, type)`},
	{"field_key_typo.bad.yaml",
		`testdata/specs/bad/field_key_typo.bad.yaml:5:5: credentials.token.requried: unknown key "requried" (did you mean "required"?)`},

	// Wrong types.
	{"auth_string.bad.yaml",
		`testdata/specs/bad/auth_string.bad.yaml:6:7: auth: must be a mapping, not a string`},
	{"records_mapping.bad.yaml",
		`testdata/specs/bad/records_mapping.bad.yaml:14:7: interaction_types.tickets.records: must be a string, not a mapping`},
	{"field_null.bad.yaml",
		`testdata/specs/bad/field_null.bad.yaml:16:15: interaction_types.tickets.fields.subject: must be a string, not null`},

	// Missing required keys.
	{"missing_records.bad.yaml",
		`testdata/specs/bad/missing_records.bad.yaml:9:3: interaction_types.tickets: missing required key "records"`},
	{"missing_id.bad.yaml",
		`testdata/specs/bad/missing_id.bad.yaml:9:3: interaction_types.tickets: missing required key "id"`},
	{"missing_kind.bad.yaml",
		`testdata/specs/bad/missing_kind.bad.yaml:9:3: interaction_types.tickets: missing required key "kind"`},
	{"missing_provider.bad.yaml",
		`testdata/specs/bad/missing_provider.bad.yaml:1:1: missing required key "provider"`},
	{"no_interaction_types.bad.yaml",
		`testdata/specs/bad/no_interaction_types.bad.yaml:8:20: interaction_types: must have at least 1 entry`},

	// Enums and patterns.
	{"bad_auth_type.bad.yaml",
		`testdata/specs/bad/bad_auth_type.bad.yaml:7:9: auth.type: "oauth" is not one of: none, api_key, bearer, basic, oauth2, session`},
	{"bad_pagination_type.bad.yaml",
		`testdata/specs/bad/bad_pagination_type.bad.yaml:16:13: interaction_types.tickets.pagination.type: "token" is not one of: none, offset, page, cursor, next_url, link, auto`},
	{"bad_method.bad.yaml",
		`testdata/specs/bad/bad_method.bad.yaml:12:15: interaction_types.tickets.request.method: "get" is not one of: GET, POST, PUT, PATCH`},
	{"field_type_enum.bad.yaml",
		`testdata/specs/bad/field_type_enum.bad.yaml:4:11: config.page_size.type: "int" is not one of: string, integer, number, boolean`},
	{"bad_provider.bad.yaml",
		`testdata/specs/bad/bad_provider.bad.yaml:1:11: provider: "Help Desk" does not match ^[a-z][a-z0-9_-]*$`},
	{"bad_duration.bad.yaml",
		`testdata/specs/bad/bad_duration.bad.yaml:8:13: sync_every: invalid duration "3 hours": use a number and a unit (ms, s, m, h, d), e.g. 30s or 1h30m`},

	// jq that does not compile: the column points at the offending token.
	{"jq_records.bad.yaml",
		`testdata/specs/bad/jq_records.bad.yaml:13:44: interaction_types.tickets.records: invalid jq ".tickets[] | select(.status = = \"open\")": unexpected token "="`},
	{"jq_field.bad.yaml",
		`testdata/specs/bad/jq_field.bad.yaml:17:66: interaction_types.tickets.fields.requester: invalid jq "{email: .requester.email, name: .requester.name": unexpected EOF`},
	{"jq_next.bad.yaml",
		`testdata/specs/bad/jq_next.bad.yaml:17:31: interaction_types.tickets.pagination.next: invalid jq ".meta.after_cursor]": unexpected token "]"`},

	// Templates.
	{"template_unterminated.bad.yaml",
		`testdata/specs/bad/template_unterminated.bad.yaml:8:19: base_url: unterminated ${ in "https://${ .config.subdomain.helpdesk.example/v2"`},
	{"template_jq_error.bad.yaml",
		`testdata/specs/bad/template_jq_error.bad.yaml:14:49: interaction_types.tickets.request.params.since: invalid jq " .cursor | strftime(\"%Y-%m-%d\" ": unexpected EOF`},
	{"relative_no_base.bad.yaml",
		`testdata/specs/bad/relative_no_base.bad.yaml:11:13: interaction_types.tickets.request.path: relative path "/tickets" needs a base_url at the top of the spec`},

	// Auth.
	{"api_key_no_name.bad.yaml",
		`testdata/specs/bad/api_key_no_name.bad.yaml:6:1: auth: auth type api_key needs name (the header or query parameter that carries the key)`},
	{"auth_key_unused.bad.yaml",
		`testdata/specs/bad/auth_key_unused.bad.yaml:10:3: auth.token: not used by auth type basic`},

	// Pagination.
	{"pagination_key_unused.bad.yaml",
		`testdata/specs/bad/pagination_key_unused.bad.yaml:19:7: interaction_types.tickets.pagination.next: not used by pagination type offset`},
	{"cursor_no_next.bad.yaml",
		`testdata/specs/bad/cursor_no_next.bad.yaml:15:5: interaction_types.tickets.pagination: cursor pagination needs next: jq over the body that yields the next page's token`},
	{"offset_no_limit.bad.yaml",
		`testdata/specs/bad/offset_no_limit.bad.yaml:15:5: interaction_types.tickets.pagination: offset pagination needs limit and limit_param: the offset advances by the page size`},
	{"limit_no_limit_param.bad.yaml",
		`testdata/specs/bad/limit_no_limit_param.bad.yaml:18:7: interaction_types.tickets.pagination.limit: limit needs limit_param, the parameter that carries the page size`},

	// Interaction types, requests and incremental sync.
	{"get_with_body.bad.yaml",
		`testdata/specs/bad/get_with_body.bad.yaml:13:7: interaction_types.tickets.request.body: a GET request has no body; set method: POST`},
	{"incremental_bad_format.bad.yaml",
		`testdata/specs/bad/incremental_bad_format.bad.yaml:18:15: interaction_types.tickets.incremental.format: "YYYY-MM-DD" is not rfc3339, unix, unix_ms, integer or a Go time layout that keeps the date (e.g. 2006-01-02T15:04:05Z07:00)`},
	{"incremental_bad_start.bad.yaml",
		`testdata/specs/bad/incremental_bad_start.bad.yaml:18:14: interaction_types.tickets.incremental.start: cannot read "last tuesday" as a time in format rfc3339`},
	{"param_clash.bad.yaml",
		`testdata/specs/bad/param_clash.bad.yaml:19:14: interaction_types.tickets.incremental.param: request.params already sets "updated_since"; use one or the other`},

	// Links to accounts and contacts, match modes.
	{"link_unknown_type.bad.yaml",
		`testdata/specs/bad/link_unknown_type.bad.yaml:27:15: interaction_types.tickets.links.account.type: this spec has no interaction type "organisations" (did you mean organizations?)`},
	{"link_wrong_entity.bad.yaml",
		`testdata/specs/bad/link_wrong_entity.bad.yaml:33:15: interaction_types.tickets.links.contact.type: interaction type "organizations" does not resolve to contacts (its match entity is account); type names the type whose records' ids id holds`},
	{"link_on_account.bad.yaml",
		`testdata/specs/bad/link_on_account.bad.yaml:19:5: interaction_types.companies.links: links are for records that refer to accounts and contacts (tickets, deals, tasks); the records of this type are accounts themselves (a contact's company is match.account_ref)`},
	{"link_no_keys.bad.yaml",
		`testdata/specs/bad/link_no_keys.bad.yaml:19:7: interaction_types.deals.links.account: needs id, domain or both: the keys that name the account (name is only a label)`},
	{"link_contact_domain.bad.yaml",
		`testdata/specs/bad/link_contact_domain.bad.yaml:20:9: interaction_types.tasks.links.contact.domain: unknown key "domain" (allowed: email, id, name, type)`},
	{"link_bad_mode.bad.yaml",
		`testdata/specs/bad/link_bad_mode.bad.yaml:19:13: interaction_types.customers.match.mode: "update" is not one of: create, update_only, link_only`},
	{"link_mode_on_ticket.bad.yaml",
		`testdata/specs/bad/link_mode_on_ticket.bad.yaml:16:7: interaction_types.tickets.match.mode: mode applies to records that are accounts or contacts (match entity account or contact); those of kind ticket are neither`},

	// Config and credential fields.
	{"default_pattern.bad.yaml",
		`testdata/specs/bad/default_pattern.bad.yaml:6:14: config.region.default: "EU" does not match pattern [a-z]{2}`},
	{"required_with_default.bad.yaml",
		`testdata/specs/bad/required_with_default.bad.yaml:6:5: config.region.required: a field with a default is never missing; drop required or the default`},

	// The file itself.
	{"yaml_tab.bad.yaml",
		`testdata/specs/bad/yaml_tab.bad.yaml:12:1: invalid YAML: a tab cannot indent YAML; indent with spaces`},
	{"empty.bad.yaml",
		`testdata/specs/bad/empty.bad.yaml:1:1: empty file: a connector needs at least provider and interaction_types`},
	{"empty_document.bad.yaml",
		`testdata/specs/bad/empty_document.bad.yaml:1:1: empty file: a connector needs at least provider and interaction_types`},
	{"two_documents.bad.yaml",
		`testdata/specs/bad/two_documents.bad.yaml:15:1: a connector file holds one YAML document; found a second one`},

	// Positions inside templates, quoted and block scalars; auth defaults; values
	// quoted in messages; YAML syntax located by token.
	{"bad_type_name.bad.yaml",
		`testdata/specs/bad/bad_type_name.bad.yaml:9:3: interaction_types.Tickets: name "Tickets" must be lower case letters, digits and _ and start with a letter`},
	{"config_typo.bad.yaml",
		`testdata/specs/bad/config_typo.bad.yaml:9:19: base_url: ${ .config.subdomian }: config.subdomian is not declared (did you mean config.subdomain?)`},
	{"template_unknown_field.bad.yaml",
		`testdata/specs/bad/template_unknown_field.bad.yaml:12:22: interaction_types.ticket_comments.request.path: ${ .parent.id }: the interaction type has no parent section; add parent: {type: TYPE} to iterate the records of another type`},
	{"two_segments.bad.yaml",
		`testdata/specs/bad/two_segments.bad.yaml:15:46: interaction_types.view_comments.request.path: ${ .parent.id }: the interaction type has no parent section; add parent: {type: TYPE} to iterate the records of another type`},
	{"credentials_in_request.bad.yaml",
		`testdata/specs/bad/credentials_in_request.bad.yaml:14:20: interaction_types.tickets.request.params.api_token: ${ .credentials.token }: unknown context field "credentials" (available here: config, cursor, page, now)`},
	{"page_typo.bad.yaml",
		`testdata/specs/bad/page_typo.bad.yaml:14:15: interaction_types.tickets.request.params.page: ${ .page.nubmer }: page.nubmer is not declared (did you mean page.number?)`},
	{"body_unknown_field.bad.yaml",
		`testdata/specs/bad/body_unknown_field.bad.yaml:16:26: interaction_types.tickets.request.body.filter.updated_after: ${ .since }: unknown context field "since" (available here: config, cursor, page, now)`},
	{"headers_cursor.bad.yaml",
		`testdata/specs/bad/headers_cursor.bad.yaml:9:12: headers.X-Since: ${ .cursor }: unknown context field "cursor" (available here: config, credentials, now)`},
	{"bearer_no_token_cred.bad.yaml",
		`testdata/specs/bad/bearer_no_token_cred.bad.yaml:6:1: auth: auth type bearer reads credentials.token by default; declare it under credentials or set the value explicitly`},
	{"cursor_without_incremental.bad.yaml",
		`testdata/specs/bad/cursor_without_incremental.bad.yaml:14:24: interaction_types.tickets.request.params.updated_since: uses ${ .cursor } but the interaction type has no incremental section`},
	{"body_cursor.bad.yaml",
		`testdata/specs/bad/body_cursor.bad.yaml:15:24: interaction_types.tickets.request.body.updated_after: uses ${ .cursor } but the interaction type has no incremental section`},
	{"default_type.bad.yaml",
		`testdata/specs/bad/default_type.bad.yaml:6:14: config.page_size.default: "fifty" is not of type integer`},
	{"default_quoted_number.bad.yaml",
		`testdata/specs/bad/default_quoted_number.bad.yaml:5:14: config.page_size.default: "50" is not of type integer`},
	{"empty_records.bad.yaml",
		`testdata/specs/bad/empty_records.bad.yaml:13:14: interaction_types.tickets.records: must not be empty`},
	{"retries_too_many.bad.yaml",
		`testdata/specs/bad/retries_too_many.bad.yaml:8:10: retries: must be at most 20, not 50`},
	{"timeout_number.bad.yaml",
		`testdata/specs/bad/timeout_number.bad.yaml:8:10: timeout: invalid duration 30: use a number and a unit (ms, s, m, h, d), e.g. 30s or 1h30m`},
	{"merge_key.bad.yaml",
		`testdata/specs/bad/merge_key.bad.yaml:16:5: interaction_types.archived_tickets: YAML merge keys (<<) are not supported; repeat the keys or use an alias for the whole value`},
	{"yaml_alias_cycle.bad.yaml",
		`testdata/specs/bad/yaml_alias_cycle.bad.yaml:16:15: alias *ticket is inside the value it names (&ticket, line 9); a value cannot contain itself`},
	{"yaml_alias_bomb.bad.yaml",
		`testdata/specs/bad/yaml_alias_bomb.bad.yaml:13:14: aliases add more than 10000 values to the file once expanded (nested aliases multiply); share fewer values`},
	{"multiline_jq.bad.yaml",
		`testdata/specs/bad/multiline_jq.bad.yaml:20:9: interaction_types.tickets.fields.requester: invalid jq: unexpected token "}"`},
	{"jq_escaped.bad.yaml",
		`testdata/specs/bad/jq_escaped.bad.yaml:13:58: interaction_types.tickets.records: invalid jq ".tickets[] | select(.status == \"open\") | ]": unexpected token "]"`},
	{"yaml_syntax.bad.yaml",
		`testdata/specs/bad/yaml_syntax.bad.yaml:13:6: invalid YAML: value is not allowed in this context`},
	{"yaml_quote.bad.yaml",
		`testdata/specs/bad/yaml_quote.bad.yaml:12:13: invalid YAML: could not find end character of double-quoted text`},
	{"bad_regexp.bad.yaml",
		"testdata/specs/bad/bad_regexp.bad.yaml:5:14: config.subdomain.pattern: invalid regular expression: error parsing regexp: missing closing ]: `[a-z0-9-+`"},
	{"name_in_both_sections.bad.yaml",
		`testdata/specs/bad/name_in_both_sections.bad.yaml:6:3: credentials.token: "token" is also declared under config; a value is either config or a credential, so give one of them another name`},

	// Pagination placement, stop conditions and response bodies (workstream A).
	{"page_body_with_get.bad.yaml",
		`testdata/specs/bad/page_body_with_get.bad.yaml:17:11: interaction_types.tickets.pagination.in: in: body needs a request body, and a GET request has none; set request.method: POST`},
	{"page_in_body_not_mapping.bad.yaml",
		`testdata/specs/bad/page_in_body_not_mapping.bad.yaml:19:11: interaction_types.tickets.pagination.in: in: body puts param into the JSON object of request.body, which is not a mapping`},
	{"page_body_path.bad.yaml",
		`testdata/specs/bad/page_body_path.bad.yaml:21:14: interaction_types.tickets.pagination.param: "variables..after" is not a dotted path into the body (e.g. variables.after): a segment is empty`},
	{"page_header_no_param.bad.yaml",
		`testdata/specs/bad/page_header_no_param.bad.yaml:15:5: interaction_types.tickets.pagination: cursor pagination with in: header needs param: the header that carries the token (or put ${ .page.token } in the request yourself)`},
	{"page_has_more_none.bad.yaml",
		`testdata/specs/bad/page_has_more_none.bad.yaml:17:7: interaction_types.tickets.pagination.has_more: not used by pagination type none`},
	{"page_in_link.bad.yaml",
		`testdata/specs/bad/page_in_link.bad.yaml:17:7: interaction_types.tickets.pagination.in: not used by pagination type link`},
	{"page_total_cursor.bad.yaml",
		`testdata/specs/bad/page_total_cursor.bad.yaml:18:7: interaction_types.tickets.pagination.total: not used by pagination type cursor`},
	{"page_auto_next.bad.yaml",
		`testdata/specs/bad/page_auto_next.bad.yaml:17:7: interaction_types.tickets.pagination.next: not used by pagination type auto`},
	{"page_unknown_var.bad.yaml",
		`testdata/specs/bad/page_unknown_var.bad.yaml:18:13: interaction_types.tickets.pagination.stop: invalid jq "$response.end_of_stream": variable not defined: $response (available here: $headers, $records, $page)`},
	{"page_unknown_format.bad.yaml",
		`testdata/specs/bad/page_unknown_format.bad.yaml:16:15: interaction_types.tickets.response.format: "xml" is not one of: json, jsonl, csv`},
	{"page_csv_with_json.bad.yaml",
		`testdata/specs/bad/page_csv_with_json.bad.yaml:17:7: interaction_types.tickets.response.csv: csv options apply to format csv, not json`},
	{"page_csv_delimiter.bad.yaml",
		`testdata/specs/bad/page_csv_delimiter.bad.yaml:18:20: interaction_types.tickets.response.csv.delimiter: ";;" is not a delimiter: give one character other than a quote or a line break, e.g. ",", ";" or "\t"`},
	{"page_csv_columns_with_header.bad.yaml",
		`testdata/specs/bad/page_csv_columns_with_header.bad.yaml:18:9: interaction_types.tickets.response.csv.columns: columns name the columns of a body without a header row; set header: false, or drop columns to use the header row's names`},
	{"page_csv_encoding.bad.yaml",
		`testdata/specs/bad/page_csv_encoding.bad.yaml:18:19: interaction_types.tickets.response.csv.encoding: "ascii" is not one of: utf-8, utf-16, iso-8859-1, latin-1, windows-1252`},
	{"page_jsonl_next_body.bad.yaml",
		`testdata/specs/bad/page_jsonl_next_body.bad.yaml:19:13: interaction_types.tickets.pagination.next: response format jsonl has no document for next to read: use $headers or $page`},
	{"page_csv_records_var.bad.yaml",
		`testdata/specs/bad/page_csv_records_var.bad.yaml:21:13: interaction_types.tickets.pagination.stop: $records is not available with response format csv: its records stream and are not kept; use $headers, $page or stop_on_short_page`},
	// Sources other than HTTP (sql, files) and the jwt_bearer grant.
	{"src_files_bad_encoding.bad.yaml",
		`testdata/specs/bad/src_files_bad_encoding.bad.yaml:12:17: interaction_types.contacts.files.encoding: "ascii" is not one of: utf-8, utf-16, iso-8859-1, latin-1, windows-1252`},
	{"src_files_bad_quote.bad.yaml",
		`testdata/specs/bad/src_files_bad_quote.bad.yaml:12:14: interaction_types.contacts.files.quote: must be one ASCII character, e.g. "'", or none`},
	{"src_files_jsonl_delimiter.bad.yaml",
		`testdata/specs/bad/src_files_jsonl_delimiter.bad.yaml:13:7: interaction_types.events.files.delimiter: not used by format jsonl`},
	{"src_files_no_columns.bad.yaml",
		`testdata/specs/bad/src_files_no_columns.bad.yaml:12:7: interaction_types.contacts.files.header: a file without a header row needs columns: the names of its columns, in order`},
	{"src_files_without_section.bad.yaml",
		`testdata/specs/bad/src_files_without_section.bad.yaml:2:9: source: source files needs a files section: {location: a directory or an http(s) URL}`},
	{"src_jwt_no_issuer.bad.yaml",
		`testdata/specs/bad/src_jwt_no_issuer.bad.yaml:5:1: auth: grant jwt_bearer needs issuer: the assertion's iss claim, e.g. '${ .credentials.client_email }'`},
	{"src_query_credentials.bad.yaml",
		`testdata/specs/bad/src_query_credentials.bad.yaml:14:24: interaction_types.accounts.query.where: ${ .credentials.dsn }: unknown context field "credentials" (available here: config)`},
	{"src_query_cursor_expression.bad.yaml",
		`testdata/specs/bad/src_query_cursor_expression.bad.yaml:12:15: interaction_types.accounts.query.cursor: "COALESCE(updated_at, created_at)" is not a column name (letters, digits, _ and $, not starting with a digit); for an expression, compute it in a SELECT under from`},
	{"src_query_on_http.bad.yaml",
		`testdata/specs/bad/src_query_on_http.bad.yaml:9:5: interaction_types.tickets.query: not used by source http`},
	{"src_records_on_sql.bad.yaml",
		`testdata/specs/bad/src_records_on_sql.bad.yaml:11:5: interaction_types.accounts.records: not used by source sql`},
	{"src_sql_bad_driver.bad.yaml",
		`testdata/specs/bad/src_sql_bad_driver.bad.yaml:4:11: sql.driver: "oracle" is not one of: postgres, mysql`},
	{"src_sql_http_keys.bad.yaml",
		`testdata/specs/bad/src_sql_http_keys.bad.yaml:7:1: base_url: not used by source sql (it applies to HTTP APIs)`},
	{"src_sql_no_dsn.bad.yaml",
		`testdata/specs/bad/src_sql_no_dsn.bad.yaml:3:1: sql: source sql reads credentials.dsn by default; declare it under credentials or set sql.dsn`},
	{"src_select_string.bad.yaml",
		`testdata/specs/bad/src_select_string.bad.yaml:12:15: interaction_types.accounts.query.select: "id, name, updated_at": select is "*" (every column) or a list of column names, e.g. [id, name, updated_at]`},
	{"src_sql_without_section.bad.yaml",
		`testdata/specs/bad/src_sql_without_section.bad.yaml:2:9: source: source sql needs an sql section: {driver: postgres or mysql}`},
	// Incremental, parent/child and deletes (workstream B).
	{"inc_client_side_step.bad.yaml",
		`testdata/specs/bad/inc_client_side_step.bad.yaml:19:7: interaction_types.tickets.incremental.step: step slices the requests by time, but with client_side the API has no since filter and would return everything for each window`},
	{"inc_deletes_request_no_id.bad.yaml",
		`testdata/specs/bad/inc_deletes_request_no_id.bad.yaml:18:5: interaction_types.tickets.deletes: a deleted-records request needs id: jq over a deleted record yielding its external id`},
	{"inc_deletes_two_modes.bad.yaml",
		`testdata/specs/bad/inc_deletes_two_modes.bad.yaml:15:5: interaction_types.tickets.deletes: set one of flag, request or reconcile, not flag and reconcile: each is a whole way of finding deletions`},
	{"inc_deletes_without_request.bad.yaml",
		`testdata/specs/bad/inc_deletes_without_request.bad.yaml:15:5: interaction_types.tickets.deletes: records, id and pagination describe a deleted-records endpoint; add its request`},
	{"inc_desc_sorted.bad.yaml",
		`testdata/specs/bad/inc_desc_sorted.bad.yaml:19:7: interaction_types.tickets.incremental.sorted: sorted: true means oldest first; a newest-first feed (order: desc) commits its cursor when the sync succeeds, so drop sorted`},
	{"inc_end_param_clash.bad.yaml",
		`testdata/specs/bad/inc_end_param_clash.bad.yaml:20:18: interaction_types.tickets.incremental.end_param: request.params already sets "updated_before"; use one or the other`},
	{"inc_filter_typo.bad.yaml",
		`testdata/specs/bad/inc_filter_typo.bad.yaml:18:15: interaction_types.tickets.incremental.filter: "strict" is not one of: inclusive, exclusive`},
	{"inc_integer_bad_start.bad.yaml",
		`testdata/specs/bad/inc_integer_bad_start.bad.yaml:19:14: interaction_types.events.incremental.start: "2020-01-01" is not an integer (the cursor has format integer)`},
	{"inc_integer_step.bad.yaml",
		`testdata/specs/bad/inc_integer_step.bad.yaml:20:7: interaction_types.events.incremental.step: applies to time cursors only; this cursor has format integer`},
	{"inc_parent_cycle.bad.yaml",
		`testdata/specs/bad/inc_parent_cycle.bad.yaml:15:20: interaction_types.tickets.parent.type: the parents form a cycle: tickets -> comments -> tickets; some type must read its records from its own request`},
	{"inc_parent_field_clash.bad.yaml",
		`testdata/specs/bad/inc_parent_field_clash.bad.yaml:27:9: interaction_types.comments.parent.fields.ticket_id: "ticket_id" is also in fields; a mapped record has one value per name, so rename one of them`},
	{"inc_parent_incremental.bad.yaml",
		`testdata/specs/bad/inc_parent_incremental.bad.yaml:22:5: interaction_types.comments.incremental: a child type has no incremental section of its own: after the first sync, each sync fetches only the children of parents changed since the last successful one`},
	{"inc_parent_self.bad.yaml",
		`testdata/specs/bad/inc_parent_self.bad.yaml:15:20: interaction_types.folders.parent.type: "folders" is this type itself; a type cannot iterate its own records`},
	{"inc_parent_unknown.bad.yaml",
		`testdata/specs/bad/inc_parent_unknown.bad.yaml:22:13: interaction_types.comments.parent.type: provider helpdesk has no interaction type "tikets" (did you mean "tickets"?)`},
	{"inc_reconcile_incremental.bad.yaml",
		`testdata/specs/bad/inc_reconcile_incremental.bad.yaml:19:7: interaction_types.tickets.deletes.reconcile: reconcile marks what a sync did not see, so every sync must read everything; it cannot go with incremental`},
	{"inc_step_finer_than_format.bad.yaml",
		`testdata/specs/bad/inc_step_finer_than_format.bad.yaml:20:13: interaction_types.tickets.incremental.step: 6h is finer than the format "2006-01-02" can write (1d): windows would be sent with the same bounds`},
	{"inc_step_without_start.bad.yaml",
		`testdata/specs/bad/inc_step_without_start.bad.yaml:18:7: interaction_types.tickets.incremental.step: step needs start or initial_window: the first window starts there`},
	{"inc_window_typo.bad.yaml",
		`testdata/specs/bad/inc_window_typo.bad.yaml:15:14: interaction_types.tickets.request.params.to: ${ .window.stop }: window.stop is not declared (declared: start, end)`},
	{"inc_window_without_incremental.bad.yaml",
		`testdata/specs/bad/inc_window_without_incremental.bad.yaml:14:17: interaction_types.tickets.request.params.until: ${ .window.end }: .window is the range an incremental sync asks for, but the interaction type has no incremental section`},

	// Engine gaps found by the bundled providers (G).
	{"gap_remaining_without_reset.bad.yaml",
		`testdata/specs/bad/gap_remaining_without_reset.bad.yaml:4:1: rate_limit: remaining_header needs reset_header: at 0 remaining, the engine waits for the reset`},
	{"gap_endpoint_pattern.bad.yaml",
		`testdata/specs/bad/gap_endpoint_pattern.bad.yaml:8:5: rate_limit.endpoints./exports/tickets*: "/exports/tickets*" is not a path pattern: segments are names or *, such as /crm/v3/objects/*/search`},
	{"gap_endpoint_no_slash.bad.yaml",
		`testdata/specs/bad/gap_endpoint_no_slash.bad.yaml:7:5: rate_limit.endpoints.search: name "search" must be a path pattern starting with /, such as /crm/v3/objects/*/search`},
	{"gap_reset_format_unknown.bad.yaml",
		`testdata/specs/bad/gap_reset_format_unknown.bad.yaml:7:17: rate_limit.reset_format: "iso8601" is not one of: unix, unix_ms, seconds, http_date, rfc3339`},
}

func loadBad(t *testing.T, file string) (string, error) {
	t.Helper()
	path := badDir + "/" + file
	data, err := os.ReadFile(filepath.Join(repoRoot, path))
	if err != nil {
		t.Fatal(err)
	}
	c, err := spec.Load(path, data)
	if err == nil {
		return "", fmt.Errorf("%s loaded without error (provider %q)", path, c.Provider)
	}
	if c != nil {
		t.Errorf("%s: LoadFile returned a connector along with the error", path)
	}
	return err.Error(), err
}

func TestBadSpecs(t *testing.T) {
	var golden bytes.Buffer
	golden.WriteString("# Loader output for each testdata/specs/bad/*.bad.yaml in the badSpecs table of load_test.go.\n")
	golden.WriteString("# Rewrite with: go test ./engine/spec -run TestBadSpecs -update\n")
	for _, tc := range badSpecs {
		name := strings.TrimSuffix(tc.file, ".bad.yaml")
		got, err := loadBad(t, tc.file)
		fmt.Fprintf(&golden, "\n== %s\n%s\n", tc.file, got)
		t.Run(name, func(t *testing.T) {
			var errs spec.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, not spec.Errors: %v", err, err)
			}
			if got != tc.want {
				t.Errorf("LoadFile(%q):\n got: %s\nwant: %s", badDir+"/"+tc.file, got, tc.want)
			}
			for _, e := range errs {
				if e.File != badDir+"/"+tc.file {
					t.Errorf("Error.File = %q, want the path passed to LoadFile", e.File)
				}
				if e.Line <= 0 || e.Col <= 0 {
					t.Errorf("error without a position: %v", e)
				}
			}
			var one *spec.Error
			if !errors.As(err, &one) || one != errs[0] {
				t.Errorf("errors.As(*spec.Error) does not reach the first error")
			}
		})
	}
	if *update {
		if err := os.WriteFile(filepath.Join(repoRoot, goldenFile), golden.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(filepath.Join(repoRoot, goldenFile))
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(golden.Bytes(), want) {
		t.Errorf("%s is out of date or the loader output changed; diff the sections below and rerun with -update once the change is right\n%s",
			goldenFile, lineDiff(string(want), golden.String()))
	}
}

// lineDiff lists the lines only in want (-) or only in got (+), in order.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	inW, inG := map[string]int{}, map[string]int{}
	for _, l := range w {
		inW[l]++
	}
	for _, l := range g {
		inG[l]++
	}
	var b strings.Builder
	for _, l := range w {
		if inG[l] == 0 {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range g {
		if inW[l] == 0 {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}

// TestBadSpecFixtures keeps the fixtures and the tables in step: every file under
// testdata/specs/bad is in the table once and every table entry has its file.
func TestBadSpecFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot, badDir, "*.bad.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]int{}
	for _, tc := range badSpecs {
		listed[tc.file]++
	}
	for _, f := range files {
		base := filepath.Base(f)
		switch listed[base] {
		case 0:
			t.Errorf("%s is not in the badSpecs table", f)
		case 1:
		default:
			t.Errorf("%s is listed %d times", f, listed[base])
		}
		delete(listed, base)
	}
	for f := range listed {
		t.Errorf("table entry %s has no file under %s", f, badDir)
	}
	if len(badSpecs) < 20 {
		t.Errorf("only %d bad specs in the table", len(badSpecs))
	}
}

func bundledSpecs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../connectors/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no connectors/*.yaml found")
	}
	return files
}

func TestBundledConnectorsLoad(t *testing.T) {
	for _, f := range bundledSpecs(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := spec.LoadFile(f)
			if err != nil {
				t.Fatalf("LoadFile:\n%v", err)
			}
			if c.File != f {
				t.Errorf("File = %q, want %q", c.File, f)
			}
			if c.InteractionTypes.Len() == 0 {
				t.Error("no interaction types")
			}
		})
	}
}

// TestConnectorsMatchSchema validates the bundled specs and the good fixture with the
// JSON Schema alone, as an editor would, so the schema and the loader never disagree
// about a valid spec.
func TestConnectorsMatchSchema(t *testing.T) {
	schemaPath := "../../schemas/connector.schema.json"
	f, err := os.Open(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	raw, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(schemaPath, raw); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	files := append(bundledSpecs(t), "testdata/good.yaml")
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			inst := yamlToJSONValue(t, file)
			if err := sch.Validate(inst); err != nil {
				t.Errorf("schema rejects a spec the loader accepts:\n%v", err)
			}
			if _, err := spec.LoadFile(file); err != nil {
				t.Errorf("loader rejects it:\n%v", err)
			}
		})
	}

	// And the schema refuses what the loader refuses for schema reasons.
	for _, file := range []string{"unknown_top_key", "records_mapping", "missing_id", "bad_method", "bad_duration", "bad_type_name", "field_type_enum"} {
		t.Run("bad/"+file, func(t *testing.T) {
			if err := sch.Validate(yamlToJSONValue(t, filepath.Join(repoRoot, badDir, file+".bad.yaml"))); err == nil {
				t.Error("the schema accepts a spec the loader refuses")
			}
		})
	}
}

// yamlToJSONValue reads a YAML file through yaml.v3 into any and round-trips it
// through encoding/json, giving the value a JSON parser would produce.
func yamlToJSONValue(t *testing.T, file string) any {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%s does not convert to JSON: %v", file, err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

func TestGoodSpecDefaults(t *testing.T) {
	c, err := spec.LoadFile("testdata/good.yaml")
	if err != nil {
		t.Fatalf("LoadFile:\n%v", err)
	}
	if got := c.Timeout.D(); got != 30*time.Second {
		t.Errorf("timeout = %v, want 30s", got)
	}
	if c.Retries == nil || *c.Retries != 4 {
		t.Errorf("retries = %v, want 4", c.Retries)
	}
	if got := c.SyncEvery.D(); got != time.Hour {
		t.Errorf("sync_every = %v, want 1h", got)
	}
	wantKeys := []string{"tickets", "users", "comments", "organizations", "groups"}
	if fmt.Sprint(c.InteractionTypes.Keys) != fmt.Sprint(wantKeys) {
		t.Errorf("interaction types = %v, want file order %v", c.InteractionTypes.Keys, wantKeys)
	}

	it := func(name string) *spec.InteractionType {
		t.Helper()
		x, ok := c.InteractionTypes.Get(name)
		if !ok {
			t.Fatalf("no interaction type %s", name)
		}
		if x.Name != name {
			t.Errorf("Name = %q, want %q", x.Name, name)
		}
		return x
	}

	// sync_every is inherited unless the type sets its own.
	for name, want := range map[string]time.Duration{
		"tickets": time.Hour, "users": 15 * time.Minute, "comments": time.Hour, "organizations": time.Hour, "groups": time.Hour,
	} {
		if got := it(name).SyncEvery.D(); got != want {
			t.Errorf("%s: sync_every = %v, want %v", name, got, want)
		}
	}

	// Pagination defaults per type.
	tests := []struct {
		name, typ, param, rel string
		start, limit          int
	}{
		{"tickets", spec.PageOffset, "offset", "", 0, 100},
		{"users", spec.PageNumber, "page", "", 1, 50},
		{"comments", spec.PageCursor, "cursor", "", 0, 25},
		{"organizations", spec.PageLink, "", "next", 0, 0},
		{"groups", spec.PageNone, "", "", 0, 0},
	}
	for _, tc := range tests {
		pg := it(tc.name).Pagination
		if pg == nil {
			t.Errorf("%s: pagination is nil, want type %s", tc.name, tc.typ)
			continue
		}
		if pg.Type != tc.typ || pg.Param != tc.param || pg.Rel != tc.rel || pg.StartAt() != tc.start || pg.Limit != tc.limit {
			t.Errorf("%s: pagination = {type %s param %q rel %q start %d limit %d}, want {type %s param %q rel %q start %d limit %d}",
				tc.name, pg.Type, pg.Param, pg.Rel, pg.StartAt(), pg.Limit, tc.typ, tc.param, tc.rel, tc.start, tc.limit)
		}
		if pg.MaxPages != spec.DefaultMaxPages {
			t.Errorf("%s: max_pages = %d, want %d", tc.name, pg.MaxPages, spec.DefaultMaxPages)
		}
	}

	// Request and incremental defaults.
	if m := it("tickets").Request.Method; m != "GET" {
		t.Errorf("tickets: method = %q, want GET", m)
	}
	if m := it("comments").Request.Method; m != "POST" {
		t.Errorf("comments: method = %q, want POST", m)
	}
	inc := it("tickets").Incremental
	if inc.Format != "rfc3339" {
		t.Errorf("tickets: incremental format = %q, want rfc3339", inc.Format)
	}
	if st, ok := inc.StartTime(); !ok || !st.Equal(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("tickets: start = %v, %v; want 2020-01-01", st, ok)
	}
	if f := it("comments").Incremental.Format; f != "unix" {
		t.Errorf("comments: incremental format = %q, want unix", f)
	}
	if _, ok := it("comments").Incremental.StartTime(); ok {
		t.Error("comments: a start time without incremental.start")
	}

	// Config fields: a default makes a field optional.
	sub, _ := c.Config.Get("subdomain")
	size, _ := c.Config.Get("page_size")
	if sub.Type != "string" || !sub.IsRequired() {
		t.Errorf("subdomain: type %q required %v, want string and required", sub.Type, sub.IsRequired())
	}
	if size.Type != "integer" || size.IsRequired() {
		t.Errorf("page_size: type %q required %v, want integer and optional", size.Type, size.IsRequired())
	}

	// The default bearer token template reads credentials.token.
	if c.Auth.Type != spec.AuthBearer || c.Auth.Token == nil || c.Auth.Token.Src != "${ .credentials.token }" {
		t.Fatalf("auth = %+v, want bearer with token ${ .credentials.token }", c.Auth)
	}
	ctx := context.Background()
	if got, err := c.Auth.Token.RenderString(ctx, map[string]any{"credentials": map[string]any{"token": "t0k"}}); err != nil || got != "t0k" {
		t.Errorf("token renders %q, %v; want t0k", got, err)
	}

	// Templates and jq are compiled and usable.
	vars := map[string]any{"config": map[string]any{"subdomain": "acme"}}
	if got, err := c.BaseURL.RenderString(ctx, vars); err != nil || got != "https://acme.helpdesk.example/api/v2" {
		t.Errorf("base_url renders %q, %v", got, err)
	}
	body, err := it("comments").Request.Body.Render(ctx, map[string]any{"cursor": "1700000000", "page": map[string]any{"limit": 25}})
	if err != nil {
		t.Fatal(err)
	}
	wantBody := `{"filter":{"types":["public","internal"]},"page_size":25,"since":"1700000000"}`
	if js, _ := json.Marshal(body); string(js) != wantBody {
		t.Errorf("body renders %s, want %s", js, wantBody)
	}
	id, err := it("tickets").ID.First(ctx, map[string]any{"id": json.Number("9007199254740993")})
	if err != nil || id != json.Number("9007199254740993") {
		t.Errorf("id = %#v, %v; want the exact json.Number", id, err)
	}
	if got := it("tickets").Fields.Keys; fmt.Sprint(got) != "[subject status requester_email]" {
		t.Errorf("fields = %v, want file order", got)
	}
}

func TestAuthDefaults(t *testing.T) {
	const types = `
interaction_types:
  things:
    kind: thing
    request:
      path: https://api.example.com/things
    records: .[]
    id: .id
`
	tests := []struct {
		name, yaml string
		check      func(t *testing.T, a *spec.Auth)
	}{
		{"none", "provider: p\n", func(t *testing.T, a *spec.Auth) {
			if a.Type != spec.AuthNone {
				t.Errorf("type = %q, want none", a.Type)
			}
		}},
		{"api_key", "provider: p\ncredentials:\n  api_key: {}\nauth:\n  type: api_key\n  name: X-Key\n", func(t *testing.T, a *spec.Auth) {
			if a.In != "header" || a.Name != "X-Key" || a.Value == nil || a.Value.Src != "${ .credentials.api_key }" {
				t.Errorf("auth = in %q name %q value %v; want header, X-Key, ${ .credentials.api_key }", a.In, a.Name, a.Value)
			}
		}},
		{"api_key in query", "provider: p\ncredentials:\n  key: {}\nauth:\n  type: api_key\n  in: query\n  name: key\n  value: ${ .credentials.key }\n", func(t *testing.T, a *spec.Auth) {
			if a.In != "query" || a.Value.Src != "${ .credentials.key }" {
				t.Errorf("auth = in %q value %v", a.In, a.Value)
			}
		}},
		{"basic", "provider: p\ncredentials:\n  username: {}\n  password: {}\nauth:\n  type: basic\n", func(t *testing.T, a *spec.Auth) {
			if a.Username == nil || a.Username.Src != "${ .credentials.username }" || a.Password == nil || a.Password.Src != "${ .credentials.password }" {
				t.Errorf("auth = username %v password %v", a.Username, a.Password)
			}
			got, err := a.Password.RenderString(context.Background(), map[string]any{"credentials": map[string]any{"password": "pw"}})
			if err != nil || got != "pw" {
				t.Errorf("password renders %q, %v", got, err)
			}
		}},
		{"bearer explicit", "provider: p\ncredentials:\n  pat: {}\nauth:\n  type: bearer\n  token: ${ .credentials.pat }\n", func(t *testing.T, a *spec.Auth) {
			if a.Token == nil || a.Token.Src != "${ .credentials.pat }" {
				t.Errorf("token = %v", a.Token)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := spec.Load("inline.yaml", []byte(tc.yaml+types))
			if err != nil {
				t.Fatalf("Load:\n%v", err)
			}
			tc.check(t, c.Auth)
		})
	}
}

// TestLoadErrorsSorted loads a spec with several mistakes and checks that every one is
// reported, in file order.
func TestLoadErrorsSorted(t *testing.T) {
	src := `provider: p
credentials:
  api_key: {}
auth:
  type: api_key
interaction_types:
  things:
    kind: thing
    request:
      path: https://api.example.com/things
      parms: {}
    records: .[
    id: .id
    pagination:
      type: cursor
`
	_, err := spec.Load("multi.yaml", []byte(src))
	var errs spec.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error is %T: %v", err, err)
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Msg, `unknown key "parms"`) {
		// Schema errors stop loading before the semantic checks run.
		t.Fatalf("got:\n%v\nwant only the schema error", err)
	}

	src = strings.Replace(src, "      parms: {}\n", "", 1)
	_, err = spec.Load("multi.yaml", []byte(src))
	want := strings.Join([]string{
		"multi.yaml:4:1: auth: auth type api_key needs name (the header or query parameter that carries the key)",
		`multi.yaml:11:16: interaction_types.things.records: invalid jq ".[": unexpected EOF`,
		"multi.yaml:13:5: interaction_types.things.pagination: cursor pagination needs next: jq over the body that yields the next page's token",
	}, "\n")
	if err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
	if !errors.As(err, &errs) {
		t.Fatal("not spec.Errors")
	}
	if !sort.SliceIsSorted(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line }) {
		t.Error("errors are not in file order")
	}
}

// A name refused in two mappings is reported in both, every time. The schema
// library's location of such an error could name the other mapping, depending on
// map order, and the two messages then collapsed into one (FuzzLoadSpec's input
// dac47342ee93620e).
func TestBadNameInTwoMappings(t *testing.T) {
	const y = `provider: p
base_url: https://x
config:
  Sub Domain: {}
interaction_types:
  Sub Domain:
    kind: ticket
    request: {path: /t}
    records: .[]
    id: .id
`
	for i := range 50 {
		_, err := spec.Load("x.yaml", []byte(y))
		if err == nil {
			t.Fatal("loaded")
		}
		for _, want := range []string{
			`x.yaml:4:3: config.Sub Domain: name "Sub Domain" must be lower case letters, digits and _ and start with a letter`,
			`x.yaml:6:3: interaction_types.Sub Domain: name "Sub Domain" must be lower case letters, digits and _ and start with a letter`,
		} {
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("load %d: got\n%v\nwant it to contain\n%s", i+1, err, want)
			}
		}
	}
}
