package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/intakehq/intake/engine/config"
)

// ReloadResult says what an accepted reload did.
type ReloadResult struct {
	// Providers are the connectors now loaded.
	Providers []string `json:"providers"`
	// RestartNeeded lists keys whose new value waits for a restart (the running
	// value is kept).
	RestartNeeded []string `json:"restart_needed,omitempty"`
}

// ReloadError is a reload refused: the running configuration, connectors and
// overrides stay as they were.
type ReloadError struct {
	Problems []string
}

func (e *ReloadError) Error() string {
	return "reload refused, the running configuration is kept:\n" + strings.Join(e.Problems, "\n")
}

// Reload reads intake.yaml, the connectors and every override file again. The new
// set is checked as a whole before it replaces the running one (a file that does not
// load refuses the reload, and the daemon keeps running with what it had); once
// accepted, it applies to the next sync of each integration, and every object's next
// run is recomputed with the new frequencies.
func (d *Daemon) Reload(ctx context.Context) (*ReloadResult, error) {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	old := d.runtime()
	refuse := func(problems []string) (*ReloadResult, error) {
		err := &ReloadError{Problems: problems}
		d.metrics.reloads.WithLabelValues("refused").Inc()
		d.metrics.configLoaded(false, d.clock.Now())
		for _, p := range problems {
			d.log.Error("reload refused", "problem", p)
		}
		return nil, err
	}
	cfg, err := config.Load(config.Options{File: d.opts.ConfigFile, Getenv: d.opts.Getenv, Flags: d.opts.Flags})
	if err != nil {
		return refuse(lines(err))
	}
	restart := keepRunning(old.cfg, cfg)
	rt, problems := d.build(cfg)
	if len(problems) > 0 {
		var ps []string
		for _, p := range problems {
			ps = append(ps, lines(p)...)
		}
		return refuse(ps)
	}
	rt.oauth = d.oauthHandler(rt)
	d.rt.Store(rt)
	d.loop.Configure(cfg.Lease.Duration.D(), cfg.ProviderCaps())
	if d.opts.LogLevel != nil {
		var lvl slog.Level
		if err := lvl.UnmarshalText([]byte(cfg.Log.Level)); err == nil {
			d.opts.LogLevel.Set(lvl)
		}
	}
	d.metrics.reloads.WithLabelValues("ok").Inc()
	d.metrics.configLoaded(true, d.clock.Now())
	d.releaseHolds(ctx)
	if err := d.reconcileAll(ctx, rt); err != nil {
		d.log.Error("reschedule after reload", "error", err)
	}
	d.loop.Wake()
	res := &ReloadResult{Providers: rt.catalog.Providers(), RestartNeeded: restart}
	d.log.Info("reloaded", "providers", len(res.Providers), "restart_needed", strings.Join(restart, ","))
	return res, nil
}

// keepRunning copies into next the values a reload cannot change in a running
// daemon, and names those that differ.
func keepRunning(old, next *config.Config) []string {
	var changed []string
	if old.Store != next.Store {
		changed = append(changed, "store")
	}
	if old.KeyFile != next.KeyFile {
		changed = append(changed, "key_file")
	}
	if old.Workers != next.Workers {
		changed = append(changed, "workers")
	}
	if old.Admin != next.Admin {
		changed = append(changed, "admin")
	}
	if old.Log.Format != next.Log.Format {
		changed = append(changed, "log.format")
	}
	next.Store, next.KeyFile, next.Workers, next.Admin, next.Log.Format = old.Store, old.KeyFile, old.Workers, old.Admin, old.Log.Format
	return changed
}

// lines splits an error into its lines (config and spec errors list one problem per
// line).
func lines(err error) []string {
	var out []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		out = []string{fmt.Sprint(err)}
	}
	return out
}
