// Package pace keeps reads fast while uploads stream: a controller that
// watches read latency against a target and sets a budget for upload
// bytes, and a token-bucket Pacer that holds uploads to that budget.
//
// # Basics
//
// New returns a Controller for Options (a read latency target, a window,
// the control law's constants and a clock). The node calls Observe with
// the latency of each read it wants fast, and passes upload bytes through
// a Pacer (NewPacer): Reserve(n) says how long n bytes must wait, Wait
// sleeps that long or until its context ends. The Controller does no I/O,
// starts no goroutine and reads time only from Options.Now, so a fake
// clock makes every decision reproducible in tests.
//
// Time is cut into slots of Options.Interval. Observations and upload
// bytes land in the current slot (lock-free, no allocation); at the first
// call after a slot ends the controller evaluates once:
//
//   - no read in the last Window: the budget is lifted (Limit reports 0,
//     uploads run at full speed), whatever happened before;
//   - the Quantile q (p99 by default) of the reads observed since the
//     last change is above Target: back off in proportion, Limit = Limit *
//     Target/q (at least Decrease, at most 0.9), or, from unlimited, the
//     upload rate measured in the window (since uploads began, if that was
//     later) times that; never below MinRate (at the floor the slow reads
//     count as acted on, so the next decision starts afresh);
//   - q is at most Target * Headroom: recover in proportion to the room
//     left, Limit = Limit * min(Growth, Target*Headroom/q) + Increase, so
//     reads far under the target bring the limit back from MinRate within
//     about a second; a limit that reaches max(Growth, 1.25) times the upload
//     rate measured since the last change, plus Increase, is not binding
//     and stops growing there;
//   - in between: hold.
//
// With Options.Relative the target in force is the higher of Target and
// Relative times the Quantile of reads in intervals without upload bytes
// (measured within the last BaselineAge), so uploads on a machine too
// busy to meet Target at all are backed off only for what they add.
//
// # Promises
//
//   - A decision is taken only on reads observed after the previous
//     change took effect, so one burst of slow reads backs off once, not
//     once per interval for as long as it stays in the window.
//   - Reads that are slow while no upload bytes flow never limit uploads
//     from unlimited: there is nothing to pace.
//   - The budget never drops below MinRate, so an upload always moves
//     (and never trips a progress timeout because of pacing alone).
//   - Observe and the Pacer's accounting are safe for concurrent use and
//     do not allocate; Wait never holds a lock while it sleeps and returns
//     ctx.Err() as soon as ctx ends.
//
// # Caveats
//
//   - Latencies are kept in logarithmic buckets (4 per power of two), so
//     the quantile is known to within about 19%; the bucket's upper bound
//     is reported, which errs on the slow side.
//   - The controller knows only what it is told: reads slow for a reason
//     pacing cannot fix (a seek on a busy disk) push uploads to MinRate.
//     The node therefore observes reads answered from memory only, whose
//     time is CPU and scheduling: the resource uploads compete for.
package pace
