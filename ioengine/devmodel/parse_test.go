package devmodel_test

import (
	"errors"
	"testing"
	"time"

	"strata/ioengine/devmodel"
)

func TestParseModel(t *testing.T) {
	hdd := devmodel.HDD()
	with := func(f func(*devmodel.Model)) devmodel.Model { m := devmodel.HDD(); f(&m); return m }
	tests := []struct {
		spec    string
		want    devmodel.Model
		wantErr bool
	}{
		{spec: "hdd", want: hdd},
		{spec: "hdd:seek=12ms,rpm=5400,mbps=120", want: with(func(m *devmodel.Model) {
			m.Seek, m.RPM, m.MBps = 12*time.Millisecond, 5400, 120
		})},
		{spec: "hdd:settle=500us,span=4GiB,flush=2ms,seed=7", want: with(func(m *devmodel.Model) {
			m.Settle, m.Span, m.Flush, m.Seed = 500*time.Microsecond, 4<<30, 2*time.Millisecond, 7
		})},
		{spec: "hdd:span=1048576", want: with(func(m *devmodel.Model) { m.Span = 1 << 20 })},
		{spec: "hdd:mbps=0.5", want: with(func(m *devmodel.Model) { m.MBps = 0.5 })},
		{spec: "", wantErr: true},
		{spec: "ssd", wantErr: true},
		{spec: "hdd:", wantErr: true},
		{spec: "hdd:seek", wantErr: true},
		{spec: "hdd:=8ms", wantErr: true},
		{spec: "hdd:heads=4", wantErr: true},
		{spec: "hdd:seek=8ms,seek=9ms", wantErr: true},
		{spec: "hdd:seek=fast", wantErr: true},
		{spec: "hdd:seek=500us", wantErr: true}, // below settle
		{spec: "hdd:settle=0s", wantErr: true},
		{spec: "hdd:rpm=0", wantErr: true},
		{spec: "hdd:rpm=-7200", wantErr: true},
		{spec: "hdd:mbps=0", wantErr: true},
		{spec: "hdd:mbps=NaN", wantErr: true},
		{spec: "hdd:mbps=+Inf", wantErr: true},
		{spec: "hdd:span=0", wantErr: true},
		{spec: "hdd:span=-1GiB", wantErr: true},
		{spec: "hdd:span=99999999999TiB", wantErr: true},
		{spec: "hdd:flush=-1ms", wantErr: true},
		{spec: "hdd:seed=-1", wantErr: true},
		{spec: "hdd:seek=1h", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := devmodel.ParseModel(tc.spec)
			if tc.wantErr {
				if !errors.Is(err, devmodel.ErrInvalidModel) {
					t.Fatalf("ParseModel(%q) = %+v, %v; want ErrInvalidModel", tc.spec, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseModel(%q) = %+v, %v; want %+v", tc.spec, got, err, tc.want)
			}
		})
	}
}

func TestModelStringRoundTrips(t *testing.T) {
	for _, spec := range []string{"hdd", "hdd:seek=8.5ms,settle=0.3ms,rpm=15000,mbps=250.25,span=12345,flush=1ms,seed=3"} {
		m, err := devmodel.ParseModel(spec)
		if err != nil {
			t.Fatal(err)
		}
		back, err := devmodel.ParseModel(m.String())
		if err != nil || back != m {
			t.Fatalf("ParseModel(%q) = %+v, %v; want %+v", m.String(), back, err, m)
		}
	}
}

func FuzzParseModel(f *testing.F) {
	for _, s := range []string{"hdd", "hdd:seek=8ms,rpm=7200,mbps=180", "hdd:span=4GiB,seed=1", "hdd:flush=1ms,settle=2ms", "x:y=z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		m, err := devmodel.ParseModel(spec)
		if err != nil {
			if !errors.Is(err, devmodel.ErrInvalidModel) {
				t.Fatalf("ParseModel(%q): %v does not wrap ErrInvalidModel", spec, err)
			}
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("ParseModel(%q) accepted an invalid model: %v", spec, err)
		}
		back, err := devmodel.ParseModel(m.String())
		if err != nil || back != m {
			t.Fatalf("round trip of %q: %+v, %v; want %+v", spec, back, err, m)
		}
		if m.RandomCost(4096) <= m.SequentialCost(4096) {
			t.Fatalf("%v: a random request is not dearer than a sequential one", m)
		}
	})
}
