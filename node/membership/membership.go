package membership

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Membership is this node's view of the cluster, kept by gossip
// (memberlist: SWIM with Lifeguard). It implements cluster.Members.
type Membership struct {
	opts Options
	log  *slog.Logger
	ml   *memberlist.Memberlist

	// lifeMu serializes the calls that change memberlist's life (update,
	// leave, shutdown): memberlist panics on Leave after Shutdown. It is
	// never taken by memberlist's callbacks.
	lifeMu sync.Mutex

	// mu guards the fields below. It is taken by memberlist's callbacks
	// (with memberlist's own lock held), so no memberlist method is ever
	// called with mu held.
	mu       sync.Mutex
	self     Member
	selfMeta []byte
	boot     uint64           // this run, gossiped in the metadata
	others   map[string]known // by ID; never this node, never Left
	left     map[string]leftRecord
	started  bool
	// leaving: memberlist's Leave ran (memberlist cannot take it back:
	// its leave message stays queued and it no longer refutes suspicion)
	// but the broadcast was not confirmed, so a retry goes straight to
	// delivering the leave.
	leaving  bool
	selfLeft bool // a Leave succeeded
	closed   bool

	changes chan struct{} // cap 1: coalesced change signal for readers
	dirty   chan struct{} // cap 1: the state file needs writing
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// New validates opts, loads the state file, binds the gossip listener and
// returns a Membership that knows itself and the members from the state
// file (as Dead until gossip says otherwise). Start joins the cluster.
func New(opts Options) (*Membership, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	self := Member{ID: opts.NodeID, HTTPAddr: opts.HTTPAddr, Zone: opts.Zone, Weight: opts.Weight, State: Alive}
	boot := rand.Uint64() | 1
	selfMeta, err := encodeMeta(metaOf(self, boot))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	if len(selfMeta) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("%w: metadata is %d bytes, at most %d", ErrInvalidOptions, len(selfMeta), memberlist.MetaMaxSize)
	}
	m := &Membership{
		opts:     opts,
		log:      opts.Logger,
		self:     self,
		selfMeta: selfMeta,
		boot:     boot,
		others:   make(map[string]known),
		left:     make(map[string]leftRecord),
		changes:  make(chan struct{}, 1),
		dirty:    make(chan struct{}, 1),
	}
	if opts.StatePath != "" {
		st, err := loadState(opts.FS, opts.StatePath)
		if err != nil {
			return nil, err
		}
		for _, k := range st.members {
			if k.ID == opts.NodeID {
				continue
			}
			// Nobody has vouched for it since the restart: it stays a
			// home (placement keeps its keys on it) but gets hints, not
			// requests, until gossip reports it alive.
			k.State = Dead
			m.others[k.ID] = k
		}
		for _, r := range st.left {
			m.learnLeft(r)
		}
	}
	cfg, err := m.memberlistConfig()
	if err != nil {
		return nil, err
	}
	ml, err := memberlist.Create(cfg)
	if err != nil {
		return nil, fmt.Errorf("membership: gossip on %s: %w", opts.BindAddr, err)
	}
	m.mu.Lock()
	m.ml = ml
	m.self.GossipAddr = ml.LocalNode().Address()
	m.mu.Unlock()
	return m, nil
}

// memberlistConfig maps Options onto memberlist's LAN configuration.
func (m *Membership) memberlistConfig() (*memberlist.Config, error) {
	o := &m.opts
	cfg := memberlist.DefaultLANConfig()
	cfg.Name = o.NodeID
	host, port, _ := splitHostPort(o.BindAddr) // checked by setDefaults
	if host == "" {
		host = "0.0.0.0"
	}
	cfg.BindAddr, cfg.BindPort = host, port
	cfg.AdvertiseAddr, cfg.AdvertisePort = "", port
	if o.AdvertiseAddr != "" {
		cfg.AdvertiseAddr, cfg.AdvertisePort, _ = splitHostPort(o.AdvertiseAddr)
	}
	t := o.Timing
	cfg.GossipInterval = t.GossipInterval
	cfg.ProbeInterval = t.ProbeInterval
	cfg.ProbeTimeout = t.ProbeTimeout
	cfg.SuspicionMult = t.SuspicionMult
	cfg.PushPullInterval = t.PushPullInterval
	cfg.TCPTimeout = t.TCPTimeout
	cfg.DeadNodeReclaimTime = t.DeadNodeReclaim
	cfg.GossipToTheDeadTime = t.GossipToTheDead
	if err := memberlist.ValidateKey(gossipKey(o.Secret)); err != nil {
		return nil, fmt.Errorf("membership: gossip key: %w", err)
	}
	cfg.SecretKey = gossipKey(o.Secret)
	cfg.GossipVerifyIncoming, cfg.GossipVerifyOutgoing = true, true
	d := &delegates{m: m}
	cfg.Delegate, cfg.Events, cfg.Alive, cfg.Conflict = d, d, d, d
	cfg.Logger = memberlistLogger(m.log)
	return cfg, nil
}

// Start joins the cluster in the background: through the seeds and the
// members from the state file, retried with backoff while none answers,
// and later through dead members now and then, so the halves of a healed
// partition find each other. It never fails because seeds are down. The
// background work runs until ctx ends or Close.
func (m *Membership) Start(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if m.started {
		return nil
	}
	m.started = true
	ctx, m.cancel = context.WithCancel(ctx)
	m.wg.Add(2)
	go func() { defer m.wg.Done(); m.joinLoop(ctx) }()
	go func() { defer m.wg.Done(); m.persistLoop(ctx) }()
	return nil
}

// Self is this node's own member record (GossipAddr as bound).
func (m *Membership) Self() Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.self
}

// Members returns every known member that has not left, this node
// included (until it leaves), sorted by ID. Dead members are included:
// they are still home to their keys.
func (m *Membership) Members() []Member {
	m.mu.Lock()
	out := make([]Member, 0, len(m.others)+1)
	for _, o := range m.others {
		out = append(out, o.Member)
	}
	if !m.selfLeft {
		out = append(out, m.self)
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Changes is signalled when a member joins, leaves, changes state or
// metadata (this node's draining included). The channel holds one
// signal: many changes while nobody reads make one wake-up, and a sender
// never blocks. Read Members after the signal.
func (m *Membership) Changes() <-chan struct{} { return m.changes }

// SetDraining sets this node's draining flag and gossips it: placement on
// every node then leaves this one out, so its keys move away. It waits
// up to Timing.BroadcastTimeout for the update to go out; past that the
// flag still spreads with the next state exchange.
func (m *Membership) SetDraining(draining bool) error {
	m.lifeMu.Lock()
	defer m.lifeMu.Unlock()
	m.mu.Lock()
	switch {
	case m.closed:
		m.mu.Unlock()
		return ErrClosed
	case m.selfLeft:
		m.mu.Unlock()
		return ErrLeft
	case m.self.Draining == draining:
		m.mu.Unlock()
		return nil
	case m.leaving:
		m.mu.Unlock()
		return fmt.Errorf("%w: a leave is under way (retry Leave)", ErrLeft)
	}
	next := m.self
	next.Draining = draining
	meta, err := encodeMeta(metaOf(next, m.boot))
	if err != nil {
		m.mu.Unlock()
		return err
	}
	m.self, m.selfMeta = next, meta
	m.mu.Unlock()
	m.notify()
	m.log.Info("membership: draining", "node", next.ID, "draining", draining)
	if err := m.ml.UpdateNode(m.opts.Timing.BroadcastTimeout); err != nil {
		m.log.Warn("membership: draining update not broadcast yet; it spreads with the next state exchange", "err", err)
	}
	return nil
}

// Leave tells the cluster this node leaves for good: the others remove it
// from their members (placement moves its keys away; drain first). It
// waits for the broadcast to go out, bounded by ctx (or
// Timing.BroadcastTimeout when ctx has no deadline). The node keeps
// answering gossip until Close.
//
// A Leave that fails (the broadcast not confirmed in time) leaves the node
// a member here (Self, Members; SetDraining to the current value), and can
// be retried. memberlist cannot take its leave back, so a retry does not
// start over: it delivers the leave by a full state exchange with one live
// member (which passes it on), and succeeds once one answered.
func (m *Membership) Leave(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.lifeMu.Lock()
	defer m.lifeMu.Unlock()
	m.mu.Lock()
	closed, left, retry := m.closed, m.selfLeft, m.leaving
	m.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if left {
		return nil
	}
	timeout := m.opts.Timing.BroadcastTimeout
	if deadline, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(deadline), 2*time.Millisecond)
	}
	var err error
	if retry {
		err = m.deliverLeave(ctx)
	} else {
		err = m.startLeave(timeout)
	}
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w: %w", ctxErr, err)
		}
		return fmt.Errorf("membership: leave broadcast (retry Leave): %w", err)
	}
	m.mu.Lock()
	m.selfLeft = true
	m.self.State = Left
	m.mu.Unlock()
	m.notify()
	m.log.Info("membership: left the cluster", "node", m.opts.NodeID)
	return nil
}

// startLeave gossips the leaving flag, then memberlist's leave, and waits
// up to timeout for both broadcasts. Caller holds lifeMu.
func (m *Membership) startLeave(timeout time.Duration) error {
	// First the leaving flag, so the others tell this leave from a death
	// (memberlist reports both as NotifyLeave); then the leave itself.
	m.mu.Lock()
	leaving := metaOf(m.self, m.boot)
	leaving.Leaving = true
	meta, err := encodeMeta(leaving)
	if err == nil {
		m.selfMeta = meta
	}
	m.mu.Unlock()
	if err != nil {
		return err
	}
	start := time.Now()
	if err := m.ml.UpdateNode(timeout / 2); err != nil {
		m.log.Warn("membership: leaving flag not broadcast in time; some members may keep this node as dead", "err", err)
	}
	m.mu.Lock()
	m.leaving = true
	// Its own record too: until Close, this node's push/pulls tell
	// peers that missed both the flag and the leave message.
	m.left[m.opts.NodeID] = leftRecord{ID: m.opts.NodeID, Boot: m.boot, At: m.nowMilli()}
	m.mu.Unlock()
	return m.ml.Leave(max(timeout-time.Since(start), time.Millisecond))
}

// deliverLeave is a retry of a Leave whose broadcast was not confirmed:
// memberlist's leave is under way, so a push/pull with a live member
// (memberlist's Join) carries this node's left state and left record to
// it, and it passes them on. One answer is enough. Each attempt is
// bounded by Timing.TCPTimeout; ctx is checked between them. With no
// live member there is nobody to tell, as for memberlist's own Leave.
// Caller holds lifeMu.
func (m *Membership) deliverLeave(ctx context.Context) error {
	var targets []string
	m.mu.Lock()
	for _, o := range m.others {
		if o.Reachable() && o.GossipAddr != "" {
			targets = append(targets, o.GossipAddr)
		}
	}
	m.mu.Unlock()
	slices.Sort(targets)
	var errs []error
	for _, addr := range targets {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		n, err := m.ml.Join([]string{addr})
		if n > 0 {
			return nil
		}
		if err == nil {
			err = errors.New("no answer")
		}
		errs = append(errs, fmt.Errorf("%s: %w", addr, err))
	}
	return errors.Join(errs...)
}

// Close stops gossip without a leave (the others will see this node
// suspect, then dead, and keep it as a member: a restart is not a leave),
// waits for the background work, and writes the state file one last time.
func (m *Membership) Close() error {
	m.lifeMu.Lock()
	defer m.lifeMu.Unlock()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	if m.cancel != nil {
		m.cancel()
	}
	m.mu.Unlock()
	m.wg.Wait()
	err := m.ml.Shutdown()
	if err != nil {
		err = fmt.Errorf("membership: shutdown: %w", err)
	}
	return errors.Join(err, m.persist())
}

// notify signals Changes without blocking.
func (m *Membership) notify() {
	select {
	case m.changes <- struct{}{}:
	default:
	}
}

// markDirty asks the persister to rewrite the state file.
func (m *Membership) markDirty() {
	select {
	case m.dirty <- struct{}{}:
	default:
	}
}

// persistLoop writes the state file after changes, coalesced, at most
// once per PersistInterval.
func (m *Membership) persistLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.dirty:
			if err := m.persist(); err != nil {
				m.log.Error("membership: cannot write the state file; a restart may forget members that are down", "err", err)
			}
		}
		pause := time.NewTimer(m.opts.Timing.PersistInterval)
		select {
		case <-ctx.Done():
			pause.Stop()
			return
		case <-pause.C:
		}
	}
}

// persist writes the known members (this node excluded) to StatePath.
func (m *Membership) persist() error {
	if m.opts.StatePath == "" {
		return nil
	}
	m.mu.Lock()
	st := state{members: make([]known, 0, len(m.others)), left: m.leftRecords()}
	for _, o := range m.others {
		st.members = append(st.members, o)
	}
	m.mu.Unlock()
	return saveState(m.opts.FS, m.opts.StatePath, st)
}

// known is a member as this node holds it: the Member and the run of its
// process that gossip last showed (0 when never seen).
type known struct {
	Member
	boot uint64
}

// metaOf is the gossiped part of a member.
func metaOf(m Member, boot uint64) nodeMeta {
	return nodeMeta{HTTPAddr: m.HTTPAddr, Zone: m.Zone, Weight: m.Weight, Boot: boot, Draining: m.Draining}
}
