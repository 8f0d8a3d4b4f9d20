package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A start or reload reads every enabled integration with its objects in one pass
// (EachEnabledIntegration) and writes the due times that changed in batches
// (SetNextDues), which, like SetNextDue, never overwrite a due time that moved since.
func TestEachEnabledIntegrationAndSetNextDues(t *testing.T) {
	backends(t, func(t *testing.T, s *Store, clock *testClock) {
		ctx := context.Background()
		for _, id := range []string{"a", "b", "c", "d"} {
			addLeased(t, s, id, "acme", "crm")
		}
		require.NoError(t, s.EnsureObjects(ctx, "a", []string{"accounts", "contacts"}))
		require.NoError(t, s.EnsureObjects(ctx, "b", []string{"accounts"}))
		require.NoError(t, s.EnsureObjects(ctx, "d", []string{"tickets"}))
		require.NoError(t, s.SetIntegrationStatus(ctx, "b", StatusDisabled, "by hand"))
		require.NoError(t, s.SetIntegrationOverride(ctx, "d", "customer: acme\nprovider: crm\n"))

		got := map[string][]string{}
		overrides := map[string]string{}
		var objs []*Object
		require.NoError(t, s.EachEnabledIntegration(ctx, func(in *ScheduledIntegration) error {
			assert.NotContains(t, got, in.ID, "each integration once")
			got[in.ID] = []string{}
			for _, o := range in.Objects {
				assert.Equal(t, in.ID, o.IntegrationID)
				got[in.ID] = append(got[in.ID], o.Type)
				objs = append(objs, o)
			}
			overrides[in.ID] = in.Override
			return nil
		}))
		assert.Equal(t, map[string][]string{"a": {"accounts", "contacts"}, "c": {}, "d": {"tickets"}}, got, "b is disabled")
		assert.Equal(t, map[string]string{"a": "", "c": "", "d": "customer: acme\nprovider: crm\n"}, overrides)

		// Objects are unscheduled (zero): the first change applies, the second expects a
		// due time the object no longer has, the third moves the one just set.
		next := clock.now().Add(time.Hour).Truncate(time.Millisecond)
		n, err := s.SetNextDues(ctx, []NextDue{
			{ObjectID: objs[0].ID, Next: next},
			{ObjectID: objs[1].ID, Old: next, Next: next},
			{ObjectID: objs[2].ID, Next: next},
			{ObjectID: objs[2].ID, Old: next, Next: next.Add(time.Minute)},
		})
		require.NoError(t, err)
		assert.Equal(t, 3, n)
		after, err := s.Objects(ctx, "a")
		require.NoError(t, err)
		assert.True(t, after[0].NextDueAt.Equal(next), "%v", after[0].NextDueAt)
		assert.True(t, after[1].NextDueAt.IsZero(), "a stale change is not applied: %v", after[1].NextDueAt)
		after, err = s.Objects(ctx, "d")
		require.NoError(t, err)
		assert.True(t, after[0].NextDueAt.Equal(next.Add(time.Minute)), "%v", after[0].NextDueAt)
	})
}

// A disabled integration's objects leave the schedule (Never), even when a run that
// was going on when it was disabled finishes afterwards; enabling it makes them due at
// once, and claimable.
func TestDisabledIntegrationsLeaveTheSchedule(t *testing.T) {
	for _, disable := range []string{"SetIntegrationStatus", "DisableIntegration"} {
		t.Run(disable, func(t *testing.T) {
			backends(t, func(t *testing.T, s *Store, clock *testClock) {
				ctx := context.Background()
				addLeased(t, s, "a", "acme", "crm")
				obj := succeed(t, s, "a", "accounts")
				ok, err := s.SetNextDue(ctx, obj.ID, time.Time{}, clock.now().Add(-time.Hour))
				require.NoError(t, err)
				require.True(t, ok)
				require.Equal(t, "a", claimID(t, s, "d1"))
				started := clock.now()

				if disable == "SetIntegrationStatus" {
					require.NoError(t, s.SetIntegrationStatus(ctx, "a", StatusDisabled, "by hand"))
				} else {
					done, err := s.DisableIntegration(ctx, "a", "failing")
					require.NoError(t, err)
					require.True(t, done)
				}
				// The run that held the lease ends after the integration was disabled.
				require.NoError(t, s.ScheduleObject(ctx, obj.ID, "d1", started, clock.now().Add(time.Hour)))
				require.NoError(t, s.ReleaseLease(ctx, "a", "d1"))
				objs, err := s.Objects(ctx, "a")
				require.NoError(t, err)
				assert.True(t, objs[0].NextDueAt.Equal(Never), "%v", objs[0].NextDueAt)
				_, ok, err = s.NextWake(ctx, "d2", nil)
				require.NoError(t, err)
				assert.False(t, ok, "nothing scheduled")

				require.NoError(t, s.SetIntegrationStatus(ctx, "a", StatusEnabled, ""))
				objs, err = s.Objects(ctx, "a")
				require.NoError(t, err)
				assert.True(t, objs[0].NextDueAt.IsZero(), "unscheduled: due at once: %v", objs[0].NextDueAt)
				assert.Equal(t, "a", claimID(t, s, "d2"))
			})
		})
	}
}

// A reload that adds a type creates it for every integration at once
// (EnsureObjectsOf), due when it says, and no longer counts them as new.
func TestEnsureObjectsOf(t *testing.T) {
	backends(t, func(t *testing.T, s *Store, clock *testClock) {
		ctx := context.Background()
		for _, id := range []string{"a", "b"} {
			addLeased(t, s, id, "acme", "crm")
		}
		require.NoError(t, s.EnsureObjects(ctx, "a", []string{"accounts"}))
		due := clock.now().Truncate(time.Millisecond)
		require.NoError(t, s.EnsureObjectsOf(ctx, []ObjectKey{{"a", "accounts"}, {"a", "tickets"}, {"b", "accounts"}}, due))
		for id, want := range map[string][]string{"a": {"accounts", "tickets"}, "b": {"accounts"}} {
			objs, err := s.Objects(ctx, id)
			require.NoError(t, err)
			var types []string
			for _, o := range objs {
				types = append(types, o.Type)
				if id == "a" && o.Type == "accounts" {
					assert.True(t, o.NextDueAt.IsZero(), "an existing object is left as it was")
				} else {
					assert.True(t, o.NextDueAt.Equal(due), "%s/%s: %v", id, o.Type, o.NextDueAt)
				}
			}
			assert.Equal(t, want, types)
		}
		var fresh int
		require.NoError(t, s.DB().QueryRow(`SELECT COUNT(*) FROM integrations WHERE has_objects = 0`).Scan(&fresh))
		assert.Zero(t, fresh)
	})
}
