// Package membership keeps the cluster's member list by gossip: a wrapper
// around hashicorp/memberlist (SWIM with Lifeguard) that turns its events
// into Member records with the metadata placement needs, and implements
// cluster.Members. It does not import strata/node.
//
// # Basics
//
// New validates Options, loads the state file, binds the gossip listener
// (UDP and TCP on one port) and returns a Membership that knows itself and
// the members it persisted. Start joins the cluster in the background.
// Self, Members and Changes are the view the cluster reads; SetDraining
// gossips a decommission; Leave says goodbye; Close stops without one.
//
//	m, err := membership.New(membership.Options{NodeID: "n1",
//		BindAddr: "10.0.0.1:7946", HTTPAddr: "10.0.0.1:7070",
//		Seeds: []string{"10.0.0.2:7946"}, Secret: secret,
//		StatePath: "/var/lib/strata/members.json"})
//	err = m.Start(ctx)
//	defer m.Close()
//
// # Promises
//
//   - States: an Alive member is reachable (requests go to it); a Dead
//     member (memberlist's suspicion timed out) stays a member, still home
//     to its keys, until it comes back or leaves; a member that left
//     cleanly (Leave) is removed. Members is sorted by ID and includes this
//     node until it leaves.
//   - Start never fails because seeds are down: a node whose seeds do not
//     answer serves alone and keeps trying with backoff (the seeds and
//     every member from the state file) until one answers. Once in, it
//     retries dead members every ReconnectInterval, so the halves of a
//     healed partition merge again (memberlist alone exchanges state with
//     live nodes only).
//   - Gossip is always encrypted and authenticated (AES-256-GCM, both
//     directions verified) with a key derived from the cluster secret,
//     SHA-256("strata-gossip-v1\x00" + secret). An empty secret is refused
//     (ErrNoSecret); a node with another secret cannot join.
//   - The state file (StatePath) lists every known member but this one and
//     the left records, rewritten after changes (at most once per
//     Timing.PersistInterval, and at Close) with write-temp, fsync,
//     rename, fsync of the directory. After a restart those members
//     are known at once, as Dead until gossip reports them, so a restarted
//     node still knows who is home for what while a member is down.
//   - A leave is never taken for a death, nor a death for a leave.
//     memberlist reports both through NotifyLeave and never fills in
//     Node.State, so Leave first gossips a leaving flag in its metadata,
//     and every node that removes a member keeps a left record (ID, the
//     run's random boot id, time) for LeftRetention, persisted and passed
//     on in every push/pull. A node that missed the leave (down at the
//     time, or the leave message overtook the flag) removes the member
//     when a record reaches it; a record names one run, so it never
//     removes the node restarted later.
//   - A Leave that fails (its broadcast not confirmed in time) leaves the
//     node a member here and can be retried. memberlist cannot take its
//     leave back (the message stays queued, suspicion is no longer
//     refuted), so the retry delivers the leave by a state exchange with
//     a live member and succeeds once one answered; SetDraining may then
//     only keep the current flag.
//   - Every node learns every dead member, also one that died before it
//     joined or while its state file was wiped. memberlist forgets a dead
//     node after Timing.GossipToTheDead and ignores a dead node it never
//     knew, so each push/pull also carries the members this node holds as
//     Dead (ID, boot id, metadata, gossip address; bounded, versioned,
//     see exchange.go); the receiver adds those it does not know, as Dead,
//     unless a left record names that run. Nodes that exchanged state
//     thus hold the same members and place keys alike.
//   - Metadata (HTTP address, zone, weight, boot id, draining, leaving)
//     travels in memberlist's node meta, a versioned binary encoding of at
//     most 512 bytes (see meta.go); a node whose metadata does not decode
//     is not admitted.
//   - Changes holds one signal and never blocks gossip: readers re-read
//     Members after a wake-up.
//   - memberlist logs through the Options' slog logger at Debug ([ERR]
//     lines at Warn); member joins, deaths and leaves are logged at Info.
//
// # Caveats
//
//   - Suspect is never reported: memberlist raises no event for it, its
//     Members() leaves Node.State at zero (alive) for every node, and its
//     PingDelegate sees only this node's successful probes. A member goes
//     from Alive to Dead once memberlist's suspicion (Lifeguard) times
//     out; until then it is Alive, which for the cluster means the same
//     (Reachable).
//   - This node's own draining flag is not persisted: a restarted node
//     comes back placed, and a decommission has to be asked again.
//   - A restarted node should keep its gossip address, or wait
//     Timing.DeadNodeReclaim after its old record died: memberlist
//     refuses a live ID from a new address (NotifyConflict, logged).
//   - Left records expire after LeftRetention: a node down for longer
//     than that keeps a member that left meanwhile as Dead, and passes it
//     on as Dead to the others, which then hold it again until it is
//     removed with a leave.
//   - A member that is dead for good (its host gone, no leave) stays a
//     Dead member on every node, also those that join later: that is what
//     keeps the views alike. To take it out, start a node under its ID
//     (at its gossip address) and have that one leave.
package membership
