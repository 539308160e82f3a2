package cluster

import (
	"encoding/json"
	"testing"
)

// Status lists every member with its state, and marshals to JSON.
func TestStatus(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	tc.setDead("n3")
	st := tc.node("n1").c.Status()
	if st.Self != "n1" || st.Replicas != 3 || st.WriteQuorum != 2 || st.ReadQuorum != 2 || len(st.View) != 16 {
		t.Errorf("status header %+v", st)
	}
	states := map[string]string{}
	for _, m := range st.Members {
		states[m.ID] = m.State
		if !m.Placed || m.Weight != 1 || m.HTTPAddr == "" {
			t.Errorf("member %+v", m)
		}
		if m.Self != (m.ID == "n1") {
			t.Errorf("member %s: self %v", m.ID, m.Self)
		}
	}
	if states["n1"] != "alive" || states["n2"] != "alive" || states["n3"] != "dead" {
		t.Errorf("states %v", states)
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"self", "replicas", "write_quorum", "read_quorum", "view", "members", "background"} {
		if _, ok := back[field]; !ok {
			t.Errorf("JSON %s lacks %q", b, field)
		}
	}
}
