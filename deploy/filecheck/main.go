// Command filecheck checks deploy/'s two data files:
//
//	filecheck otel-collector.yaml grafana-dashboard.json docs/telemetry.md
//
// The Collector configuration must parse as YAML, receive OTLP over gRPC
// and HTTP, and run memory_limiter first and batch in a traces and a
// metrics pipeline whose receivers, processors and exporters are all
// defined. The dashboard must parse as JSON, and every mcpgate metric its
// queries name must be one docs/telemetry.md lists, under the name the
// OpenTelemetry-to-Prometheus translation gives it (dots to underscores,
// the unit "s" as _seconds, counters with _total, histograms as
// _bucket/_count/_sum) — the names mcpgate's own /metrics serves.
//
// scripts/check-deploy.sh runs it.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: filecheck otel-collector.yaml grafana-dashboard.json docs/telemetry.md")
		os.Exit(2)
	}
	if err := checkCollector(os.Args[1]); err != nil {
		fmt.Fprintf(os.Stderr, "filecheck: %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	known, err := emittedMetrics(os.Args[3])
	if err != nil {
		fmt.Fprintf(os.Stderr, "filecheck: %s: %v\n", os.Args[3], err)
		os.Exit(1)
	}
	if err := checkDashboard(os.Args[2], known); err != nil {
		fmt.Fprintf(os.Stderr, "filecheck: %s: %v\n", os.Args[2], err)
		os.Exit(1)
	}
}

type collector struct {
	Receivers struct {
		OTLP struct {
			Protocols map[string]any `yaml:"protocols"`
		} `yaml:"otlp"`
	} `yaml:"receivers"`
	Processors map[string]any `yaml:"processors"`
	Exporters  map[string]any `yaml:"exporters"`
	Service    struct {
		Pipelines map[string]struct {
			Receivers  []string `yaml:"receivers"`
			Processors []string `yaml:"processors"`
			Exporters  []string `yaml:"exporters"`
		} `yaml:"pipelines"`
	} `yaml:"service"`
}

func checkCollector(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var c collector
	if err := yaml.Unmarshal(b, &c); err != nil {
		return err
	}
	for _, p := range []string{"grpc", "http"} {
		if _, ok := c.Receivers.OTLP.Protocols[p]; !ok {
			return fmt.Errorf("receivers.otlp.protocols has no %s", p)
		}
	}
	for _, name := range []string{"traces", "metrics"} {
		p, ok := c.Service.Pipelines[name]
		if !ok {
			return fmt.Errorf("no %s pipeline", name)
		}
		if !slices.Equal(p.Receivers, []string{"otlp"}) {
			return fmt.Errorf("pipeline %s: receivers %v, want [otlp]", name, p.Receivers)
		}
		if len(p.Processors) < 2 || p.Processors[0] != "memory_limiter" || !slices.Contains(p.Processors, "batch") {
			return fmt.Errorf("pipeline %s: processors %v, want memory_limiter first and batch", name, p.Processors)
		}
		for _, x := range p.Processors {
			if _, ok := c.Processors[x]; !ok {
				return fmt.Errorf("pipeline %s: processor %s is not defined", name, x)
			}
		}
		if len(p.Exporters) == 0 {
			return fmt.Errorf("pipeline %s has no exporter", name)
		}
		for _, x := range p.Exporters {
			if _, ok := c.Exporters[x]; !ok {
				return fmt.Errorf("pipeline %s: exporter %s is not defined", name, x)
			}
		}
	}
	if !slices.Contains(c.Service.Pipelines["metrics"].Exporters, "prometheus") {
		return errors.New("the metrics pipeline does not export to prometheus")
	}
	return nil
}

// metricRow is a row of the metrics table: | `name` | kind | ...
var metricRow = regexp.MustCompile("^\\| `((?:mcp|mcpgate)\\.[a-z_.]+)` \\| (histogram|counter|up-down counter|gauge)(?:, ([a-zA-Z]+))? \\|")

// emittedMetrics returns the Prometheus series names of the metrics the
// telemetry documentation lists.
func emittedMetrics(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	known := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := metricRow.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		base := strings.ReplaceAll(m[1], ".", "_")
		if m[3] == "s" {
			base += "_seconds"
		}
		switch m[2] {
		case "histogram":
			for _, s := range []string{"_bucket", "_count", "_sum"} {
				known[base+s] = true
			}
		case "counter":
			known[base+"_total"] = true
		default: // up-down counter, gauge
			known[base] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(known) == 0 {
		return nil, errors.New("no metrics table found")
	}
	return known, nil
}

// metricName is a metric selector: the dashboard's queries all select by
// job, so a name followed by "{" is a metric, never a label.
var metricName = regexp.MustCompile(`\b((?:mcp|mcpgate|process)_[a-z_]+)\{`)

func checkDashboard(path string, known map[string]bool) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return err
	}
	queries := 0
	for _, p := range d.Panels {
		for _, t := range p.Targets {
			queries++
			names := metricName.FindAllStringSubmatch(t.Expr, -1)
			if len(names) == 0 {
				return fmt.Errorf("panel %q: query %q selects no metric by name{...}", p.Title, t.Expr)
			}
			for _, m := range names {
				name := m[1]
				if !known[name] && !strings.HasPrefix(name, "process_") {
					return fmt.Errorf("panel %q queries %s, which mcpgate does not emit", p.Title, name)
				}
			}
		}
	}
	if queries == 0 {
		return errors.New("no queries")
	}
	return nil
}
