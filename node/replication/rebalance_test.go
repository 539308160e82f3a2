package replication

import (
	"slices"
	"testing"
)

func TestPlanMove(t *testing.T) {
	for _, c := range []struct {
		name    string
		homes   []string
		action  MoveAction
		targets []string
	}{
		{"still a home", []string{"a", "self", "c"}, Keep, nil},
		{"no longer a home", []string{"a", "b", "d"}, PushThenDrop, []string{"a", "b", "d"}},
		{"no homes at all", nil, PushThenDrop, nil},
	} {
		action, targets := PlanMove("self", c.homes)
		if action != c.action || !slices.Equal(targets, c.targets) {
			t.Errorf("%s: %v %v, want %v %v", c.name, action, targets, c.action, c.targets)
		}
	}
}

func TestDropAllowed(t *testing.T) {
	homes := []string{"a", "b", "c"}
	for _, c := range []struct {
		name      string
		homes     []string
		confirmed map[string]bool
		want      bool
	}{
		{"all confirmed", homes, map[string]bool{"a": true, "b": true, "c": true}, true},
		{"one failed", homes, map[string]bool{"a": true, "b": true, "c": false}, false},
		{"one missing", homes, map[string]bool{"a": true, "c": true}, false},
		{"no homes: keep the only copy", nil, map[string]bool{}, false},
	} {
		if got := DropAllowed(c.homes, c.confirmed); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
