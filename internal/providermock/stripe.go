package providermock

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Stripe list endpoints, as API-NOTES-1 §4 describes:
//
//	GET /v1/customers, /v1/invoices, /v1/charges, /v1/subscriptions, /v1/events
//
// Lists are newest first; limit is 1 to 100 (default 10); the next page is
// starting_after=<id of the last item>, ending_before goes the other way (never
// both); the last page has has_more false. There is no total and no next link; url
// is the bare path. created[gte|gt|lte|lt] take unix seconds only. expand[] on a list
// needs the data. prefix. Subscriptions leave out canceled ones unless status=all.
// Events (type or types[], never both) are kept for 30 days. Every answer carries a
// Request-Id; errors are {"error": {type, message, code?, param?, doc_url?}}. Auth is
// the secret key as the HTTP Basic user name, or as a bearer token. Test mode allows
// 25 requests a second: 429 with a JSON body and no documented Retry-After.

// Stripe defaults.
const (
	DefaultStripeKey = "sk_test_51MockKeyDoNotUse0000000000000000000000004242"
	stripeRetention  = 30 * 24 * time.Hour
	stripeAPIVersion = "2024-06-20"
)

// StripeOptions configures the Stripe mock.
type StripeOptions struct {
	Common    // default rate limit: 25 requests per second (test mode)
	SecretKey string
	// RetryAfter adds Retry-After to 429s (not documented; off by default).
	RetryAfter bool
	// Records; 0 means 260 customers, 420 invoices, 380 charges, 240 subscriptions.
	Customers, Invoices, Charges, Subscriptions int
}

// Stripe is the Stripe mock. It is safe for concurrent use.
type Stripe struct {
	core
	opts  StripeOptions
	lists map[string][]*stObject // by path name, oldest first
	seq   int
	reqID int
}

type stObject struct {
	id      string
	created int64
	data    map[string]any
	deleted bool // by Change: gone from the list, announced by a *.deleted event
}

func (o *stObject) stamp() time.Time { return time.Unix(o.created, 0) }
func (o *stObject) key() string      { return o.id }

// NewStripe returns a Stripe mock with seeded data.
func NewStripe(opts StripeOptions) *Stripe {
	if opts.SecretKey == "" {
		opts.SecretKey = DefaultStripeKey
	}
	def := func(n *int, d int) {
		if *n == 0 {
			*n = d
		}
	}
	def(&opts.Customers, 260)
	def(&opts.Invoices, 420)
	def(&opts.Charges, 380)
	def(&opts.Subscriptions, 240)
	s := &Stripe{core: newCore(opts.Common, 25, time.Second), opts: opts, lists: map[string][]*stObject{}}
	s.seed()
	return s
}

func stID(prefix string, n int) string { return fmt.Sprintf("%s_NffrFeUf%06d", prefix, n) }

func (s *Stripe) seed() {
	times := spread(s.opts.Customers, 5)
	for i := 0; i < s.opts.Customers; i++ {
		s.lists["customers"] = append(s.lists["customers"], s.newCustomer(i, times[i].Unix()))
	}
	cust := s.lists["customers"]
	times = spread(s.opts.Subscriptions, 10)
	for i := 0; i < s.opts.Subscriptions; i++ {
		c := cust[(i*3)%len(cust)]
		s.lists["subscriptions"] = append(s.lists["subscriptions"], s.newSubscription(i, max(times[i].Unix(), c.created), c))
	}
	times = spread(s.opts.Invoices, 14)
	for i := 0; i < s.opts.Invoices; i++ {
		c := cust[(i*5)%len(cust)]
		s.lists["invoices"] = append(s.lists["invoices"], s.newInvoice(i, max(times[i].Unix(), c.created), c))
	}
	times = spread(s.opts.Charges, 16)
	inv := s.lists["invoices"]
	for i := 0; i < s.opts.Charges; i++ {
		in := inv[i%len(inv)]
		s.lists["charges"] = append(s.lists["charges"], s.newCharge(i, max(times[i].Unix(), in.created), in))
	}
	// Events of the last two weeks before seedTo: creations and updates, so that the
	// events list has something within its 30 days.
	for i, c := range cust {
		if i%2 == 0 {
			at := seedTo.Add(-time.Duration(i%14)*24*time.Hour - time.Duration(i)*time.Minute).Unix()
			s.event("customer.updated", at, c, map[string]any{"email": "old" + fmt.Sprint(i) + "@example.com"})
		}
	}
	for i, in := range inv {
		if i%3 == 0 {
			at := seedTo.Add(-time.Duration(i%13)*24*time.Hour - time.Duration(i)*time.Minute).Unix()
			s.event("invoice.finalized", at, in, nil)
		}
	}
	for _, l := range s.lists {
		sortByStamp(l)
	}
}

func (s *Stripe) newCustomer(i int, created int64) *stObject {
	first, last := person(i + 2)
	name, domain := company(i + 60)
	id := stID("cus", i+1)
	d := map[string]any{
		"id": id, "object": "customer", "address": nil, "balance": 0, "created": created, "currency": nil, "default_source": nil,
		"delinquent": i%17 == 3, "description": nil, "discount": nil, "email": email(first, last, domain, i), "invoice_prefix": fmt.Sprintf("%08X", 0x0759376C+i),
		"invoice_settings": map[string]any{"custom_fields": nil, "default_payment_method": nil, "footer": nil, "rendering_options": nil},
		"livemode":         false, "metadata": map[string]any{}, "name": name, "next_invoice_sequence": 1 + i%9, "phone": nil, "preferred_locales": []any{},
		"shipping": nil, "tax_exempt": "none", "test_clock": nil,
	}
	if i%3 != 0 {
		d["currency"] = pick([]string{"usd", "eur", "gbp"}, i)
		d["address"] = map[string]any{"city": pick(cities, i), "country": pick(countries, i), "line1": fmt.Sprintf("%d Main St", 1+i), "line2": nil, "postal_code": fmt.Sprintf("%05d", 10000+i), "state": nil}
	}
	if i%5 == 2 {
		d["metadata"] = map[string]any{"crm_id": fmt.Sprint(40 + i)}
	}
	if i%11 == 7 {
		d["name"] = first + " " + last // a person buying for themselves
	}
	return &stObject{id: id, created: created, data: d}
}

func (s *Stripe) newSubscription(i int, created int64, c *stObject) *stObject {
	id := stID("sub", i+1)
	status := pick([]string{"active", "active", "trialing", "past_due", "canceled", "active"}, i)
	amount := []int{1900, 4900, 9900, 29900}[i%4]
	d := map[string]any{
		"id": id, "object": "subscription", "billing_cycle_anchor": created, "cancel_at": nil, "cancel_at_period_end": i%13 == 4, "canceled_at": nil,
		"collection_method": "charge_automatically", "created": created, "currency": "usd", "current_period_start": created, "current_period_end": created + 30*86400,
		"customer": c.id, "ended_at": nil, "livemode": false, "metadata": map[string]any{}, "start_date": created, "status": status, "trial_end": nil, "trial_start": nil,
		"items": map[string]any{"object": "list", "has_more": false, "url": "/v1/subscription_items?subscription=" + id, "data": []any{map[string]any{
			"id": stID("si", i+1), "object": "subscription_item", "quantity": 1 + i%5, "price": map[string]any{"id": fmt.Sprintf("price_%d", amount), "object": "price",
				"unit_amount": amount, "currency": "usd", "product": "prod_NWjs8kKbJWmuuc", "recurring": map[string]any{"interval": pick([]string{"month", "year"}, i), "interval_count": 1}}}}},
	}
	if status == "canceled" {
		d["canceled_at"], d["ended_at"] = created+20*86400, created+20*86400
	}
	return &stObject{id: id, created: created, data: d}
}

func (s *Stripe) newInvoice(i int, created int64, c *stObject) *stObject {
	id := stID("in", i+1)
	status := pick([]string{"paid", "paid", "open", "draft", "void", "uncollectible", "paid"}, i)
	total := 1900 + (i*733)%50000
	paid := 0
	var paidAt any
	if status == "paid" {
		paid, paidAt = total, created+3600
	}
	var number any
	if status != "draft" {
		number = fmt.Sprintf("%s-%04d", c.data["invoice_prefix"], 1+i%200)
	}
	d := map[string]any{
		"id": id, "object": "invoice", "account_country": "US", "amount_due": total, "amount_paid": paid, "amount_remaining": total - paid,
		"attempt_count": 0, "attempted": status != "draft", "billing_reason": "subscription_cycle", "collection_method": "charge_automatically",
		"created": created, "currency": "usd", "customer": c.id, "customer_email": c.data["email"], "customer_name": c.data["name"], "description": nil,
		"due_date": nil, "hosted_invoice_url": nil, "livemode": false, "metadata": map[string]any{}, "number": number, "paid": status == "paid",
		"period_start": created - 30*86400, "period_end": created, "status": status, "subscription": nil, "subtotal": total, "total": total,
		"status_transitions": map[string]any{"finalized_at": nil, "paid_at": paidAt, "voided_at": nil, "marked_uncollectible_at": nil},
		"lines":              map[string]any{"object": "list", "data": []any{}, "has_more": false, "total_count": 0, "url": "/v1/invoices/" + id + "/lines"},
	}
	if status != "draft" {
		d["hosted_invoice_url"] = "https://invoice.stripe.com/i/acct_mock/" + id
		d["status_transitions"].(map[string]any)["finalized_at"] = created + 60
	}
	if i%4 != 3 {
		d["subscription"] = stID("sub", 1+i%max(s.opts.Subscriptions, 1))
	}
	return &stObject{id: id, created: created, data: d}
}

func (s *Stripe) newCharge(i int, created int64, in *stObject) *stObject {
	id := stID("ch", i+1)
	status := pick([]string{"succeeded", "succeeded", "succeeded", "failed", "pending"}, i)
	amount := in.data["total"].(int)
	d := map[string]any{
		"id": id, "object": "charge", "amount": amount, "amount_captured": 0, "amount_refunded": 0, "captured": status == "succeeded",
		"billing_details": map[string]any{"email": in.data["customer_email"], "name": in.data["customer_name"], "phone": nil, "address": nil},
		"created":         created, "currency": "usd", "customer": in.data["customer"], "description": nil, "failure_code": nil, "failure_message": nil,
		"invoice": in.id, "livemode": false, "metadata": map[string]any{}, "paid": status == "succeeded", "payment_intent": fmt.Sprintf("pi_3Mock%08d", i),
		"receipt_email": in.data["customer_email"], "refunded": false, "status": status,
	}
	if status == "succeeded" {
		d["amount_captured"] = amount
		if i%9 == 4 {
			d["amount_refunded"], d["refunded"] = amount, true
		}
	}
	if status == "failed" {
		d["failure_code"], d["failure_message"] = "card_declined", "Your card was declined."
	}
	return &stObject{id: id, created: created, data: d}
}

// event records an event about obj; the caller holds mu or is seeding.
func (s *Stripe) event(typ string, at int64, obj *stObject, previous map[string]any) {
	s.seq++
	id := fmt.Sprintf("evt_1NG8Du2eZvKYlo%08d", s.seq)
	data := map[string]any{"object": copyMap(obj.data)}
	if previous != nil {
		data["previous_attributes"] = previous
	}
	s.lists["events"] = append(s.lists["events"], &stObject{id: id, created: at, data: map[string]any{
		"id": id, "object": "event", "api_version": stripeAPIVersion, "created": at, "data": data, "livemode": false, "pending_webhooks": 0,
		"request": map[string]any{"id": fmt.Sprintf("req_mock%06d", s.seq), "idempotency_key": nil}, "type": typ,
	}})
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Provider implements Mock.
func (s *Stripe) Provider() string { return "stripe" }

// Hosts implements Mock.
func (s *Stripe) Hosts() []string { return []string{"api"} }

// Values implements Mock.
func (s *Stripe) Values() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return map[string]any{"api_url": s.url("api"), "secret_key": s.opts.SecretKey}
}

// Counts implements Mock: events only as far back as Stripe keeps them; deleted
// objects (all deleted by Change, after a sync could see them) included.
func (s *Stripe) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for name, l := range s.lists {
		for _, o := range l {
			if name != "events" || s.retained(o) {
				out[name]++
			}
		}
	}
	return out
}

func (s *Stripe) retained(o *stObject) bool { return o.created >= s.now().Add(-stripeRetention).Unix() }

// Change implements Mock. Stripe objects carry no update time, so the lists'
// created[gte] filter sees only new objects: per list, one is created and n existing
// ones change (customers are edited, invoices paid, subscriptions canceled), which
// only the events list shows. One customer and one draft invoice are deleted: they
// vanish from their lists, and customer.deleted and invoice.deleted events carry
// their final state.
func (s *Stripe) Change(n int) map[string]Delta {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().Unix()
	events := 0
	pickN := func(name string, fn func(*stObject)) {
		l := s.lists[name]
		for k := 0; k < n && k < len(l); k++ {
			fn(l[(k*len(l)/max(n, 1)+5)%len(l)])
		}
	}
	pickN("customers", func(o *stObject) {
		prev := map[string]any{"description": o.data["description"]}
		o.data["description"] = "Key account"
		s.event("customer.updated", now, o, prev)
		events++
	})
	pickN("invoices", func(o *stObject) {
		o.data["status"], o.data["paid"], o.data["amount_paid"], o.data["amount_remaining"] = "paid", true, o.data["total"], 0
		s.event("invoice.paid", now, o, nil)
		events++
	})
	pickN("subscriptions", func(o *stObject) {
		o.data["status"], o.data["canceled_at"], o.data["ended_at"] = "canceled", now, now
		s.event("customer.subscription.deleted", now, o, nil)
		events++
	})
	// Deletions: the oldest live customer, and the oldest live draft invoice.
	deleted := map[string]int{}
	for _, name := range []string{"customers", "invoices"} {
		for _, o := range s.lists[name] {
			if o.deleted || (name == "invoices" && o.data["status"] != "draft") {
				continue
			}
			o.deleted = true
			final := copyMap(o.data)
			if name == "customers" {
				final["deleted"] = true
			}
			s.event(strings.TrimSuffix(name, "s")+".deleted", now, &stObject{id: o.id, created: o.created, data: final}, nil)
			events++
			deleted[name]++
			break
		}
	}
	c := s.newCustomer(len(s.lists["customers"])+1000, now)
	c.data["name"], c.data["email"] = "Newco", "billing@newco.example"
	s.lists["customers"] = append(s.lists["customers"], c)
	s.event("customer.created", now, c, nil)
	sub := s.newSubscription(len(s.lists["subscriptions"])+1000, now, c)
	s.lists["subscriptions"] = append(s.lists["subscriptions"], sub)
	s.event("customer.subscription.created", now, sub, nil)
	in := s.newInvoice(len(s.lists["invoices"])+1000, now, c)
	s.lists["invoices"] = append(s.lists["invoices"], in)
	s.event("invoice.created", now, in, nil)
	ch := s.newCharge(len(s.lists["charges"])+1000, now, in)
	s.lists["charges"] = append(s.lists["charges"], ch)
	s.event("charge.succeeded", now, ch, nil)
	events += 4
	for _, l := range s.lists {
		sortByStamp(l)
	}
	return map[string]Delta{"customers": {Created: 1, Deleted: deleted["customers"]}, "subscriptions": {Created: 1}, "invoices": {Created: 1, Deleted: deleted["invoices"]},
		"charges": {Created: 1}, "events": {Created: events}}
}

// Handler implements Mock.
func (s *Stripe) Handler(string) http.Handler { return http.HandlerFunc(s.serve) }

func stErr(typ, msg, code, param string) map[string]any {
	e := map[string]any{"type": typ, "message": msg}
	if code != "" {
		e["code"] = code
		e["doc_url"] = "https://stripe.com/docs/error-codes/" + strings.ReplaceAll(code, "_", "-")
	}
	if param != "" {
		e["param"] = param
	}
	return map[string]any{"error": e}
}

func (s *Stripe) key(r *http.Request) (string, bool) {
	if u, _, ok := r.BasicAuth(); ok {
		return u, true
	}
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return t, true
	}
	return "", false
}

func (s *Stripe) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Requests++
	s.reqID++
	w.Header().Set("Request-Id", fmt.Sprintf("req_mock%08d", s.reqID))
	w.Header().Set("Stripe-Version", stripeAPIVersion)
	key, ok := s.key(r)
	if !ok {
		s.reply(w, http.StatusUnauthorized, stErr("invalid_request_error", "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.", "", ""))
		return
	}
	if key != s.opts.SecretKey {
		masked := key
		if len(key) > 12 {
			masked = key[:8] + strings.Repeat("*", len(key)-12) + key[len(key)-4:]
		}
		s.reply(w, http.StatusUnauthorized, stErr("invalid_request_error", "Invalid API Key provided: "+masked, "", ""))
		return
	}
	if ok, wait := s.admit(); !ok {
		if s.opts.RetryAfter {
			w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
			s.asked(time.Duration(retryAfterSeconds(wait)) * time.Second)
		}
		w.Header().Set("Stripe-Should-Retry", "true")
		s.reply(w, http.StatusTooManyRequests, stErr("invalid_request_error", "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.", "rate_limit", ""))
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, "/v1/")
	list := s.lists[name]
	if !ok || list == nil || r.Method != http.MethodGet {
		s.reply(w, http.StatusNotFound, stErr("invalid_request_error", fmt.Sprintf("Unrecognized request URL (%s: %s). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.", r.Method, r.URL.Path), "", ""))
		return
	}
	s.list(w, r, name, list)
}

func (s *Stripe) list(w http.ResponseWriter, r *http.Request, name string, all []*stObject) {
	q := r.URL.Query()
	bad := func(msg, param string) {
		s.reply(w, http.StatusBadRequest, stErr("invalid_request_error", msg, "parameter_invalid_integer", param))
	}
	limit, ok := intParam(r, "limit", 10)
	if !ok {
		bad("Invalid integer: "+q.Get("limit"), "limit")
		return
	}
	if limit < 1 || limit > 100 {
		s.reply(w, http.StatusBadRequest, stErr("invalid_request_error", "This value must be less than or equal to 100 (it currently is '"+q.Get("limit")+"').", "parameter_invalid_integer", "limit"))
		return
	}
	after, before := q.Get("starting_after"), q.Get("ending_before")
	if after != "" && before != "" {
		s.reply(w, http.StatusBadRequest, stErr("invalid_request_error", "You may only specify one of these parameters: ending_before, starting_after.", "", ""))
		return
	}
	// created filters: unix seconds only.
	bounds := map[string]int64{}
	for _, op := range []string{"gte", "gt", "lte", "lt"} {
		p := "created[" + op + "]"
		if v := q.Get(p); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				bad("Invalid integer: "+v, p)
				return
			}
			bounds[op] = n
		}
	}
	if v := q.Get("created"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			bad("Invalid integer: "+v, "created")
			return
		}
		bounds["gte"], bounds["lte"] = n, n
	}
	var expandCustomer bool
	for _, e := range q["expand[]"] {
		if e == "data.customer" && name != "customers" && name != "events" {
			expandCustomer = true
			continue
		}
		s.reply(w, http.StatusBadRequest, stErr("invalid_request_error", fmt.Sprintf("This property cannot be expanded (%s).", e), "", "expand"))
		return
	}
	typ, types := q.Get("type"), q["types[]"]
	if name == "events" && typ != "" && len(types) > 0 {
		s.reply(w, http.StatusBadRequest, stErr("invalid_request_error", "You may only specify one of these parameters: type, types.", "", ""))
		return
	}
	keep := func(o *stObject) bool {
		if o.deleted {
			return false
		}
		if b, ok := bounds["gte"]; ok && o.created < b {
			return false
		}
		if b, ok := bounds["gt"]; ok && o.created <= b {
			return false
		}
		if b, ok := bounds["lte"]; ok && o.created > b {
			return false
		}
		if b, ok := bounds["lt"]; ok && o.created >= b {
			return false
		}
		switch name {
		case "subscriptions":
			st := q.Get("status")
			if st == "" && o.data["status"] == "canceled" {
				return false // canceled subscriptions only with status=all, canceled or ended
			}
			if st != "" && st != "all" && st != "ended" && o.data["status"] != st {
				return false
			}
		case "invoices":
			if st := q.Get("status"); st != "" && o.data["status"] != st {
				return false
			}
		case "events":
			if !s.retained(o) {
				return false
			}
			t := o.data["type"].(string)
			if typ != "" && !(typ == t || strings.HasSuffix(typ, ".*") && strings.HasPrefix(t, strings.TrimSuffix(typ, "*"))) {
				return false
			}
			if len(types) > 0 && !contains(types, t) {
				return false
			}
		}
		if c := q.Get("customer"); c != "" && o.data["customer"] != c {
			return false
		}
		return true
	}
	// Newest first: ties on created are broken by id, descending.
	desc := make([]*stObject, 0, len(all))
	for i := len(all) - 1; i >= 0; i-- {
		if keep(all[i]) {
			desc = append(desc, all[i])
		}
	}
	sort.SliceStable(desc, func(i, j int) bool {
		if desc[i].created != desc[j].created {
			return desc[i].created > desc[j].created
		}
		return desc[i].id > desc[j].id
	})
	start, end := 0, len(desc)
	if after != "" || before != "" {
		ref := after + before
		at := -1
		for i, o := range desc {
			if o.id == ref {
				at = i
			}
		}
		if at < 0 {
			p := "starting_after"
			if before != "" {
				p = "ending_before"
			}
			s.reply(w, http.StatusBadRequest, stErr("invalid_request_error", fmt.Sprintf("No such %s: '%s'", strings.TrimSuffix(name, "s"), ref), "resource_missing", p))
			return
		}
		if after != "" {
			start = at + 1
		} else {
			end = at
			start = max(0, end-limit)
		}
	}
	stop := min(start+limit, end)
	page := make([]map[string]any, 0, stop-start)
	for _, o := range desc[start:stop] {
		d := copyMap(o.data)
		if expandCustomer {
			if c := s.find("customers", fmt.Sprint(d["customer"])); c != nil {
				d["customer"] = copyMap(c.data)
			}
		}
		page = append(page, d)
	}
	hasMore := stop < end
	if before != "" {
		hasMore = start > 0
	}
	s.stats.Records += len(page)
	s.reply(w, http.StatusOK, map[string]any{"object": "list", "url": "/v1/" + name, "has_more": hasMore, "data": page})
}

func (s *Stripe) find(list, id string) *stObject {
	for _, o := range s.lists[list] {
		if o.id == id {
			return o
		}
	}
	return nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
