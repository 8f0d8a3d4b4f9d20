package process

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/intakehq/intake/engine/spec"
)

// benchContact is a record as the bench's mock CRM serves it (internal/bench), about
// 1 KB.
const benchContact = `{"id":"c_000123","email":"Ann.Lee123@Company17.example","first_name":"Ann","last_name":"Lee","title":"VP Sales",
"phone":"+1 555 0100 123","company":{"id":"co_17","name":"Company 17 Inc","domain":"company17.example","industry":"Software","size":"51-200"},
"address":{"street":"1 Main St","city":"Springfield","region":"IL","postal_code":"62701","country":"US"},
"lifecycle_stage":"customer","lead_source":"webinar","score":87.5,"tags":["enterprise","renewal-2026","champion"],
"owner":{"id":"u_3","email":"owner3@vendor.example","name":"Owner Three"},"notes":"Met at the spring conference; prefers e-mail; renewal in Q3. Follow up on the analytics add-on and the SSO question from procurement.",
"custom":{"plan":"growth","seats":42,"nps":9,"region_code":"NA-CENTRAL","account_tier":"gold"},
"created_at":"2023-05-01T10:00:00Z","updated_at":"2024-01-01T00:14:21Z"}`

// BenchmarkMapRecord maps one contact through the bench connector's 12 fields
// (internal/bench/testdata/bench-crm.yaml): the raw copy, jq, the mapped JSON, its
// hash, then its match keys, as the pipeline does for each record.
//
//	go test ./engine/process -run '^$' -bench MapRecord
func BenchmarkMapRecord(b *testing.B) {
	src, err := os.ReadFile("../../internal/bench/testdata/bench-crm.yaml")
	if err != nil {
		b.Fatal(err)
	}
	c, err := spec.Load("bench-crm.yaml", src)
	if err != nil {
		b.Fatal(err)
	}
	m := NewMapper(c.InteractionTypes.Map["contacts"])
	var raw any
	if err := json.Unmarshal([]byte(benchContact), &raw); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		mapped, err := m.Map(ctx, raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := m.Keys(ctx, mapped, now); err != nil {
			b.Fatal(err)
		}
	}
}
