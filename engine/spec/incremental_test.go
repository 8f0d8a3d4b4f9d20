package spec_test

import (
	"os"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/intakehq/intake/engine/spec"
)

func TestIncrementalKeys(t *testing.T) {
	const file = "testdata/good_incremental.yaml"
	c, err := spec.LoadFile(file)
	if err != nil {
		t.Fatalf("LoadFile:\n%v", err)
	}
	tickets := c.InteractionTypes.Map["tickets"].Incremental
	if tickets.Filter != spec.FilterExclusive || tickets.Order != spec.OrderAsc {
		t.Errorf("filter, order = %q, %q", tickets.Filter, tickets.Order)
	}
	if tickets.Unit() != time.Second || tickets.Step.D() != 30*24*time.Hour || tickets.InitialWindow.D() != 90*24*time.Hour {
		t.Errorf("unit, step, initial_window = %v, %v, %v", tickets.Unit(), tickets.Step.D(), tickets.InitialWindow.D())
	}
	if tickets.EndParamTemplate() == nil || tickets.EndParamTemplate().Src != "${ .window.end }" {
		t.Errorf("end_param template = %v", tickets.EndParamTemplate())
	}
	ep := c.InteractionTypes.Map["tickets"].Deletes.Endpoint()
	if ep == nil || ep.Name != "tickets.deletes" || ep.Request.Method != "GET" || ep.Pagination.Type != spec.PageCursor || ep.Incremental != nil {
		t.Errorf("deletes endpoint = %+v", ep)
	}
	comments := c.InteractionTypes.Map["comments"]
	if comments.Parent.Concurrency != 4 || comments.Deletes.Endpoint() != nil || comments.Deletes.Flag == nil {
		t.Errorf("comments: parent %+v, deletes %+v", comments.Parent, comments.Deletes)
	}
	events := c.InteractionTypes.Map["events"].Incremental
	if n, ok := events.StartInt(); !ok || n != 1000 || !events.IsInteger() || events.Unit() != 1 {
		t.Errorf("events: start %d %v, integer %v, unit %v", n, ok, events.IsInteger(), events.Unit())
	}
	if _, ok := events.StartTime(); ok {
		t.Error("an integer cursor has no start time")
	}
	activity := c.InteractionTypes.Map["activity"].Incremental
	if activity.Unit() != time.Millisecond || activity.Order != spec.OrderDesc || !activity.ClientSide {
		t.Errorf("activity: unit %v, order %q, client_side %v", activity.Unit(), activity.Order, activity.ClientSide)
	}
	if c.InteractionTypes.Map["organizations"].Parent != nil || !c.InteractionTypes.Map["organizations"].Deletes.Reconcile {
		t.Error("organizations: reconcile")
	}

	// The JSON Schema alone accepts it too (editors validate with it).
	f, err := os.Open("../../schemas/connector.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	raw, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	comp := jsonschema.NewCompiler()
	if err := comp.AddResource("connector.schema.json", raw); err != nil {
		t.Fatal(err)
	}
	sch, err := comp.Compile("connector.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(yamlToJSONValue(t, file)); err != nil {
		t.Errorf("the schema rejects a spec the loader accepts:\n%v", err)
	}
}

// The unit of a format is the smallest change it shows: what an exclusive filter
// subtracts.
func TestFormatUnits(t *testing.T) {
	for format, want := range map[string]time.Duration{
		"rfc3339": time.Second, "unix": time.Second, "unix_ms": time.Millisecond,
		"2006-01-02": 24 * time.Hour, "2006-01-02 15:04": time.Minute, "2006-01-02T15:04:05.000Z07:00": time.Millisecond,
		"20060102150405.000000": time.Microsecond,
	} {
		c, err := spec.Load("u.yaml", []byte(`
provider: u
base_url: https://u.example
interaction_types:
  items:
    kind: item
    request: {path: /items}
    records: .[]
    id: .id
    incremental: {cursor: .at, format: '`+format+`', filter: exclusive}
`))
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if got := c.InteractionTypes.Map["items"].Incremental.Unit(); got != want {
			t.Errorf("%s: unit %v, want %v", format, got, want)
		}
	}
}
