package main

import (
	"fmt"
	"io"
	"time"

	"strata/ioengine"
	"strata/ioengine/devmodel"
)

// --device-model puts the embedded store's HDD tier on a modelled disk
// head (package ioengine/devmodel): every read, write and fdatasync of the
// volumes waits for one head and pays seek, rotation and transfer time, so
// reads feel uploads as they would on a spinning disk, on a machine whose
// real disk is an SSD. Only the hdd_dirs go through it (all of them share
// the one head); the SSD cache and the index stay on the real disk.

const deviceModelUsage = "with --embedded: put the HDD tier on one modelled disk head, `SPEC` = hdd or hdd:seek=8ms,settle=1ms,rpm=7200,mbps=180,span=1GiB,flush=0s,seed=0 (reads, writes and syncs share its time)"

// addDeviceModelFlag registers --device-model on fs.
func addDeviceModelFlag(fs *flagSet) *string {
	return fs.String("device-model", "", deviceModelUsage)
}

// setDeviceModel checks --device-model SPEC and records it in c in its
// canonical form, which the header line and the JSON show.
func (c *benchConfig) setDeviceModel(spec string) error {
	if spec == "" {
		return nil
	}
	if c.Mode != "embedded" {
		return fmt.Errorf("--device-model needs --embedded (over HTTP the node's disks are real)")
	}
	m, err := devmodel.ParseModel(spec)
	if err != nil {
		return fmt.Errorf("--device-model: %w", err)
	}
	c.DeviceModel = m.String()
	c.deviceModel = &m
	return nil
}

// benchDataFS is the file system the embedded store's HDD directories
// use: nil (the real one) without --device-model, else the modelled head
// over the real one.
func benchDataFS(cfg benchConfig) (*devmodel.FS, error) {
	if cfg.deviceModel == nil {
		return nil, nil
	}
	return devmodel.Wrap(ioengine.OSFS(), *cfg.deviceModel, devmodel.Options{})
}

// fsOrNil keeps a nil *devmodel.FS from becoming a non-nil ioengine.FS.
func fsOrNil(d *devmodel.FS) ioengine.FS {
	if d == nil {
		return nil
	}
	return d
}

// reportDeviceModel prints what the modelled head did over elapsed: how
// busy it was (near 100% means the disk was the bottleneck) and how long
// requests queued for it.
func reportDeviceModel(w io.Writer, d *devmodel.FS, elapsed time.Duration) {
	if d == nil {
		return
	}
	st := d.Stats()
	requests := st.Reads + st.Writes + st.Syncs
	var meanWait time.Duration
	var seqShare float64
	if requests > 0 {
		meanWait = st.Wait / time.Duration(requests)
	}
	if st.Reads+st.Writes > 0 {
		seqShare = 100 * float64(st.Sequential) / float64(st.Reads+st.Writes)
	}
	fmt.Fprintf(w, "device model %s: head busy %.1fs of %.1fs (%.0f%%): %d reads (%s), %d writes (%s), %d syncs, %.0f%% sequential; seek %.1fs, rotation %.1fs, transfer %.1fs; mean queue wait %v\n",
		d.Model().Name, st.Busy.Seconds(), elapsed.Seconds(), 100*st.Busy.Seconds()/max(elapsed.Seconds(), 1e-9),
		st.Reads, formatBytes(int64(st.ReadBytes)), st.Writes, formatBytes(int64(st.WriteBytes)), st.Syncs, seqShare,
		st.Seek.Seconds(), st.Rotation.Seconds(), st.Transfer.Seconds(), meanWait.Round(time.Microsecond))
}

// deviceNote is the header line's note of the modelled head, if any.
func deviceNote(d *devmodel.FS) string {
	if d == nil {
		return ""
	}
	return " device-model=" + d.Model().String()
}
