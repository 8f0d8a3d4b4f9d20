package daemon

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/intakehq/intake/engine/store"
	"github.com/intakehq/intake/engine/view"
)

// The admin API's read side of what the processor made of the synced records:
// accounts, contacts and the references that resolve to nothing yet. The objects are
// engine/view's, the very ones `intake accounts show --json` and the other CLI
// commands print, so a script can move from one to the other unchanged.

// maxEntityLimit bounds ?limit of the lists: the API pages nothing, so a bound keeps
// one request from reading a whole table.
const maxEntityLimit = 1000

// pathID reads the {id} of /v1/accounts/{id} and /v1/contacts/{id}.
func pathID(r *http.Request, what string) (int64, error) {
	v := r.PathValue("id")
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%s id %q: use the id of GET /v1/%ss", what, v, what)
	}
	return id, nil
}

// entityDetail answers the store's error for one account or contact: not found is a
// 404 that says what was asked for.
func (d *Daemon) entityDetail(w http.ResponseWriter, r *http.Request, what string, id int64, err error) {
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("%s %d: not found", what, id))
		return
	}
	d.fail(w, r, err)
}

// listAccounts is GET /v1/accounts: ?customer, ?domain (a domain, URL or address),
// ?search (part of the name or domain), ?limit (default 50), most recently changed
// first.
func (d *Daemon) listAccounts(w http.ResponseWriter, r *http.Request) {
	limit, err := queryInt(r, "limit", 50, 1, maxEntityLimit)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	q := r.URL.Query()
	f := store.AccountFilter{CustomerID: q.Get("customer"), Search: q.Get("search"), Limit: int(limit)}
	if v := q.Get("domain"); v != "" {
		f.Domain = view.Domain(v)
	}
	rows, err := d.db.ListAccounts(r.Context(), f)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	out := make([]view.Account, 0, len(rows))
	for _, a := range rows {
		out = append(out, view.AccountOf(a))
	}
	writeJSON(w, http.StatusOK, map[string]any{"accounts": out})
}

// getAccount is GET /v1/accounts/{id}: ?per_type latest interactions of each type
// (default 5).
func (d *Daemon) getAccount(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "account")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	perType, err := queryInt(r, "per_type", store.LatestPerType, 1, maxEntityLimit)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	a, err := d.db.AccountDetail(r.Context(), "", id, int(perType))
	if err != nil {
		d.entityDetail(w, r, "account", id, err)
		return
	}
	writeJSON(w, http.StatusOK, view.AccountDetailOf(a))
}

// listContacts is GET /v1/contacts: ?customer, ?account (its id), ?email,
// ?search (part of the name or address), ?limit (default 50).
func (d *Daemon) listContacts(w http.ResponseWriter, r *http.Request) {
	limit, err := queryInt(r, "limit", 50, 1, maxEntityLimit)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	account, err := queryInt(r, "account", 0, 1, 1<<62)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	q := r.URL.Query()
	f := store.ContactFilter{CustomerID: q.Get("customer"), AccountID: account, Search: q.Get("search"), Limit: int(limit)}
	if v := q.Get("email"); v != "" {
		f.Email = view.Email(v)
	}
	rows, err := d.db.ListContacts(r.Context(), f)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	out := make([]view.Contact, 0, len(rows))
	for _, c := range rows {
		out = append(out, view.ContactOf(c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"contacts": out})
}

// getContact is GET /v1/contacts/{id}, with ?per_type as for an account.
func (d *Daemon) getContact(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "contact")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	perType, err := queryInt(r, "per_type", store.LatestPerType, 1, maxEntityLimit)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	c, err := d.db.ContactDetail(r.Context(), "", id, int(perType))
	if err != nil {
		d.entityDetail(w, r, "contact", id, err)
		return
	}
	writeJSON(w, http.StatusOK, view.ContactDetailOf(c))
}

// listUnresolved is GET /v1/links/unresolved: the counts by reason of the references
// that match ?customer, ?integration and ?type (all reasons, whatever ?reason says, as
// the CLI prints them), then the oldest ?limit (default 50) of those that also have
// ?reason.
func (d *Daemon) listUnresolved(w http.ResponseWriter, r *http.Request) {
	limit, err := queryInt(r, "limit", 50, 1, maxEntityLimit)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	q := r.URL.Query()
	f := store.UnresolvedFilter{CustomerID: q.Get("customer"), IntegrationID: q.Get("integration"), Type: q.Get("type"),
		Reason: q.Get("reason"), Limit: int(limit)}
	if f.Reason != "" && !slices.Contains(store.Reasons, f.Reason) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("reason=%q: use %s", f.Reason, strings.Join(store.Reasons, ", ")))
		return
	}
	counts, err := d.db.CountUnresolved(r.Context(), f)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	rows, err := d.db.ListUnresolved(r.Context(), f)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	out := make([]view.Unresolved, 0, len(rows))
	for _, u := range rows {
		out = append(out, view.UnresolvedOf(u))
	}
	writeJSON(w, http.StatusOK, map[string]any{"counts": view.ReasonCounts(counts), "unresolved": out})
}
