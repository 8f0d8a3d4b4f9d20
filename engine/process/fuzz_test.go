package process

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"hash/fnv"
	"io/fs"
	"path/filepath"
	"sort"
	"testing"

	"github.com/intakehq/intake/connectors"
	"github.com/intakehq/intake/engine/expr"
	"github.com/intakehq/intake/engine/jsonx"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/internal/fuzzseed"
)

var writeSeeds = flag.Bool("seeds", false, "rewrite the seed-* files of testdata/fuzz from the raw records below")

// fuzzSpec adds to the bundled connectors' types what they do not use yet: a deletes
// flag, an integer cursor, a child type with parent fields, one without fields.
const fuzzSpec = `
provider: fuzz
base_url: https://fuzz.example
interaction_types:
  tickets:
    kind: ticket
    request: {path: /t}
    records: .[]
    id: .id
    incremental: {cursor: .updated_at, format: rfc3339}
    deletes: {flag: .status == "deleted" or .deleted}
    fields:
      subject: .subject
      requester: .requester.email | ascii_downcase?
      tags: '[.tags[]? | tostring] | sort'
      amount: .amount
      total: '[.lines[]?.amount | numbers] | add'
  events:
    kind: event
    request: {path: /e}
    records: .[]
    id: .id
    incremental: {cursor: .seq, format: integer}
  comments:
    kind: note
    request: {path: '/t/${ .parent.id }/c'}
    records: .[]
    id: .id
    parent: {type: tickets, fields: {ticket_id: .id, ticket_subject: .subject}}
    fields: {body: .body}
  raw_comments:
    kind: note
    request: {path: '/t/${ .parent.id }/c'}
    records: .[]
    id: .id
    parent: {type: tickets, fields: {ticket_id: .id}}
`

type fuzzType struct {
	name string // provider/type
	it   *spec.InteractionType
}

// fuzzTypes loads every interaction type FuzzMapRecord maps with, in a fixed order:
// the bundled connectors' (files sorted) and fuzzSpec's.
func fuzzTypes(tb testing.TB) []fuzzType {
	tb.Helper()
	names, err := fs.Glob(connectors.FS, "*.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	sort.Strings(names)
	var out []fuzzType
	add := func(c *spec.Connector) {
		for _, k := range c.InteractionTypes.Keys {
			out = append(out, fuzzType{c.Provider + "/" + k, c.InteractionTypes.Map[k]})
		}
	}
	for _, n := range names {
		c, err := spec.LoadFS(connectors.FS, n, n)
		if err != nil {
			tb.Fatal(err)
		}
		add(c)
	}
	c, err := spec.Load("fuzz.yaml", []byte(fuzzSpec))
	if err != nil {
		tb.Fatal(err)
	}
	add(c)
	return out
}

// pickType returns the type named typ (provider/type), or for any other name one
// chosen by its hash, so that the fuzzer's mutations of the name still pick a type.
func pickType(types []fuzzType, typ string) fuzzType {
	h := fnv.New32a()
	for _, ft := range types {
		if ft.name == typ {
			return ft
		}
	}
	h.Write([]byte(typ))
	return types[int(h.Sum32()%uint32(len(types)))]
}

// FuzzMapRecord: mapping any JSON record with a fixed interaction type never panics;
// a record that cannot be mapped is a RecordError with a reason (it is quarantined,
// not fatal); and mapping is deterministic: the same record maps to the same data
// and hash, again and when read back from the raw JSON the mapper kept. Records come
// in both forms the engine hands out: decoded with json.Number (streamed pages) and
// as jq outputs them (a records expression run by gojq).
func FuzzMapRecord(f *testing.F) {
	types := fuzzTypes(f)
	ctx := context.Background()
	asJQ := expr.MustCompile(".")
	f.Fuzz(func(t *testing.T, typ string, record []byte) {
		ft := pickType(types, typ)
		m := NewMapper(ft.it)
		raw, ok := decodeOne(record)
		if !ok {
			return
		}
		viaJQ, err := asJQ.First(ctx, raw)
		if err != nil {
			t.Fatalf("jq . over %s: %v", record, err)
		}
		for _, rec := range []any{raw, viaJQ} {
			got, err := mapChecked(ctx, t, m, rec)
			if err != nil {
				continue
			}
			again, err := mapChecked(ctx, t, m, rec)
			if err != nil {
				t.Fatalf("%s: the record mapped once, then failed: %v", ft.name, err)
			}
			if again.Hash != got.Hash || !bytes.Equal(again.Data, got.Data) {
				t.Fatalf("%s: mapping %s twice gave %s (%s) and %s (%s)", ft.name, record, got.Data, got.Hash, again.Data, again.Hash)
			}
			// The raw JSON stored is the record: read back, it maps the same.
			back, ok := decodeOne(got.Raw)
			if !ok {
				t.Fatalf("%s: raw JSON %s does not decode", ft.name, got.Raw)
			}
			fromRaw, err := mapChecked(ctx, t, m, back)
			if err != nil {
				t.Fatalf("%s: the record mapped, but its raw JSON %s does not: %v", ft.name, got.Raw, err)
			}
			if fromRaw.Hash != got.Hash {
				t.Fatalf("%s: record %s and its raw JSON %s map to %s and %s", ft.name, record, got.Raw, got.Data, fromRaw.Data)
			}
		}
	})
}

// mapChecked maps rec as the pipeline does (ParentFields then MapChild for a child
// type) and checks what any result must satisfy.
func mapChecked(ctx context.Context, t *testing.T, m *Mapper, rec any) (*Mapped, error) {
	t.Helper()
	if _, err := m.Keep(ctx, rec); err != nil {
		checkRecordError(t, err)
	}
	var extra []Field
	if m.it.Parent != nil {
		// The record stands in for its parent too.
		fields, err := m.ParentFields(ctx, rec)
		if err == nil {
			extra = fields
		}
	}
	got, err := m.MapChild(ctx, rec, extra)
	if err != nil {
		checkRecordError(t, err)
		return nil, err
	}
	if got.ExternalID == "" {
		t.Fatalf("mapped with an empty external id")
	}
	if id, err := m.ID(ctx, rec); err != nil || id != got.ExternalID {
		t.Fatalf("ID() = %q, %v; Map gave %q", id, err, got.ExternalID)
	}
	if b, err := hex.DecodeString(got.Hash); err != nil || len(b) != 32 {
		t.Fatalf("hash %q is not a SHA-256", got.Hash)
	}
	if !json.Valid(got.Data) || !json.Valid(got.Raw) {
		t.Fatalf("invalid JSON: data %s raw %s", got.Data, got.Raw)
	}
	if m.it.Fields.Len() > 0 {
		if _, ok := got.Doc.(map[string]any); !ok {
			t.Fatalf("mapped fields decode to %T, not an object: %s", got.Doc, got.Data)
		}
	}
	if inc := m.it.Incremental; inc != nil && got.CursorValue.IsZero() {
		t.Fatalf("incremental type mapped without a cursor value")
	}
	return got, nil
}

func checkRecordError(t *testing.T, err error) {
	t.Helper()
	var re *RecordError
	if !errors.As(err, &re) {
		t.Fatalf("error is %T, not a RecordError: %v", err, err)
	}
	if re.Reason == "" {
		t.Fatalf("RecordError without a reason: %v", err)
	}
}

// decodeOne decodes exactly one JSON value, numbers as json.Number, as the engine
// reads response bodies.
func decodeOne(data []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	return v, jsonx.AtEnd(dec)
}

// rawRecords are records as the providers' APIs return them (trimmed), for the
// seeds: each is mapped by the types named.
var rawRecords = []struct {
	name  string
	types []string
	json  string
}{
	{"zendesk-ticket", []string{"zendesk/tickets", "fuzz/tickets", "fuzz/comments"}, `{"url":"https://acme.zendesk.com/api/v2/tickets/35436.json","id":35436,"external_id":null,"created_at":"2024-01-02T10:00:00Z","updated_at":"2024-01-03T09:30:00Z","type":"incident","subject":"Help, my printer is on fire!","description":"The fire is very colorful.","priority":"high","status":"open","requester_id":20978392,"submitter_id":20978392,"assignee_id":235323,"organization_id":509974,"group_id":98738,"tags":["enterprise","printer"],"custom_fields":[{"id":27642,"value":"745"}],"via":{"channel":"web"},"generated_timestamp":1704274200}`},
	{"zendesk-user", []string{"zendesk/contacts", "zendesk/agents"}, `{"id":20978392,"url":"https://acme.zendesk.com/api/v2/users/20978392.json","name":"Mateo Silva","email":"Mateo.Silva@BrightLabs.example","created_at":"2023-12-05T01:06:00Z","updated_at":"2024-01-04T01:06:00Z","time_zone":"Pacific Time (US & Canada)","iana_time_zone":"America/Los_Angeles","phone":null,"locale":"en-US","organization_id":360000002,"role":"end-user","verified":true,"active":true,"tags":[],"last_login_at":null}`},
	{"zendesk-organization", []string{"zendesk/organizations"}, `{"id":360000001,"name":"Blue Foods","domain_names":["bluefoods.example"],"notes":"","tags":["enterprise"],"external_id":null,"created_at":"2023-10-03T00:02:00Z","updated_at":1704067320}`},
	{"hubspot-contact", []string{"hubspot/contacts"}, `{"id":"51","properties":{"createdate":"2024-01-02T10:00:00.000Z","email":"ana@acme.example","firstname":"Ana","lastname":"Lima","hs_object_id":"51","lastmodifieddate":"2024-01-03T09:30:00.123Z","associatedcompanyid":"1001"},"createdAt":"2024-01-02T10:00:00.000Z","updatedAt":"2024-01-03T09:30:00.123Z","archived":false}`},
	{"hubspot-deal", []string{"hubspot/deals", "hubspot/companies"}, `{"id":"9001","properties":{"amount":"1500.50","dealname":"Acme renewal","dealstage":"closedwon","hs_lastmodifieddate":"2024-01-03T09:30:00.123Z","domain":"acme.example","name":"Acme"},"createdAt":"2024-01-02T10:00:00.000Z","updatedAt":"2024-01-03T09:30:00.123Z","archived":false}`},
	{"salesforce-account", []string{"salesforce/accounts", "salesforce/contacts", "salesforce/opportunities"}, `{"attributes":{"type":"Account","url":"/services/data/v60.0/sobjects/Account/001Dn00000AbCdEIAV"},"Id":"001Dn00000AbCdEIAV","Name":"Acme Corp","Website":"https://www.acme.example","Industry":"Manufacturing","AnnualRevenue":1.2E7,"NumberOfEmployees":250,"Email":"x@acme.example","AccountId":"001Dn00000AbCdEIAV","Amount":null,"IsDeleted":false,"SystemModstamp":"2024-01-03T09:30:00.000+0000","LastModifiedDate":"2024-01-03T09:30:00.000+0000"}`},
	{"stripe-customer", []string{"stripe/customers", "stripe/invoices", "stripe/charges", "stripe/subscriptions", "stripe/events"}, `{"id":"cus_NffrFeUfNV2Hib","object":"customer","created":1680893993,"email":"jennyrosen@example.com","name":"Jenny Rosen","currency":"usd","balance":0,"delinquent":false,"metadata":{"tier":"gold"},"livemode":false,"amount_paid":2000,"period_start":1680893993,"current_period_end":1683485993,"customer":"cus_NffrFeUfNV2Hib","type":"customer.updated","data":{"object":{"id":"cus_NffrFeUfNV2Hib"}}}`},
	{"github-issue", []string{"github/issues", "github/pull_requests", "github/comments"}, `{"id":1,"node_id":"MDU6SXNzdWUx","url":"https://api.github.com/repos/octocat/Hello-World/issues/1347","number":1347,"state":"open","title":"Found a bug","body":"I'm having a problem with this.","user":{"login":"octocat","id":1,"type":"User"},"labels":[{"id":208045946,"name":"bug","default":true}],"assignee":null,"comments":0,"pull_request":{"url":"https://api.github.com/repos/octocat/Hello-World/pulls/1347"},"closed_at":null,"created_at":"2011-04-22T13:33:48Z","updated_at":"2011-04-22T13:33:48Z","author_association":"COLLABORATOR","issue_url":"https://api.github.com/repos/octocat/Hello-World/issues/1347"}`},
	{"jira-issue", []string{"jira/issues"}, `{"expand":"renderedFields","id":"10002","self":"https://acme.atlassian.net/rest/api/3/issue/10002","key":"ED-1","fields":{"summary":"Printer on fire","status":{"name":"To Do"},"priority":{"name":"High"},"reporter":{"emailAddress":"ana@acme.example","displayName":"Ana"},"created":"2024-01-02T10:00:00.000+0000","updated":"2024-01-03T09:30:00.000+0000","labels":["fire"]}}`},
	{"intercom-contact", []string{"intercom/contacts", "intercom/companies", "intercom/conversations"}, `{"type":"contact","id":"6329bd9ffe4e2e91dac76188","workspace_id":"ecahpwf5","external_id":"70","role":"user","email":"joe@example.com","name":"Joe Example","created_at":1663679903,"updated_at":1663679904,"companies":{"type":"list","data":[{"id":"6329bd9ffe4e2e91dac76189"}]},"custom_attributes":{}}`},
	{"demo-crm", []string{"demo-crm/contacts", "demo-crm/accounts", "demo-crm/tickets"}, `{"id":"c_1","first_name":"Ana","last_name":null,"email":"ANA@acme.example","account_id":"a_1","updated_at":"2024-01-03T09:30:00Z","domain":"acme.example","name":"Acme"}`},
	{"csv-row", []string{"csv-files/contacts", "postgres/contacts", "mysql/accounts"}, `{"id":"7","email":"ana@acme.example","name":"Ana","updated_at":"2024-01-03 09:30:00","account_id":"1"}`},
	{"integer-cursor", []string{"fuzz/events"}, `{"id":9007199254740993,"seq":"12345678901234","payload":{"a":[1,2.50,-0,1e400]}}`},
	{"odd-values", []string{"fuzz/tickets", "fuzz/raw_comments"}, `{"id":"\u0000é\ud800","subject":"<b>&amp;</b>","updated_at":"2024-02-30T25:61:00Z","deleted":"yes","tags":[1,"a",null,{"x":1}],"amount":123456789012345678901234567890,"lines":[{"amount":1.5},{"amount":"2"}]}`},
}

// TestFuzzSeeds rewrites the seed corpus with -seeds; without it, it checks that
// there is one.
func TestFuzzSeeds(t *testing.T) {
	if !*writeSeeds {
		if m, _ := filepath.Glob("testdata/fuzz/FuzzMapRecord/seed-*"); len(m) == 0 {
			t.Error("FuzzMapRecord has no seeds: run go test ./engine/process -run TestFuzzSeeds -seeds")
		}
		return
	}
	types := map[string]bool{}
	for _, ft := range fuzzTypes(t) {
		types[ft.name] = true
	}
	var seeds []fuzzseed.Seed
	for _, r := range rawRecords {
		if !json.Valid([]byte(r.json)) {
			t.Fatalf("%s: invalid JSON", r.name)
		}
		for _, name := range r.types {
			if !types[name] {
				t.Fatalf("%s: no interaction type %s", r.name, name)
			}
			seeds = append(seeds, fuzzseed.Seed{Name: r.name + "-" + name, Values: []any{name, []byte(r.json)}})
		}
	}
	if err := fuzzseed.Write("FuzzMapRecord", seeds); err != nil {
		t.Fatal(err)
	}
}
