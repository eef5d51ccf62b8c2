package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// repoRoot is the repository root, relative to this package: compose
// paths are relative to it.
const repoRoot = ".."

// simulatorEnv is the env file that switches the stack to the simulator.
const simulatorEnv = "simulator.env"

// composeFile is the part of docker-compose.yml the tests read.
type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

// composeService is one service of docker-compose.yml.
type composeService struct {
	Image       string           `yaml:"image"`
	Build       any              `yaml:"build"`
	Command     composeCommand   `yaml:"command"`
	Environment composeEnv       `yaml:"environment"`
	Volumes     []composeVolume  `yaml:"volumes"`
	Ports       []string         `yaml:"ports"`
	Profiles    []string         `yaml:"profiles"`
	DependsOn   composeDependsOn `yaml:"depends_on"`
	NetworkMode string           `yaml:"network_mode"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

// composeCommand is a command in list form, or a string split on spaces.
type composeCommand []string

func (c *composeCommand) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*c = strings.Fields(n.Value)
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return fmt.Errorf("command: %w", err)
	}
	*c = l
	return nil
}

// composeEnv is an environment in map form or as a list of NAME=value.
type composeEnv map[string]string

func (e *composeEnv) UnmarshalYAML(n *yaml.Node) error {
	out := composeEnv{}
	if n.Kind == yaml.SequenceNode {
		var l []string
		if err := n.Decode(&l); err != nil {
			return fmt.Errorf("environment: %w", err)
		}
		for _, kv := range l {
			k, v, _ := strings.Cut(kv, "=")
			out[k] = v
		}
	} else {
		var m map[string]*string
		if err := n.Decode(&m); err != nil {
			return fmt.Errorf("environment: %w", err)
		}
		for k, v := range m {
			if v != nil {
				out[k] = *v
			} else {
				out[k] = ""
			}
		}
	}
	*e = out
	return nil
}

// composeDependsOn maps each dependency to its condition
// (service_started when the list form gives none).
type composeDependsOn map[string]string

func (d *composeDependsOn) UnmarshalYAML(n *yaml.Node) error {
	out := composeDependsOn{}
	if n.Kind == yaml.SequenceNode {
		var l []string
		if err := n.Decode(&l); err != nil {
			return fmt.Errorf("depends_on: %w", err)
		}
		for _, s := range l {
			out[s] = "service_started"
		}
	} else {
		var m map[string]struct {
			Condition string `yaml:"condition"`
		}
		if err := n.Decode(&m); err != nil {
			return fmt.Errorf("depends_on: %w", err)
		}
		for k, v := range m {
			out[k] = orDefault(v.Condition, "service_started")
		}
	}
	*d = out
	return nil
}

// orDefault returns a, or b when a is empty.
func orDefault(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// composeVolume is a mount, from the short syntax (source:target[:mode]) or
// the long one.
type composeVolume struct {
	Source, Target string
	ReadOnly       bool
}

func (v *composeVolume) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		parts := strings.Split(n.Value, ":")
		if len(parts) < 2 || len(parts) > 3 {
			return fmt.Errorf("volume %q: want source:target[:mode]", n.Value)
		}
		v.Source, v.Target = parts[0], parts[1]
		v.ReadOnly = len(parts) == 3 && slices.Contains(strings.Split(parts[2], ","), "ro")
		return nil
	}
	var long struct {
		Source   string `yaml:"source"`
		Target   string `yaml:"target"`
		ReadOnly bool   `yaml:"read_only"`
	}
	if err := n.Decode(&long); err != nil {
		return fmt.Errorf("volume: %w", err)
	}
	v.Source, v.Target, v.ReadOnly = long.Source, long.Target, long.ReadOnly
	return nil
}

// bind reports whether the mount is of a host path rather than a volume.
func (v composeVolume) bind() bool {
	return strings.HasPrefix(v.Source, ".") || strings.HasPrefix(v.Source, "/")
}

// hostPath returns where the container path p of service s comes from on
// the host, relative to the repository root and cleaned (deploy/x, not
// ./deploy/x), or "" when no bind mount covers it.
func (s composeService) hostPath(p string) string {
	for _, v := range s.Volumes {
		if !v.bind() {
			continue
		}
		if p == v.Target {
			return path.Clean(v.Source)
		}
		if rest, ok := strings.CutPrefix(p, v.Target+"/"); ok {
			return path.Join(v.Source, rest)
		}
	}
	return ""
}

// flag returns the value after name in the command, or "".
func (c composeCommand) flag(name string) string {
	if i := slices.Index(c, name); i >= 0 && i+1 < len(c) {
		return c[i+1]
	}
	return ""
}

// composeVar matches what Compose interpolates: $$, ${NAME}, ${NAME:-x},
// ${NAME-x}, ${NAME:?x}, ${NAME?x}, ${NAME:+x}, ${NAME+x} and $NAME.
var composeVar = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// interpolate expands text as Compose does with the variables in env.
func interpolate(text string, env map[string]string) (string, error) {
	var errs []error
	out := composeVar.ReplaceAllStringFunc(text, func(m string) string {
		if m == "$$" {
			return "$"
		}
		sub := composeVar.FindStringSubmatch(m)
		name, op, arg := sub[1]+sub[4], sub[2], sub[3]
		val, set := env[name]
		if strings.HasPrefix(op, ":") {
			set = set && val != ""
		}
		switch strings.TrimPrefix(op, ":") {
		case "-":
			if !set {
				return arg
			}
		case "?":
			if !set {
				errs = append(errs, fmt.Errorf("%s: %s", name, arg))
			}
		case "+":
			if set {
				return arg
			}
			return ""
		}
		return val
	})
	return out, errors.Join(errs...)
}

// readEnvFile reads NAME=value lines, skipping blanks and comments.
func readEnvFile(p string) (map[string]string, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read env file: %w", err)
	}
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s: %q is not NAME=value", p, line)
		}
		env[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"'`)
	}
	return env, sc.Err()
}

// loadCompose reads docker-compose.yml with the variables in env.
func loadCompose(env map[string]string) (composeFile, error) {
	var f composeFile
	b, err := os.ReadFile(filepath.Join(repoRoot, "docker-compose.yml"))
	if err != nil {
		return f, fmt.Errorf("read compose file: %w", err)
	}
	text, err := interpolate(string(b), env)
	if err != nil {
		return f, fmt.Errorf("interpolate docker-compose.yml: %w", err)
	}
	if err := yaml.Unmarshal([]byte(text), &f); err != nil {
		return f, fmt.Errorf("docker-compose.yml: %w", err)
	}
	return f, nil
}

// composeEnvs are the environments the stack is meant to run in: nothing
// set (Alibaba Cloud, defaults), and deploy/simulator.env.
func composeEnvs(t *testing.T) map[string]map[string]string {
	t.Helper()
	sim, err := readEnvFile(simulatorEnv)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]map[string]string{"defaults": {}, "simulator": sim}
}

func TestComposeConfig(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("docker is not installed; TestCompose checks the file without it")
	}
	if out, err := exec.Command("docker", "compose", "version").CombinedOutput(); err != nil {
		t.Skipf("docker compose is not available (%v: %s); TestCompose checks the file without it", err, bytes.TrimSpace(out))
	}
	for name, args := range map[string][]string{
		"defaults":  {"compose", "config", "--quiet"},
		"simulator": {"compose", "--env-file", filepath.Join("deploy", simulatorEnv), "config", "--quiet"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command("docker", args...)
			cmd.Dir = repoRoot
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		})
	}
}

// TestCompose checks docker-compose.yml without Docker, in each
// environment: the services and how they start, depend on each other and
// are configured, and that every file they mount exists.
func TestCompose(t *testing.T) {
	t.Parallel()
	for envName, env := range composeEnvs(t) {
		t.Run(envName, func(t *testing.T) {
			t.Parallel()
			f, err := loadCompose(env)
			if err != nil {
				t.Fatal(err)
			}
			checkCompose(t, f, envName == "simulator")
		})
	}
}

// checkCompose checks f; simulator says whether the simulator profile's
// settings are in effect.
func checkCompose(t *testing.T, f composeFile, simulator bool) {
	for _, name := range []string{"postgres", "lagtrail-migrate", "lagtrail", "lagtrail-web", "grafana", "simulator", "lagtrail-generate"} {
		if _, ok := f.Services[name]; !ok {
			t.Fatalf("no service %s", name)
		}
	}
	pg, migrate, rec, graf := f.Services["postgres"], f.Services["lagtrail-migrate"], f.Services["lagtrail"], f.Services["grafana"]
	sim, gen, web := f.Services["simulator"], f.Services["lagtrail-generate"], f.Services["lagtrail-web"]

	// Every bind mount's source exists; every named volume is declared.
	for name, s := range f.Services {
		for _, v := range s.Volumes {
			if !v.bind() {
				if _, ok := f.Volumes[v.Source]; !ok {
					t.Errorf("%s mounts volume %q, which is not declared", name, v.Source)
				}
				continue
			}
			if _, err := os.Stat(filepath.Join(repoRoot, v.Source)); err != nil {
				t.Errorf("%s mounts %s: %v", name, v.Source, err)
			}
			if !v.ReadOnly {
				t.Errorf("%s mounts %s read-write; the repository's files are configuration", name, v.Source)
			}
		}
		// A service that always runs cannot wait for one under a profile.
		for dep := range s.DependsOn {
			if len(s.Profiles) == 0 && len(f.Services[dep].Profiles) > 0 {
				t.Errorf("%s depends on %s, which only runs under profiles %v", name, dep, f.Services[dep].Profiles)
			}
		}
	}

	// postgres: healthy when it accepts connections, data in a volume, the
	// Grafana login created by initdb.
	if !strings.HasPrefix(pg.Image, "postgres:16") {
		t.Errorf("postgres image %q, want postgres:16-alpine", pg.Image)
	}
	if pg.Healthcheck == nil || !slices.ContainsFunc(pg.Healthcheck.Test, func(s string) bool { return strings.Contains(s, "pg_isready") }) {
		t.Errorf("postgres healthcheck %+v, want pg_isready", pg.Healthcheck)
	}
	if i := slices.IndexFunc(pg.Volumes, func(v composeVolume) bool { return v.Target == "/var/lib/postgresql/data" }); i < 0 || pg.Volumes[i].bind() {
		t.Errorf("postgres keeps its data in %+v, want a named volume at /var/lib/postgresql/data", pg.Volumes)
	}
	if src := pg.hostPath("/docker-entrypoint-initdb.d/10-grafana-login.sh"); src != "deploy/postgres/initdb/10-grafana-login.sh" {
		t.Errorf("postgres initdb scripts come from %q, want deploy/postgres/initdb", src)
	}

	// The lagtrail image: migrate once postgres is healthy, then record
	// and generate; the simulator once the recorder, whose network it
	// shares, is up.
	for name, s := range map[string]composeService{"lagtrail-migrate": migrate, "lagtrail": rec, "lagtrail-web": web, "simulator": sim, "lagtrail-generate": gen} {
		if s.Image != migrate.Image || s.Build == nil {
			t.Errorf("%s: image %q, build %v; want the lagtrail image %q built from the Dockerfile", name, s.Image, s.Build, migrate.Image)
		}
	}
	wantDeps := map[string]struct {
		s    composeService
		deps composeDependsOn
	}{
		"lagtrail-migrate":  {migrate, composeDependsOn{"postgres": "service_healthy"}},
		"lagtrail":          {rec, composeDependsOn{"lagtrail-migrate": "service_completed_successfully"}},
		"lagtrail-generate": {gen, composeDependsOn{"lagtrail-migrate": "service_completed_successfully"}},
		"lagtrail-web":      {web, composeDependsOn{"lagtrail-migrate": "service_completed_successfully"}},
		"simulator":         {sim, composeDependsOn{"lagtrail": "service_started"}},
		"grafana":           {graf, composeDependsOn{"lagtrail-migrate": "service_completed_successfully"}},
	}
	for name, w := range wantDeps {
		for dep, cond := range w.deps {
			if w.s.DependsOn[dep] != cond {
				t.Errorf("%s depends on %s with %q, want %s", name, dep, w.s.DependsOn[dep], cond)
			}
		}
	}
	if got := strings.Join(migrate.Command, " "); got != "migrate up" {
		t.Errorf("lagtrail-migrate runs %q, want migrate up", got)
	}
	for name, s := range map[string]composeService{"lagtrail-migrate": migrate, "lagtrail": rec, "lagtrail-web": web, "lagtrail-generate": gen} {
		checkDatabaseURL(t, name, s.Environment["LAGTRAIL_DATABASE_URL"], pg.Environment)
	}
	if len(rec.Profiles) > 0 || len(migrate.Profiles) > 0 || len(pg.Profiles) > 0 || len(graf.Profiles) > 0 || len(web.Profiles) > 0 {
		t.Errorf("postgres, lagtrail-migrate, lagtrail, lagtrail-web and grafana must run without a profile")
	}

	// lagtrail-web serves on all interfaces of its container, published on
	// the host's loopback only.
	if len(web.Command) == 0 || web.Command[0] != "serve" || web.Command.flag("--listen") != "0.0.0.0:8080" {
		t.Errorf("lagtrail-web runs %q, want serve --listen 0.0.0.0:8080", web.Command)
	}
	if len(web.Ports) != 1 || !strings.HasPrefix(web.Ports[0], "127.0.0.1:") || !strings.HasSuffix(web.Ports[0], ":8080") {
		t.Errorf("lagtrail-web publishes %v, want one port on 127.0.0.1 to the container's 8080", web.Ports)
	}
	if _, ok := web.Environment["LAGTRAIL_API_TOKEN"]; !ok {
		t.Errorf("lagtrail-web does not pass LAGTRAIL_API_TOKEN")
	}
	if !slices.Equal(sim.Profiles, []string{"simulator"}) || !slices.Equal(gen.Profiles, []string{"simulator"}) {
		t.Errorf("simulator profiles %v, lagtrail-generate profiles %v; want [simulator]", sim.Profiles, gen.Profiles)
	}

	// record reads the mounted config; under the simulator profile it
	// polls the simulator on the loopback they share.
	if len(rec.Command) == 0 || rec.Command[0] != "record" || rec.Command.flag("--config") == "" {
		t.Fatalf("lagtrail runs %q, want record --config FILE", rec.Command)
	}
	cfgPath := rec.hostPath(rec.Command.flag("--config"))
	if cfgPath == "" {
		t.Fatalf("lagtrail's --config %s is not mounted", rec.Command.flag("--config"))
	}
	cfg, err := readRecorderConfig(filepath.Join(repoRoot, cfgPath))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"} {
		if _, ok := rec.Environment[k]; !ok {
			t.Errorf("lagtrail does not pass %s from the environment", k)
		}
		if simulator && sim.Environment[k] != rec.Environment[k] {
			t.Errorf("%s: simulator has %q, lagtrail %q; the simulator checks lagtrail's signatures with it", k, sim.Environment[k], rec.Environment[k])
		}
	}
	for name, s := range map[string]composeService{"simulator": sim, "lagtrail-generate": gen} {
		want := "simulate"
		if name == "lagtrail-generate" {
			want = "generate"
		}
		if len(s.Command) == 0 || s.Command[0] != want {
			t.Errorf("%s runs %q, want %s", name, s.Command, want)
		}
		if scn := s.Command.flag("--scenario"); scn == "" || s.hostPath(scn) == "" {
			t.Errorf("%s: --scenario %q is not a mounted file", name, scn)
		}
	}
	if sim.NetworkMode != "service:lagtrail" {
		t.Errorf("simulator network_mode %q, want service:lagtrail (record allows plain HTTP to loopback only)", sim.NetworkMode)
	}
	listen := sim.Command.flag("--listen")
	if host, _, err := net.SplitHostPort(listen); err != nil || !net.ParseIP(host).IsLoopback() {
		t.Errorf("simulator --listen %q, want a loopback address", listen)
	}
	if simulator {
		if cfg.Alibaba.Endpoint != listen || cfg.Alibaba.Scheme != "http" {
			t.Errorf("%s: alibaba endpoint %q, scheme %q; want the simulator's %s over http", cfgPath, cfg.Alibaba.Endpoint, cfg.Alibaba.Scheme, listen)
		}
	} else if cfg.Alibaba.Endpoint != "" || cfg.Alibaba.Scheme != "https" {
		t.Errorf("%s: alibaba endpoint %q, scheme %q; want the SDK's endpoints over https", cfgPath, cfg.Alibaba.Endpoint, cfg.Alibaba.Scheme)
	}

	checkGrafanaService(t, graf, pg)
}

// checkDatabaseURL checks that a lagtrail service's database URL names the
// postgres service's database, user and password.
func checkDatabaseURL(t *testing.T, service, raw string, pgEnv composeEnv) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "postgres" {
		t.Errorf("%s: LAGTRAIL_DATABASE_URL %q is not a postgres:// URL", service, raw)
		return
	}
	pw, _ := u.User.Password()
	if u.Host != "postgres:5432" || u.User.Username() != pgEnv["POSTGRES_USER"] || pw != pgEnv["POSTGRES_PASSWORD"] ||
		strings.TrimPrefix(u.Path, "/") != pgEnv["POSTGRES_DB"] {
		t.Errorf("%s: LAGTRAIL_DATABASE_URL %q does not match the postgres service (user %s, database %s)", service, raw,
			pgEnv["POSTGRES_USER"], pgEnv["POSTGRES_DB"])
	}
}

// provisionedVar finds the environment variables a provisioning file uses.
var provisionedVar = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)

// checkGrafanaService checks that Grafana gets the provisioning files, the
// dashboards where the provider looks for them, the variables the data
// source file uses, and a login the postgres service creates.
func checkGrafanaService(t *testing.T, graf, pg composeService) {
	t.Helper()
	if !regexp.MustCompile(`^grafana/grafana(-oss)?:1[01]\.`).MatchString(graf.Image) {
		t.Errorf("grafana image %q, want grafana/grafana-oss 10 or 11 (the dashboards' schema)", graf.Image)
	}
	dsFile := graf.hostPath("/etc/grafana/provisioning/datasources/lagtrail.yaml")
	if dsFile != "deploy/"+datasourceFile {
		t.Errorf("grafana's data source provisioning comes from %q, want deploy/%s", dsFile, datasourceFile)
	}
	const providerFile = "grafana/provisioning/dashboards/lagtrail.yaml"
	if got := graf.hostPath("/etc/grafana/provisioning/dashboards/lagtrail.yaml"); got != "deploy/"+providerFile {
		t.Errorf("grafana's dashboard provisioning comes from %q, want deploy/%s", got, providerFile)
	}
	b, err := os.ReadFile(providerFile)
	if err != nil {
		t.Fatal(err)
	}
	var prov struct {
		Providers []struct {
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	if err := yaml.Unmarshal(b, &prov); err != nil || len(prov.Providers) != 1 || prov.Providers[0].Type != "file" {
		t.Fatalf("%s: %v, %+v; want one file provider", providerFile, err, prov)
	}
	files, err := filepath.Glob(filepath.Join(dashboardDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("dashboards: %v, %v", files, err)
	}
	for _, f := range files {
		p := path.Join(prov.Providers[0].Options.Path, filepath.Base(f))
		if got := graf.hostPath(p); got != "deploy/"+filepath.ToSlash(f) {
			t.Errorf("the provider reads %s, which comes from %q; want deploy/%s", p, got, filepath.ToSlash(f))
		}
	}
	if home := graf.Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]; home != "" {
		if src := graf.hostPath(home); src == "" {
			t.Errorf("the home dashboard %s is not mounted", home)
		}
	}
	raw, err := os.ReadFile(datasourceFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range provisionedVar.FindAllStringSubmatch(string(raw), -1) {
		if _, ok := graf.Environment[m[1]]; !ok {
			t.Errorf("%s uses $%s, which grafana's environment lacks", datasourceFile, m[1])
		}
	}
	ds, err := loadDatasource()
	if err != nil {
		t.Fatal(err)
	}
	if ds.URL != "postgres:5432" || ds.JSONData.Database != pg.Environment["POSTGRES_DB"] {
		t.Errorf("data source %s database %s, want postgres:5432 database %s", ds.URL, ds.JSONData.Database, pg.Environment["POSTGRES_DB"])
	}
	for _, k := range []string{"LAGTRAIL_GRAFANA_DB_USER", "LAGTRAIL_GRAFANA_DB_PASSWORD"} {
		if v := graf.Environment[k]; v == "" || v != pg.Environment[k] {
			t.Errorf("%s: grafana has %q, postgres %q; the postgres service creates the login Grafana uses", k, v, pg.Environment[k])
		}
	}
}

// recorderConfig is the part of lagtrail's configuration the tests read;
// TestComposeSmoke runs the files through lagtrail itself.
type recorderConfig struct {
	DatabaseURL string `yaml:"database_url"`
	Alibaba     struct {
		Endpoint string `yaml:"endpoint"`
		Scheme   string `yaml:"scheme"`
	} `yaml:"alibaba"`
	Targets []recorderTarget `yaml:"targets"`
}

// recorderTarget is one entry of a recorder configuration's targets.
type recorderTarget struct {
	Region   string   `yaml:"region"`
	Instance string   `yaml:"instance"`
	Groups   []string `yaml:"groups"`
}

// readRecorderConfig reads a recorder configuration file.
func readRecorderConfig(p string) (recorderConfig, error) {
	var c recorderConfig
	b, err := os.ReadFile(p)
	if err != nil {
		return c, fmt.Errorf("read recorder config: %w", err)
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s: %w", p, err)
	}
	return c, nil
}

// TestRecorderConfigs checks the recorder's files: the database URL comes
// from the environment compose sets, and the simulator configuration
// discovers every region of the bundled scenarios.
func TestRecorderConfigs(t *testing.T) {
	t.Parallel()
	var regions []string
	scenarios, err := filepath.Glob(filepath.Join(repoRoot, "examples", "scenarios", "*.yaml"))
	if err != nil || len(scenarios) == 0 {
		t.Fatalf("bundled scenarios: %v, %v", scenarios, err)
	}
	for _, f := range scenarios {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var s struct {
			Instances []struct {
				Region string `yaml:"region"`
			} `yaml:"instances"`
		}
		if err := yaml.Unmarshal(b, &s); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, i := range s.Instances {
			if !slices.Contains(regions, i.Region) {
				regions = append(regions, i.Region)
			}
		}
	}
	for _, name := range []string{"lagtrail.yaml", "lagtrail.simulator.yaml"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := readRecorderConfig(name)
			if err != nil {
				t.Fatal(err)
			}
			if c.DatabaseURL != "" {
				t.Errorf("database_url %q: compose sets LAGTRAIL_DATABASE_URL, which wins anyway", c.DatabaseURL)
			}
			if len(c.Targets) == 0 {
				t.Errorf("no targets")
			}
			if name != "lagtrail.simulator.yaml" {
				return
			}
			for _, r := range regions {
				if !slices.ContainsFunc(c.Targets, func(tg recorderTarget) bool { return tg.Region == r && tg.Instance == "" }) {
					t.Errorf("region %s of a bundled scenario is not discovered", r)
				}
			}
		})
	}
}
