// helm-render renders a Helm chart offline, without helm or a cluster, for the chart tests.
//
// It implements the part of Helm the shardfleet chart uses: text/template with the sprig
// functions, include, tpl, toYaml, fromYaml, toJson, required, fail, lookup (always empty),
// .Values (values.yaml deep-merged with -f files and -set-json objects; null deletes a key),
// .Release, .Chart (from Chart.yaml), .Template, a minimal .Capabilities and .Files.Get (a file
// of the chart folder by relative path, "" when absent, like Helm).
//
// Build in GOPATH mode with the Debian packages golang-go, golang-github-masterminds-sprig-dev
// and golang-gopkg-yaml.v3-dev:
//
//	GO111MODULE=off GOPATH=$HOME/go:/usr/share/gocode go build -o helm-render ./tools/helm-render
//
// Usage:
//
//	helm-render -chart helm/shardfleet [-f override.yaml]... [-set-json '{"router":{"replicas":3}}']...
//	            [-name shardfleet] [-namespace default] [-output yaml|json|notes|values]
//
// -output yaml prints a YAML stream with "# Source:" comments (like `helm template`); json prints
// a JSON array of {"source": ..., "object": ...} (each document parsed with yaml.v3, empty
// documents dropped); notes prints the rendered NOTES.txt; values prints the merged values as JSON.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"gopkg.in/yaml.v3"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// apiVersions mimics Helm's .Capabilities.APIVersions (only Has is provided).
type apiVersions []string

func (a apiVersions) Has(v string) bool {
	for _, x := range a {
		if x == v {
			return true
		}
	}
	return false
}

// chartFiles mimics Helm's .Files (only Get is provided).
type chartFiles struct{ dir string }

// Get returns the text of the chart file at the slash-separated path relative to the chart
// folder, or "" when it does not exist or lies outside the chart (as Helm does).
func (f chartFiles) Get(name string) string {
	clean := filepath.Clean(filepath.FromSlash(name))
	if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return ""
	}
	b, err := os.ReadFile(filepath.Join(f.dir, clean))
	if err != nil {
		return ""
	}
	return string(b)
}

func main() {
	chartDir := flag.String("chart", "", "chart folder (holds Chart.yaml, values.yaml, templates/)")
	name := flag.String("name", "shardfleet", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	output := flag.String("output", "yaml", "yaml | json | notes | values")
	kubeVersion := flag.String("kube-version", "v1.30.0", "Capabilities.KubeVersion")
	var valueFiles, setJSON, extraAPIs multiFlag
	flag.Var(&valueFiles, "f", "values file merged over values.yaml (repeatable)")
	flag.Var(&setJSON, "set-json", "JSON object merged over the values (repeatable)")
	flag.Var(&extraAPIs, "api-versions", "extra Capabilities.APIVersions entries (repeatable)")
	flag.Parse()
	if *chartDir == "" {
		fail(errors.New("-chart is required"))
	}
	out, err := run(*chartDir, *name, *namespace, *output, *kubeVersion, valueFiles, setJSON, extraAPIs)
	if err != nil {
		fail(err)
	}
	os.Stdout.WriteString(out)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "helm-render:", err)
	os.Exit(1)
}

func run(chartDir, name, namespace, output, kubeVersion string, valueFiles, setJSON, extraAPIs []string) (string, error) {
	chartMeta, err := readYAMLMap(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		return "", err
	}
	values, err := readYAMLMap(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return "", err
	}
	for _, f := range valueFiles {
		over, err := readYAMLMap(f)
		if err != nil {
			return "", err
		}
		values = mergeValues(values, over)
	}
	for _, s := range setJSON {
		var over map[string]interface{}
		if err := json.Unmarshal([]byte(s), &over); err != nil {
			return "", fmt.Errorf("-set-json %q: %w", s, err)
		}
		values = mergeValues(values, normalize(over).(map[string]interface{}))
	}
	if output == "values" {
		b, err := json.MarshalIndent(values, "", "  ")
		return string(b) + "\n", err
	}

	chartName, _ := chartMeta["name"].(string)
	if chartName == "" {
		return "", errors.New("Chart.yaml has no name")
	}
	chart := map[string]interface{}{}
	for k, v := range chartMeta {
		chart[strings.ToUpper(k[:1])+k[1:]] = v
	}
	major, minor := "1", "30"
	if m := regexp.MustCompile(`^v?(\d+)\.(\d+)`).FindStringSubmatch(kubeVersion); m != nil {
		major, minor = m[1], m[2]
	}
	apis := apiVersions{"v1", "apps/v1", "batch/v1", "policy/v1", "autoscaling/v2", "networking.k8s.io/v1"}
	apis = append(apis, extraAPIs...)
	top := map[string]interface{}{
		"Values":  values,
		"Chart":   chart,
		"Files":   chartFiles{dir: chartDir},
		"Release": map[string]interface{}{"Name": name, "Namespace": namespace, "Service": "Helm", "IsInstall": true, "IsUpgrade": false, "Revision": 1},
		"Capabilities": map[string]interface{}{
			"KubeVersion": map[string]interface{}{"Version": kubeVersion, "Major": major, "Minor": minor, "GitVersion": kubeVersion},
			"APIVersions": apis,
		},
	}

	tmplDir := filepath.Join(chartDir, "templates")
	entries, err := os.ReadDir(tmplDir)
	if err != nil {
		return "", err
	}
	root := template.New("gotpl").Option("missingkey=zero")
	funcs := funcMap(root)
	root.Funcs(funcs)
	var files []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(tmplDir, e.Name()))
		if err != nil {
			return "", err
		}
		tname := chartName + "/templates/" + e.Name()
		if _, err := root.New(tname).Parse(string(b)); err != nil {
			return "", err
		}
		files = append(files, e.Name())
	}
	sort.Strings(files)

	render := func(file string) (string, error) {
		tname := chartName + "/templates/" + file
		data := shallowCopy(top)
		data["Template"] = map[string]interface{}{"Name": tname, "BasePath": chartName + "/templates"}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, tname, data); err != nil {
			return "", err
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}

	if output == "notes" {
		return render("NOTES.txt")
	}
	var stream strings.Builder
	type doc struct {
		Source string      `json:"source"`
		Object interface{} `json:"object"`
	}
	docs := []doc{}
	for _, f := range files {
		if strings.HasPrefix(f, "_") || f == "NOTES.txt" || !(strings.HasSuffix(f, ".yaml") || strings.HasSuffix(f, ".yml") || strings.HasSuffix(f, ".tpl")) {
			continue
		}
		if strings.HasSuffix(f, ".tpl") {
			continue
		}
		text, err := render(f)
		if err != nil {
			return "", err
		}
		source := chartName + "/templates/" + f
		for _, part := range splitDocs(text) {
			if strings.TrimSpace(stripComments(part)) == "" {
				continue
			}
			var obj interface{}
			if err := yaml.Unmarshal([]byte(part), &obj); err != nil {
				return "", fmt.Errorf("%s: rendered YAML does not parse: %w\n%s", source, err, numbered(part))
			}
			if obj == nil {
				continue
			}
			if _, ok := obj.(map[string]interface{}); !ok {
				return "", fmt.Errorf("%s: a rendered document is not a mapping:\n%s", source, numbered(part))
			}
			stream.WriteString("---\n# Source: " + source + "\n" + strings.TrimSpace(part) + "\n")
			docs = append(docs, doc{Source: source, Object: normalize(obj)})
		}
	}
	if output == "json" {
		b, err := json.MarshalIndent(docs, "", "  ")
		return string(b) + "\n", err
	}
	return stream.String(), nil
}

func funcMap(root *template.Template) template.FuncMap {
	f := sprig.TxtFuncMap()
	// Helm removes these: rendering must not depend on the machine.
	delete(f, "env")
	delete(f, "expandenv")
	includeDepth := map[string]int{}
	f["include"] = func(name string, data interface{}) (string, error) {
		if includeDepth[name] > 100 {
			return "", fmt.Errorf("include %q: recursion too deep", name)
		}
		includeDepth[name]++
		defer func() { includeDepth[name]-- }()
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	f["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		t2, err := t.New("tpl").Parse(text)
		if err != nil {
			return "", fmt.Errorf("tpl: %w", err)
		}
		var buf bytes.Buffer
		if err := t2.Execute(&buf, data); err != nil {
			return "", fmt.Errorf("tpl: %w", err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	f["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return nil, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return nil, errors.New(msg)
		}
		return v, nil
	}
	f["fail"] = func(msg string) (string, error) { return "", errors.New(msg) }
	f["toYaml"] = func(v interface{}) string {
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(v); err != nil {
			return ""
		}
		enc.Close()
		return strings.TrimSuffix(buf.String(), "\n")
	}
	f["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["toJson"] = func(v interface{}) string {
		b, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(b)
	}
	f["lookup"] = func(apiVersion, kind, namespace, name string) map[string]interface{} {
		return map[string]interface{}{}
	}
	return f
}

func readYAMLMap(path string) (map[string]interface{}, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m map[string]interface{}
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if m == nil {
		m = map[string]interface{}{}
	}
	return normalize(m).(map[string]interface{}), nil
}

// mergeValues deep-merges over into base (maps merge, everything else replaces, null deletes).
func mergeValues(base, over map[string]interface{}) map[string]interface{} {
	out := shallowCopy(base)
	for k, v := range over {
		if v == nil {
			delete(out, k)
			continue
		}
		bm, bok := out[k].(map[string]interface{})
		om, ook := v.(map[string]interface{})
		if bok && ook {
			out[k] = mergeValues(bm, om)
		} else {
			out[k] = v
		}
	}
	return out
}

func shallowCopy(m map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// normalize turns map[interface{}]interface{} into map[string]interface{} and integral float64
// (JSON numbers) into int, so that values from JSON compare like values from YAML.
func normalize(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		out := make(map[string]interface{}, len(t))
		for k, x := range t {
			out[k] = normalize(x)
		}
		return out
	case map[interface{}]interface{}:
		out := make(map[string]interface{}, len(t))
		for k, x := range t {
			out[fmt.Sprint(k)] = normalize(x)
		}
		return out
	case []interface{}:
		out := make([]interface{}, len(t))
		for i, x := range t {
			out[i] = normalize(x)
		}
		return out
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
			return int(t)
		}
		return t
	default:
		return v
	}
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*$`)

func splitDocs(s string) []string { return docSep.Split(s, -1) }

func stripComments(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func numbered(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = fmt.Sprintf("%4d | %s", i+1, l)
	}
	return strings.Join(lines, "\n")
}
