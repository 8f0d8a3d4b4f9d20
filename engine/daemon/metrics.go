package daemon

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/intakehq/intake/engine/pipeline"
	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/store"
)

// metrics are the daemon's Prometheus metrics, in a registry of its own (several
// daemons may run in one process, in tests). docs/operations.md lists them.
type metrics struct {
	reg        *prometheus.Registry
	records    *prometheus.CounterVec
	pages      *prometheus.CounterVec
	requests   *prometheus.CounterVec
	runs       *prometheus.CounterVec
	durations  *prometheus.HistogramVec
	leases     prometheus.Gauge
	refreshes  *prometheus.CounterVec
	alerts     *prometheus.CounterVec
	reloads    *prometheus.CounterVec
	reloadOK   prometheus.Gauge
	reloadTime prometheus.Gauge
}

func newMetrics(db *store.Store) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "intake_records_total",
			Help: "Records retrieved, by provider, interaction type and what storing them did (new, updated, unchanged, quarantined, filtered)."},
			[]string{"provider", "type", "outcome"}),
		pages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "intake_pages_total",
			Help: "Pages committed, by provider and interaction type."}, []string{"provider", "type"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "intake_requests_total",
			Help: "HTTP requests to providers (every attempt, retries included), by provider and status code (\"error\" when no answer came)."},
			[]string{"provider", "status"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "intake_sync_runs_total",
			Help: "Sync runs finished, by provider, interaction type and status (succeeded, failed, cancelled)."},
			[]string{"provider", "type", "status"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "intake_sync_duration_seconds",
			Help:    "Duration of sync runs, by provider, interaction type and status.",
			Buckets: []float64{0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}},
			[]string{"provider", "type", "status"}),
		leases: prometheus.NewGauge(prometheus.GaugeOpts{Name: "intake_leases_held",
			Help: "Integrations this daemon is syncing, each under its lease."}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "intake_token_refreshes_total",
			Help: "OAuth2 and session tokens obtained or refreshed and saved, by provider."}, []string{"provider"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "intake_alerts_total",
			Help: "Alerts raised by this daemon, by kind (sync_failed, integration_disabled, recovered)."}, []string{"kind"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "intake_config_reloads_total",
			Help: "Reloads of the configuration, connectors and overrides, by result (ok, refused)."}, []string{"result"}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{Name: "intake_config_last_reload_successful",
			Help: "1 when the last reload was accepted (or none was tried), 0 when it was refused and an older set is running."}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{Name: "intake_config_last_reload_success_timestamp_seconds",
			Help: "When the running configuration was loaded, in Unix seconds."}),
	}
	backlog := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "intake_due_backlog",
		Help: "Integration objects due and waiting for a worker, across every daemon of the database (read at each scrape)."},
		func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			n, err := db.DueBacklog(ctx)
			if err != nil {
				return -1
			}
			return float64(n)
		})
	m.reg.MustRegister(m.records, m.pages, m.requests, m.runs, m.durations, m.leases, m.refreshes, m.alerts, m.reloads, m.reloadOK, m.reloadTime, backlog,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) page(provider string, ev pipeline.PageEvent) {
	m.pages.WithLabelValues(provider, ev.Type).Inc()
	for outcome, n := range map[string]int{"new": ev.Result.New, "updated": ev.Result.Updated, "unchanged": ev.Result.Unchanged,
		"quarantined": ev.Result.Quarantined, "filtered": ev.Result.Filtered} {
		if n > 0 {
			m.records.WithLabelValues(provider, ev.Type, outcome).Add(float64(n))
		}
	}
}

func (m *metrics) run(provider, typ string, run *store.Run) {
	m.runs.WithLabelValues(provider, typ, run.Status).Inc()
	if !run.FinishedAt.IsZero() {
		m.durations.WithLabelValues(provider, typ, run.Status).Observe(run.FinishedAt.Sub(run.StartedAt).Seconds())
	}
}

// trace counts the HTTP requests of one provider's client.
func (m *metrics) trace(provider string) func(retrieve.TraceEvent) {
	return func(ev retrieve.TraceEvent) {
		if ev.Kind == "request" {
			m.requests.WithLabelValues(provider, statusLabel(ev.Status, ev.Err)).Inc()
		}
	}
}

func (m *metrics) configLoaded(ok bool, at time.Time) {
	if ok {
		m.reloadOK.Set(1)
		m.reloadTime.Set(float64(at.Unix()))
		return
	}
	m.reloadOK.Set(0)
}
