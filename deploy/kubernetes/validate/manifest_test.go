package validate

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"strata/node"
)

const manifestPath = "../strata.yaml"

// manifest is the decoded strata.yaml.
type manifest struct {
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
	services   map[string]*corev1.Service
	pdbs       []*policyv1.PodDisruptionBudget
	sets       []*appsv1.StatefulSet
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

// decode splits data into YAML documents and decodes each strictly into
// the API type its apiVersion and kind name.
func decode(data []byte) (*manifest, error) {
	m := &manifest{configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}, services: map[string]*corev1.Service{}}
	for i, doc := range docSep.Split(string(data), -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		var obj any
		var name *string
		switch tm.APIVersion + "/" + tm.Kind {
		case "v1/ConfigMap":
			o := &corev1.ConfigMap{}
			obj, name = o, &o.Name
			defer func() { m.configMaps[o.Name] = o }()
		case "v1/Secret":
			o := &corev1.Secret{}
			obj, name = o, &o.Name
			defer func() { m.secrets[o.Name] = o }()
		case "v1/Service":
			o := &corev1.Service{}
			obj, name = o, &o.Name
			defer func() { m.services[o.Name] = o }()
		case "policy/v1/PodDisruptionBudget":
			o := &policyv1.PodDisruptionBudget{}
			obj, name = o, &o.Name
			m.pdbs = append(m.pdbs, o)
		case "apps/v1/StatefulSet":
			o := &appsv1.StatefulSet{}
			obj, name = o, &o.Name
			m.sets = append(m.sets, o)
		default:
			return nil, fmt.Errorf("document %d: unexpected %s %s", i, tm.APIVersion, tm.Kind)
		}
		if err := decodeStrict([]byte(doc), obj); err != nil {
			return nil, fmt.Errorf("document %d (%s): %w", i, tm.Kind, err)
		}
		if *name == "" {
			return nil, fmt.Errorf("document %d (%s): no metadata.name", i, tm.Kind)
		}
	}
	return m, nil
}

// decodeStrict decodes one YAML document into obj as the API server's
// strict field validation does: duplicate keys, unknown fields and fields
// in the wrong case ("clusterIp") are errors. sigs.k8s.io/yaml's own
// UnmarshalStrict goes through encoding/json, which matches field names
// case-insensitively, so the JSON step uses sigs.k8s.io/json.
func decodeStrict(doc []byte, obj any) error {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strict, err := kjson.UnmarshalStrict(js, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

func stripComments(doc string) string {
	var b strings.Builder
	for line := range strings.Lines(doc) {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
		}
	}
	return b.String()
}

func load(t *testing.T) *manifest {
	t.Helper()
	data, err := os.ReadFile(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	m, err := decode(data)
	if err != nil {
		t.Fatalf("%s: %v", manifestPath, err)
	}
	return m
}

// TestStrictDecodeRefusesUnknownFields: the decoding this check relies on
// refuses a misspelt field (so a typo in strata.yaml fails CI) and an
// unknown kind.
func TestStrictDecodeRefusesUnknownFields(t *testing.T) {
	for name, doc := range map[string]string{
		"misspelt field":  "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  clusterIp: None\n",
		"duplicate field": "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n  name: y\n",
		"unknown kind":    "apiVersion: v1\nkind: Servce\nmetadata:\n  name: x\n",
		"no name":         "apiVersion: v1\nkind: Service\nspec:\n  clusterIP: None\n",
		"wrong type":      "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: x\nspec:\n  replicas: three\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := decode([]byte(doc)); err == nil {
				t.Fatalf("accepted:\n%s", doc)
			}
		})
	}
}

// cluster is the one StatefulSet with what the checks need of it.
type cluster struct {
	m         *manifest
	set       *appsv1.StatefulSet
	container corev1.Container
	cfg       node.Config
	cfgPath   string
}

func loadCluster(t *testing.T) *cluster {
	t.Helper()
	m := load(t)
	if len(m.sets) != 1 {
		t.Fatalf("%d StatefulSets, want 1", len(m.sets))
	}
	set := m.sets[0]
	var c *corev1.Container
	for i := range set.Spec.Template.Spec.Containers {
		if set.Spec.Template.Spec.Containers[i].Name == "strata" {
			c = &set.Spec.Template.Spec.Containers[i]
		}
	}
	if c == nil {
		t.Fatal("no container named strata")
	}
	cl := &cluster{m: m, set: set, container: *c}
	cl.cfg, cl.cfgPath = cl.config(t)
	return cl
}

// volumeSource finds the pod volume (or claim template) called name.
func (cl *cluster) volumeSource(name string) (corev1.VolumeSource, bool) {
	for _, v := range cl.set.Spec.Template.Spec.Volumes {
		if v.Name == name {
			return v.VolumeSource, true
		}
	}
	return corev1.VolumeSource{}, false
}

// config writes strata.toml as the init container builds it (the
// ConfigMap's file, then the Secret's tokens.toml), with the cluster
// secret where secret_file names it (moved into a temp dir), loads it with
// Strata's parser and applies the container's flags.
func (cl *cluster) config(t *testing.T) (node.Config, string) {
	t.Helper()
	cmName, secretName := "", ""
	for _, v := range cl.set.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil {
			cmName = v.ConfigMap.Name
		}
		if v.Secret != nil {
			secretName = v.Secret.SecretName
		}
	}
	cm, ok := cl.m.configMaps[cmName]
	if !ok {
		t.Fatalf("pod mounts ConfigMap %q, which strata.yaml does not define", cmName)
	}
	sec, ok := cl.m.secrets[secretName]
	if !ok {
		t.Fatalf("pod mounts Secret %q, which strata.yaml does not define", secretName)
	}
	for _, key := range []string{"cluster.secret", "tokens.toml"} {
		if _, ok := sec.StringData[key]; !ok {
			t.Fatalf("Secret %s has no %s", secretName, key)
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "strata.toml")
	if err := os.WriteFile(path, []byte(cm.Data["strata.toml"]+sec.StringData["tokens.toml"]), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := node.LoadConfig(path)
	if err != nil {
		t.Fatalf("strata.toml (ConfigMap + Secret tokens.toml): %v", err)
	}
	for _, arg := range cl.container.Args[1:] {
		k, v, ok := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
		if !ok {
			t.Fatalf("flag %q: give flags as --name=value here", arg)
		}
		v = strings.NewReplacer("$(POD_IP)", "10.1.2.3", "$(POD_NAME)", cl.set.Name+"-0").Replace(v)
		switch k {
		case "config":
			if v != "/etc/strata/strata.toml" {
				t.Fatalf("--config=%s, but the init container writes /etc/strata/strata.toml", v)
			}
		case "gossip-advertise":
			cfg.Cluster.GossipAdvertise = v
		case "http-advertise":
			cfg.Cluster.HTTPAdvertise = v
		case "node-id":
			cfg.NodeID = v
		default:
			t.Fatalf("flag %q not understood by this check: teach it", arg)
		}
	}
	return cfg, path
}

// mountOf is the container mount that holds path, or nil.
func (cl *cluster) mountOf(path string) *corev1.VolumeMount {
	var best *corev1.VolumeMount
	for i, mt := range cl.container.VolumeMounts {
		if path == mt.MountPath || strings.HasPrefix(path, strings.TrimSuffix(mt.MountPath, "/")+"/") {
			if best == nil || len(mt.MountPath) > len(best.MountPath) {
				best = &cl.container.VolumeMounts[i]
			}
		}
	}
	return best
}

// TestConfigParsesAndValidates: the config Strata will read is accepted
// by its own parser and Validate (unknown keys, bad values, cluster
// addresses, quorums, tokens for non-loopback listeners), and the secret
// is one the node takes.
func TestConfigParsesAndValidates(t *testing.T) {
	cl := loadCluster(t)
	if err := cl.cfg.Validate(); err != nil {
		t.Fatalf("strata.toml does not validate: %v", err)
	}
	if !cl.cfg.Cluster.Enabled() {
		t.Fatal("strata.toml is not in cluster mode")
	}
	if cl.cfg.NodeID != cl.set.Name+"-0" {
		t.Errorf("node id %q, want the pod's name (--node-id=$(POD_NAME)): a pod with new claims must rejoin as the same member", cl.cfg.NodeID)
	}
	n, w, r := cl.cfg.Cluster.Quorums()
	if n != 3 || w != 2 || r != 2 {
		t.Fatalf("quorums N=%d W=%d R=%d, want 3/2/2", n, w, r)
	}
	// The secret, where secret_file points.
	secret := filepath.Join(t.TempDir(), "cluster.secret")
	if err := os.WriteFile(secret, []byte(cl.m.secrets["strata-secrets"].StringData["cluster.secret"]), 0o600); err != nil {
		t.Fatal(err)
	}
	cc := cl.cfg.Cluster
	cc.SecretFile = secret
	if _, _, err := cc.LoadClusterSecret(); err != nil {
		t.Fatalf("cluster.secret: %v", err)
	}
}

// TestLayout: every data directory is on the claim meant for it (HDD
// volumes on the hdd claim, the SSD cache and index on the ssd claim, one
// claim template per tier), and the secret_file on the Secret's mount.
func TestLayout(t *testing.T) {
	cl := loadCluster(t)
	claims := map[string]bool{}
	for _, c := range cl.set.Spec.VolumeClaimTemplates {
		claims[c.Name] = true
		if _, ok := c.Spec.Resources.Requests[corev1.ResourceStorage]; !ok {
			t.Errorf("claim %s requests no storage", c.Name)
		}
	}
	if len(claims) != 2 || !claims["hdd"] || !claims["ssd"] {
		t.Fatalf("claim templates %v, want hdd and ssd", claims)
	}
	for _, tc := range []struct{ what, dir, claim string }{
		{"index_dir", cl.cfg.IndexDir, "ssd"},
		{"ssd_dir", cl.cfg.SSDDir, "ssd"},
	} {
		if mt := cl.mountOf(tc.dir); mt == nil || mt.Name != tc.claim || mt.ReadOnly {
			t.Errorf("%s %s is not on a writable mount of claim %s (%v)", tc.what, tc.dir, tc.claim, mt)
		}
	}
	if len(cl.cfg.HDDDirs) == 0 {
		t.Fatal("no hdd_dirs")
	}
	for _, d := range cl.cfg.HDDDirs {
		if mt := cl.mountOf(d); mt == nil || mt.Name != "hdd" || mt.ReadOnly {
			t.Errorf("hdd_dirs entry %s is not on a writable mount of claim hdd (%v)", d, mt)
		}
	}
	if mt := cl.mountOf(cl.cfg.Cluster.SecretFile); mt == nil {
		t.Errorf("secret_file %s is on no mount", cl.cfg.Cluster.SecretFile)
	} else if src, ok := cl.volumeSource(mt.Name); !ok || src.Secret == nil {
		t.Errorf("secret_file %s is not on the Secret's volume", cl.cfg.Cluster.SecretFile)
	}
	if mt := cl.mountOf("/etc/strata/strata.toml"); mt == nil {
		t.Error("/etc/strata/strata.toml is on no mount")
	} else if src, ok := cl.volumeSource(mt.Name); !ok || src.EmptyDir == nil {
		t.Error("/etc/strata is not the emptyDir the init container writes")
	}
}

// port is the container port called name.
func (cl *cluster) port(t *testing.T, name string) corev1.ContainerPort {
	t.Helper()
	for _, p := range cl.container.Ports {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("container has no port %q", name)
	return corev1.ContainerPort{}
}

func portOf(t *testing.T, addr string) int32 {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	var p int32
	if _, err := fmt.Sscan(addr[i+1:], &p); i < 0 || err != nil {
		t.Fatalf("no port in %q", addr)
	}
	return p
}

// TestProbesAndPorts: readiness and liveness probe /readyz and /healthz on
// the admin listener's port; the container ports are the config's.
func TestProbesAndPorts(t *testing.T) {
	cl := loadCluster(t)
	for _, tc := range []struct {
		name, addr string
		proto      corev1.Protocol
	}{
		{"http", cl.cfg.Listen, corev1.ProtocolTCP},
		{"admin", cl.cfg.AdminAddress(), corev1.ProtocolTCP},
		{"gossip-tcp", cl.cfg.GossipAddress(), corev1.ProtocolTCP},
		{"gossip-udp", cl.cfg.GossipAddress(), corev1.ProtocolUDP},
	} {
		p := cl.port(t, tc.name)
		if p.ContainerPort != portOf(t, tc.addr) || p.Protocol != tc.proto {
			t.Errorf("port %s = %d/%s, config says %s/%s", tc.name, p.ContainerPort, p.Protocol, tc.addr, tc.proto)
		}
	}
	if !strings.HasPrefix(cl.cfg.AdminAddress(), "0.0.0.0:") {
		t.Errorf("admin_listen %s: the kubelet probes the pod IP", cl.cfg.AdminAddress())
	}
	for _, tc := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"readiness", cl.container.ReadinessProbe, "/readyz"},
		{"liveness", cl.container.LivenessProbe, "/healthz"},
		{"startup", cl.container.StartupProbe, "/healthz"},
	} {
		if tc.probe == nil || tc.probe.HTTPGet == nil {
			t.Errorf("%s probe: missing or not httpGet", tc.name)
			continue
		}
		g := tc.probe.HTTPGet
		if g.Path != tc.path || g.Port.String() != "admin" {
			t.Errorf("%s probe: %s on port %s, want %s on admin", tc.name, g.Path, g.Port.String(), tc.path)
		}
	}
}

// TestServicesAndBudget: the headless service is the StatefulSet's
// serviceName and publishes addresses before readiness (gossip seeds);
// its pod DNS names are the config's join seeds; both services and the
// PodDisruptionBudget select the pods and name existing ports; the budget
// allows one pod down out of 3 (W=2 of N=3 still met).
func TestServicesAndBudget(t *testing.T) {
	cl := loadCluster(t)
	spec := cl.set.Spec
	if spec.Replicas == nil || *spec.Replicas != 3 {
		t.Fatalf("replicas %v, want 3", spec.Replicas)
	}
	podLabels := labels.Set(spec.Template.Labels)
	sel, err := metav1.LabelSelectorAsSelector(spec.Selector)
	if err != nil || !sel.Matches(podLabels) {
		t.Fatalf("StatefulSet selector %v does not match its pods %v (%v)", spec.Selector, podLabels, err)
	}
	headless, ok := cl.m.services[spec.ServiceName]
	if !ok {
		t.Fatalf("serviceName %q: no such Service", spec.ServiceName)
	}
	if headless.Spec.ClusterIP != corev1.ClusterIPNone || !headless.Spec.PublishNotReadyAddresses {
		t.Errorf("Service %s: clusterIP %q publishNotReadyAddresses %v, want None and true", headless.Name, headless.Spec.ClusterIP, headless.Spec.PublishNotReadyAddresses)
	}
	var seeds []string
	for i := range *spec.Replicas {
		seeds = append(seeds, fmt.Sprintf("%s-%d.%s:%d", cl.set.Name, i, spec.ServiceName, portOf(t, cl.cfg.GossipAddress())))
	}
	if !slices.Equal(cl.cfg.Cluster.Join, seeds) {
		t.Errorf("join %v, want the pods' names %v", cl.cfg.Cluster.Join, seeds)
	}
	var client bool
	for name, svc := range cl.m.services {
		if !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) || len(svc.Spec.Selector) == 0 {
			t.Errorf("Service %s selects %v, not the pods %v", name, svc.Spec.Selector, podLabels)
		}
		for _, p := range svc.Spec.Ports {
			cp := cl.port(t, p.TargetPort.String())
			if cp.Protocol != p.Protocol {
				t.Errorf("Service %s port %s: %s to a %s port", name, p.Name, p.Protocol, cp.Protocol)
			}
		}
		client = client || svc.Spec.ClusterIP != corev1.ClusterIPNone
	}
	if !client {
		t.Error("no client Service (with a cluster IP)")
	}
	if len(cl.m.pdbs) != 1 {
		t.Fatalf("%d PodDisruptionBudgets, want 1", len(cl.m.pdbs))
	}
	pdb := cl.m.pdbs[0]
	psel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil || !psel.Matches(podLabels) {
		t.Errorf("PodDisruptionBudget selector %v does not match the pods", pdb.Spec.Selector)
	}
	_, w, _ := cl.cfg.Cluster.Quorums()
	if mu := pdb.Spec.MaxUnavailable; mu == nil || mu.IntValue() != 1 || int(*spec.Replicas)-mu.IntValue() < w {
		t.Errorf("PodDisruptionBudget maxUnavailable %v, want 1 (replicas %d, W %d)", mu, *spec.Replicas, w)
	}
}

// TestSecurityContext: non-root, read-only root file system, no
// privilege escalation, no capabilities, the runtime's seccomp profile;
// in every container.
func TestSecurityContext(t *testing.T) {
	cl := loadCluster(t)
	pod := cl.set.Spec.Template.Spec
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 || psc.FSGroup == nil {
		t.Fatalf("pod securityContext %+v: want runAsNonRoot, a non-zero runAsUser and an fsGroup (the claims must be writable)", psc)
	}
	if psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("pod seccompProfile is not RuntimeDefault")
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the service account token is mounted; the node needs no API access")
	}
	for _, c := range slices.Concat(pod.InitContainers, pod.Containers) {
		sc := c.SecurityContext
		switch {
		case sc == nil:
			t.Errorf("container %s: no securityContext", c.Name)
		case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			t.Errorf("container %s: root file system not read-only", c.Name)
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			t.Errorf("container %s: privilege escalation allowed", c.Name)
		case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
			t.Errorf("container %s: capabilities %+v, want drop ALL and add none", c.Name, sc.Capabilities)
		case sc.Privileged != nil && *sc.Privileged:
			t.Errorf("container %s: privileged", c.Name)
		}
		if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
			t.Errorf("container %s: no memory limit", c.Name)
		}
	}
}

// TestMemoryLimits: the container's memory request and limit follow the
// rule in docs/operations.md from the Go memory limit this configuration
// makes the node log (no GOMEMLIMIT in the pod): the request at least the
// limit, the limit at least the limit + 25% (the docs say about + 50%),
// so the pod is slowed by the garbage collector, never OOM-killed first.
func TestMemoryLimits(t *testing.T) {
	cl := loadCluster(t)
	for _, e := range cl.container.Env {
		if e.Name == "GOMEMLIMIT" {
			t.Fatal("GOMEMLIMIT set in the pod: then the node's own limit is not the one these checks use")
		}
	}
	goLimit, source := cl.cfg.GoMemoryLimit("")
	if goLimit <= 0 {
		t.Fatalf("no Go memory limit from the config (%s)", source)
	}
	req := cl.container.Resources.Requests[corev1.ResourceMemory]
	lim := cl.container.Resources.Limits[corev1.ResourceMemory]
	t.Logf("Go memory limit %s (%s); request %s, limit %s", node.ByteSize(goLimit), source, req.String(), lim.String())
	if req.Value() < goLimit {
		t.Errorf("memory request %s below the Go memory limit %s", req.String(), node.ByteSize(goLimit))
	}
	if lim.Value() < goLimit+goLimit/4 {
		t.Errorf("memory limit %s below the Go memory limit %s + 25%%", lim.String(), node.ByteSize(goLimit))
	}
	// The comment above the resources states the figure; keep it true.
	data, err := os.ReadFile(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("Memory): %s here", node.ByteSize(goLimit)); !bytes.Contains(data, []byte(want)) {
		t.Errorf("strata.yaml's resources comment does not say %q", want)
	}
}
