// Package view holds the JSON shapes of stored accounts, contacts and references that
// the CLI and the admin API both print (`intake accounts show --json` and
// GET /v1/accounts/{id}, and so on), so the two always print the same objects.
package view

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/intakehq/intake/engine/match"
	"github.com/intakehq/intake/engine/store"
)

// Time is how these shapes print a time: RFC 3339 in UTC, whole seconds; "" when
// unknown.
func Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// Domain puts a domain filter (a domain, URL or address) in the form the store keeps:
// its registrable domain.
func Domain(s string) string {
	if d := match.Domain(s); d != "" {
		return d
	}
	return strings.ToLower(strings.TrimSpace(s))
}

// Email puts an address filter in the form the store keeps: normalised.
func Email(s string) string {
	if e := match.Email(s); e != "" {
		return e
	}
	return strings.ToLower(strings.TrimSpace(s))
}

// Link is a provider record linked to an account or contact, and how it matched.
type Link struct {
	Provider    string `json:"provider"`
	Integration string `json:"integration"`
	ExternalID  string `json:"external_id"`
	MatchedBy   string `json:"matched_by"`
	CreatedAt   string `json:"created_at"`
}

// Links is ls as Links, [] when none.
func Links(ls []store.EntityLink) []Link {
	out := make([]Link, 0, len(ls))
	for _, l := range ls {
		out = append(out, Link{l.Provider, l.IntegrationID, l.ExternalID, l.MatchedBy, Time(l.CreatedAt)})
	}
	return out
}

// Source is where an attribute's kept value came from.
type Source struct {
	Provider string `json:"provider"`
	At       string `json:"at"`
}

// Sources maps attribute names to their sources, for the attributes whose source is
// known.
func Sources(as []store.Attribute) map[string]Source {
	out := make(map[string]Source, len(as))
	for _, at := range as {
		if at.Provider != "" || !at.At.IsZero() {
			out[at.Name] = Source{at.Provider, Time(at.At)}
		}
	}
	return out
}

// Account is one account of `intake accounts list --json` and GET /v1/accounts.
type Account struct {
	ID        int64    `json:"id"`
	Customer  string   `json:"customer"`
	Domain    string   `json:"domain"`
	Name      string   `json:"name"`
	Contacts  int      `json:"contacts"`
	Links     int      `json:"links"`
	Providers []string `json:"providers"`
	CreatedAt string   `json:"created_at"`
	UpdatedAt string   `json:"updated_at"`
}

// AccountOf is s as an Account.
func AccountOf(s *store.AccountSummary) Account {
	return Account{s.ID, s.CustomerID, s.Domain, s.Name, s.ContactCount, s.LinkCount, s.Providers, Time(s.CreatedAt), Time(s.UpdatedAt)}
}

// ContactRef names one of an account's contacts.
type ContactRef struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

// LinkedInteraction is an interaction of an account or contact: the stored
// interaction, with its provider and how it belongs to the entity.
type LinkedInteraction struct {
	Provider string `json:"provider"`
	Via      string `json:"via"`
	store.Interaction
}

// LinkedInteractions is its as LinkedInteractions, [] when none.
func LinkedInteractions(its []store.LinkedInteraction) []LinkedInteraction {
	out := make([]LinkedInteraction, 0, len(its))
	for _, it := range its {
		out = append(out, LinkedInteraction{it.Provider, it.Via, it.Interaction})
	}
	return out
}

// TypeCounts maps interaction types to how many interactions there are of each.
func TypeCounts(cs []store.TypeCount) map[string]int {
	out := make(map[string]int, len(cs))
	for _, c := range cs {
		out[c.Type] = c.Count
	}
	return out
}

// AccountDetail is `intake accounts show --json` and GET /v1/accounts/{id}: the
// account's columns, then lists where Account has counts.
type AccountDetail struct {
	ID            int64               `json:"id"`
	Customer      string              `json:"customer"`
	Domain        string              `json:"domain"`
	Name          string              `json:"name"`
	Providers     []string            `json:"providers"`
	CreatedAt     string              `json:"created_at"`
	UpdatedAt     string              `json:"updated_at"`
	Data          json.RawMessage     `json:"data"`
	Sources       map[string]Source   `json:"sources"`
	Links         []Link              `json:"links"`
	ContactsTotal int                 `json:"contacts_total"`
	Contacts      []ContactRef        `json:"contacts"`
	Interactions  []LinkedInteraction `json:"interactions"`
	// InteractionCounts is how many interactions of each type it has in all.
	InteractionCounts map[string]int `json:"interaction_counts"`
}

// AccountDetailOf is d as an AccountDetail.
func AccountDetailOf(d *store.AccountDetail) AccountDetail {
	out := AccountDetail{ID: d.ID, Customer: d.CustomerID, Domain: d.Domain, Name: d.Name, Providers: d.Providers,
		CreatedAt: Time(d.CreatedAt), UpdatedAt: Time(d.UpdatedAt), Data: d.Data, Sources: Sources(d.Attributes),
		Links: Links(d.Links), ContactsTotal: d.ContactCount, Contacts: []ContactRef{},
		Interactions: LinkedInteractions(d.Interactions), InteractionCounts: TypeCounts(d.InteractionCounts)}
	for _, c := range d.Contacts {
		out.Contacts = append(out.Contacts, ContactRef{c.ID, c.Email, c.Name})
	}
	return out
}

// Contact is one contact of `intake contacts list --json` and GET /v1/contacts.
type Contact struct {
	ID            int64    `json:"id"`
	Customer      string   `json:"customer"`
	Email         string   `json:"email"`
	Name          string   `json:"name"`
	AccountID     int64    `json:"account_id"`
	AccountDomain string   `json:"account_domain"`
	AccountName   string   `json:"account_name"`
	Links         int      `json:"links"`
	Providers     []string `json:"providers"`
	CreatedAt     string   `json:"created_at"`
	UpdatedAt     string   `json:"updated_at"`
}

// ContactOf is s as a Contact.
func ContactOf(s *store.ContactSummary) Contact {
	return Contact{s.ID, s.CustomerID, s.Email, s.Name, s.AccountID, s.AccountDomain, s.AccountName, s.LinkCount, s.Providers,
		Time(s.CreatedAt), Time(s.UpdatedAt)}
}

// ContactDetail is `intake contacts show --json` and GET /v1/contacts/{id}.
type ContactDetail struct {
	ID            int64             `json:"id"`
	Customer      string            `json:"customer"`
	Email         string            `json:"email"`
	Name          string            `json:"name"`
	AccountID     int64             `json:"account_id"`
	AccountDomain string            `json:"account_domain"`
	AccountName   string            `json:"account_name"`
	Providers     []string          `json:"providers"`
	CreatedAt     string            `json:"created_at"`
	UpdatedAt     string            `json:"updated_at"`
	Data          json.RawMessage   `json:"data"`
	Sources       map[string]Source `json:"sources"`
	Links         []Link            `json:"links"`
	// Interactions and InteractionCounts are as for AccountDetail.
	Interactions      []LinkedInteraction `json:"interactions"`
	InteractionCounts map[string]int      `json:"interaction_counts"`
}

// ContactDetailOf is d as a ContactDetail.
func ContactDetailOf(d *store.ContactDetail) ContactDetail {
	return ContactDetail{ID: d.ID, Customer: d.CustomerID, Email: d.Email, Name: d.Name,
		AccountID: d.AccountID, AccountDomain: d.AccountDomain, AccountName: d.AccountName, Providers: d.Providers,
		CreatedAt: Time(d.CreatedAt), UpdatedAt: Time(d.UpdatedAt), Data: d.Data, Sources: Sources(d.Attributes),
		Links: Links(d.Links), Interactions: LinkedInteractions(d.Interactions), InteractionCounts: TypeCounts(d.InteractionCounts)}
}

// UnresolvedRef is what an unresolved reference named; only what it named is set.
type UnresolvedRef struct {
	Type   string `json:"type,omitempty"`
	ID     string `json:"id,omitempty"`
	Email  string `json:"email,omitempty"`
	Domain string `json:"domain,omitempty"`
	Name   string `json:"name,omitempty"`
}

// Unresolved is one reference of `intake links unresolved --json` and of
// GET /v1/links/unresolved.
type Unresolved struct {
	ID            int64         `json:"id"`
	Customer      string        `json:"customer"`
	Integration   string        `json:"integration"`
	Provider      string        `json:"provider"`
	Type          string        `json:"interaction_type"`
	InteractionID int64         `json:"interaction_id"`
	ExternalID    string        `json:"external_id"`
	Role          string        `json:"role"`
	Origin        string        `json:"origin"`
	Ref           UnresolvedRef `json:"ref"`
	Reason        string        `json:"reason"`
	Detail        string        `json:"detail"`
	UpdatedAt     string        `json:"updated_at"`
}

// UnresolvedOf is u as an Unresolved.
func UnresolvedOf(u *store.UnresolvedLink) Unresolved {
	return Unresolved{ID: u.ID, Customer: u.CustomerID, Integration: u.IntegrationID, Provider: u.Provider, Type: u.Type,
		InteractionID: u.InteractionID, ExternalID: u.ExternalID, Role: u.Role, Origin: u.Origin,
		Ref:    UnresolvedRef{Type: u.RefType, ID: u.RefID, Email: u.RefEmail, Domain: u.RefDomain, Name: u.RefName},
		Reason: u.Reason, Detail: u.Detail, UpdatedAt: Time(u.UpdatedAt)}
}

// ReasonCount is how many unresolved references have one reason.
type ReasonCount struct {
	Reason string `json:"reason"`
	Count  int    `json:"count"`
}

// ReasonCounts is cs as ReasonCounts, [] when none.
func ReasonCounts(cs []store.ReasonCount) []ReasonCount {
	out := make([]ReasonCount, 0, len(cs))
	for _, c := range cs {
		out = append(out, ReasonCount{c.Reason, c.Count})
	}
	return out
}
