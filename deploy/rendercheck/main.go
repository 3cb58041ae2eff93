// Command rendercheck checks one `helm template` rendering of
// deploy/helm/mcpgate: that the manifests hold together (ports, probes,
// grace period, secret modes, security context) and that the mcpgate
// configuration the ConfigMap carries passes `mcpgate validate` with the
// policies and secret files laid out as the pod would see them.
//
//	rendercheck -mcpgate BIN -secrets DIR < rendered.yaml
//
// The pod mounts everything under /etc/mcpgate; rendercheck lays the same
// tree out under a temporary directory and points the configuration's
// /etc/mcpgate/ paths at it, the only change it makes to the file. Secret
// files come from DIR/<mount name>/<key> and are written with the mode
// the chart's secret volumes give them (0440) when run as root, as the
// kubelet writes them root-owned; as another user, 0400, since mcpgate
// accepts a group-readable secret only from root.
//
// scripts/check-deploy.sh runs it for each value set in deploy/helm/ci.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

const mountRoot = "/etc/mcpgate/"

type object struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec yaml.Node         `yaml:"spec"`
}

type deployment struct {
	Replicas *int `yaml:"replicas"`
	Template struct {
		Spec struct {
			SecurityContext struct {
				RunAsNonRoot bool `yaml:"runAsNonRoot"`
				RunAsUser    int  `yaml:"runAsUser"`
				FSGroup      *int `yaml:"fsGroup"`
				Seccomp      struct {
					Type string `yaml:"type"`
				} `yaml:"seccompProfile"`
			} `yaml:"securityContext"`
			Grace      int `yaml:"terminationGracePeriodSeconds"`
			Containers []struct {
				Args  []string `yaml:"args"`
				Ports []struct {
					Name          string `yaml:"name"`
					ContainerPort int    `yaml:"containerPort"`
				} `yaml:"ports"`
				Liveness  probe `yaml:"livenessProbe"`
				Readiness probe `yaml:"readinessProbe"`
				Lifecycle struct {
					PreStop struct {
						Sleep struct {
							Seconds int `yaml:"seconds"`
						} `yaml:"sleep"`
					} `yaml:"preStop"`
				} `yaml:"lifecycle"`
				SecurityContext struct {
					AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
					ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
					Capabilities             struct {
						Drop []string `yaml:"drop"`
					} `yaml:"capabilities"`
				} `yaml:"securityContext"`
				VolumeMounts []struct {
					Name      string `yaml:"name"`
					MountPath string `yaml:"mountPath"`
				} `yaml:"volumeMounts"`
			} `yaml:"containers"`
			Volumes []struct {
				Name      string `yaml:"name"`
				ConfigMap *struct {
					Name string `yaml:"name"`
				} `yaml:"configMap"`
				Secret *struct {
					SecretName  string `yaml:"secretName"`
					DefaultMode *int   `yaml:"defaultMode"`
				} `yaml:"secret"`
			} `yaml:"volumes"`
		} `yaml:"spec"`
	} `yaml:"template"`
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

// gatewayConfig is the part of the mcpgate configuration the manifests
// must agree with.
type gatewayConfig struct {
	Listen string `yaml:"listen"`
	Admin  struct {
		Listen string `yaml:"listen"`
	} `yaml:"admin"`
	Timeouts struct {
		Shutdown string `yaml:"shutdown"`
	} `yaml:"timeouts"`
}

func main() {
	bin := flag.String("mcpgate", "", "the mcpgate binary to run validate with")
	secrets := flag.String("secrets", "", "directory of secret fixtures: <mount name>/<key>")
	flag.Parse()
	if *bin == "" || *secrets == "" {
		fmt.Fprintln(os.Stderr, "usage: rendercheck -mcpgate BIN -secrets DIR < rendered.yaml")
		os.Exit(2)
	}
	if err := run(os.Stdin, *bin, *secrets); err != nil {
		fmt.Fprintln(os.Stderr, "rendercheck:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, bin, secrets string) error {
	objs, err := decode(in)
	if err != nil {
		return err
	}
	var dep *deployment
	var hpa bool
	configMaps := map[string]map[string]string{}
	for _, o := range objs {
		switch o.Kind {
		case "Deployment":
			dep = new(deployment)
			if err := o.Spec.Decode(dep); err != nil {
				return fmt.Errorf("the Deployment %s: %w", o.Metadata.Name, err)
			}
		case "HorizontalPodAutoscaler":
			hpa = true
		case "ConfigMap":
			configMaps[o.Metadata.Name] = o.Data
		}
	}
	if dep == nil {
		return errors.New("no Deployment rendered")
	}
	if dep.Replicas == nil && !hpa {
		return errors.New("the Deployment has no replicas and no HorizontalPodAutoscaler scales it")
	}
	if dep.Replicas != nil && *dep.Replicas < 2 {
		fmt.Fprintf(os.Stderr, "note: %d replica(s)\n", *dep.Replicas)
	}
	pod := dep.Template.Spec
	if len(pod.Containers) != 1 {
		return fmt.Errorf("want one container, have %d", len(pod.Containers))
	}
	c := pod.Containers[0]

	// Security context.
	sc := pod.SecurityContext
	if !sc.RunAsNonRoot || sc.RunAsUser == 0 || sc.Seccomp.Type != "RuntimeDefault" {
		return errors.New("pod securityContext: want runAsNonRoot, a non-zero runAsUser and seccompProfile RuntimeDefault")
	}
	csc := c.SecurityContext
	if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation || !csc.ReadOnlyRootFilesystem ||
		len(csc.Capabilities.Drop) != 1 || csc.Capabilities.Drop[0] != "ALL" {
		return errors.New("container securityContext: want allowPrivilegeEscalation false, readOnlyRootFilesystem, capabilities drop [ALL]")
	}

	// The configuration and what mounts it.
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	root, err := os.MkdirTemp("", "rendercheck-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	var configPath string
	var gw gatewayConfig
	for _, v := range pod.Volumes {
		at, ok := mounts[v.Name]
		if !ok {
			return fmt.Errorf("volume %s is not mounted", v.Name)
		}
		if v.ConfigMap == nil && v.Secret == nil {
			continue // scratch space (emptyDir) and the operator's own volumes
		}
		if !strings.HasPrefix(at+"/", mountRoot) {
			return fmt.Errorf("volume %s is mounted at %s, outside %s", v.Name, at, mountRoot)
		}
		dir := filepath.Join(root, at)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		switch {
		case v.ConfigMap != nil:
			data, ok := configMaps[v.ConfigMap.Name]
			if !ok {
				return fmt.Errorf("volume %s: ConfigMap %s is not rendered", v.Name, v.ConfigMap.Name)
			}
			for key, text := range data {
				if key == "mcpgate.yaml" {
					if err := yaml.Unmarshal([]byte(text), &gw); err != nil {
						return fmt.Errorf("ConfigMap %s: mcpgate.yaml: %w", v.ConfigMap.Name, err)
					}
					text = strings.ReplaceAll(text, mountRoot, filepath.Join(root, mountRoot)+"/")
					configPath = filepath.Join(dir, key)
				}
				if err := os.WriteFile(filepath.Join(dir, key), []byte(text), 0o644); err != nil {
					return err
				}
			}
		case v.Secret != nil:
			if v.Secret.DefaultMode == nil || *v.Secret.DefaultMode != 0o440 {
				return fmt.Errorf("volume %s: secret defaultMode must be 0440 (root-owned, group fsGroup): mcpgate refuses other group-readable modes", v.Name)
			}
			if sc.FSGroup == nil {
				return fmt.Errorf("volume %s: a secret volume needs the pod's fsGroup, or the non-root process cannot read it", v.Name)
			}
			if err := copySecrets(filepath.Join(secrets, filepath.Base(at)), dir); err != nil {
				return fmt.Errorf("volume %s: %w", v.Name, err)
			}
		}
	}
	if configPath == "" {
		return errors.New("no volume carries mcpgate.yaml")
	}
	if want := filepath.Join(mounts["config"], "mcpgate.yaml"); len(c.Args) < 3 || c.Args[len(c.Args)-1] != want {
		return fmt.Errorf("container args %q do not name the mounted config %s", c.Args, want)
	}

	// Ports, probes and the drain.
	ports := map[string]int{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if err := samePort("listen", gw.Listen, ports["http"]); err != nil {
		return err
	}
	if err := samePort("admin.listen", gw.Admin.Listen, ports["admin"]); err != nil {
		return err
	}
	if c.Liveness.HTTPGet.Path != "/healthz" || c.Liveness.HTTPGet.Port != "http" {
		return fmt.Errorf("liveness probe %+v: want /healthz on port http", c.Liveness.HTTPGet)
	}
	if c.Readiness.HTTPGet.Path != "/readyz" || c.Readiness.HTTPGet.Port != "http" {
		return fmt.Errorf("readiness probe %+v: want /readyz on port http", c.Readiness.HTTPGet)
	}
	shutdown, err := time.ParseDuration(gw.Timeouts.Shutdown)
	if err != nil {
		return fmt.Errorf("timeouts.shutdown: %w", err)
	}
	sleep := time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	if sleep <= 0 {
		return errors.New("no preStop sleep: the pod would stop taking connections before it leaves the endpoints")
	}
	if grace := time.Duration(pod.Grace) * time.Second; grace <= sleep+shutdown {
		return fmt.Errorf("terminationGracePeriodSeconds %v must exceed preStop sleep %v + timeouts.shutdown %v", grace, sleep, shutdown)
	}

	cmd := exec.Command(bin, "validate", "--config", configPath)
	out, err := cmd.CombinedOutput()
	os.Stderr.Write(bytes.ReplaceAll(out, []byte(root), []byte("")))
	if err != nil {
		return fmt.Errorf("mcpgate validate: %w", err)
	}
	return nil
}

func decode(in io.Reader) ([]object, error) {
	dec := yaml.NewDecoder(in)
	var objs []object
	for {
		var o object
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("rendered manifests: %w", err)
		}
		if o.Kind != "" {
			objs = append(objs, o)
		}
	}
}

// samePort checks that the address the configuration listens on has the
// port the container declares, which the probes and Services use.
func samePort(key, addr string, port int) error {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return fmt.Errorf("%s %q has no port", key, addr)
	}
	n, err := strconv.Atoi(addr[i+1:])
	if err != nil || n != port {
		return fmt.Errorf("%s %q does not listen on the container port %d", key, addr, port)
	}
	return nil
}

// copySecrets writes each fixture file of src into dst with the mode a
// Kubernetes secret volume gives it.
func copySecrets(src, dst string) error {
	mode := os.FileMode(0o440)
	if os.Geteuid() != 0 {
		mode = 0o400
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("secret fixtures: %w", err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		p := filepath.Join(dst, e.Name())
		if err := os.WriteFile(p, b, mode); err != nil {
			return err
		}
		// WriteFile's mode passes through the umask.
		if err := os.Chmod(p, mode); err != nil {
			return err
		}
	}
	return nil
}
