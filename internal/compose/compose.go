// Package compose reads the Wizard's docker-compose.yml with the loader
// Docker Compose itself uses (compose-spec/compose-go) and checks it against
// the hardening rules the lifecycle manager enforces before it starts
// anything. A file that does not parse is reported with its file, line and
// problem, so a user can fix it without guessing.
package compose

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/schema"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"go.yaml.in/yaml/v4"
)

// ExtensionKey is the service-level extension holding udos-lib's per-service
// settings (waivers and what recover may reset).
const ExtensionKey = "x-udos"

// Extension is the x-udos block of a service.
type Extension struct {
	// AllowPublicPorts waives the loopback-only rule (CIS 5.13) for this
	// service: its published ports may listen on every interface.
	AllowPublicPorts bool `yaml:"allow_public_ports,omitempty" json:"allow_public_ports,omitempty"`
	// ResetVolumes names the project volumes (compose keys) holding state
	// that recover may throw away and recreate empty when the service cannot
	// use them (for example permission denied). Nothing else is ever reset.
	ResetVolumes []string `yaml:"reset_volumes,omitempty" json:"reset_volumes,omitempty"`
}

// Project is a loaded compose file.
type Project struct {
	*types.Project
	// File is the absolute path of the compose file.
	File string
	// lines maps dotted YAML paths ("services.web.privileged") to lines.
	lines map[string]int
}

// ParseError is a compose file that cannot be read, parsed or validated.
type ParseError struct {
	File string
	// Line is 1-based; 0 when the problem has no single place in the file.
	Line    int
	Column  int
	Problem string
	Err     error
}

func (e *ParseError) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Problem)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Problem)
	default:
		return fmt.Sprintf("%s: %s", e.File, e.Problem)
	}
}

func (e *ParseError) Unwrap() error { return e.Err }

// Load reads the compose file at path. env is the environment used for
// ${VAR} interpolation (the caller passes the process environment). The
// project name is the file's name:, else the folder's name, as Compose does.
func Load(ctx context.Context, path string, env map[string]string) (*Project, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("compose file %q: %w", path, err)
	}
	content, err := os.ReadFile(abs)
	if err != nil {
		return nil, &ParseError{File: abs, Problem: "cannot read the file: " + errors.Unwrap(err).Error(), Err: err}
	}
	return LoadBytes(ctx, abs, content, env)
}

// LoadBytes is Load for content already read; file names it in errors and
// anchors relative paths.
func LoadBytes(ctx context.Context, file string, content []byte, env map[string]string) (*Project, error) {
	dir := filepath.Dir(file)
	var root yaml.Node
	if err := yaml.Unmarshal(content, &root); err != nil {
		line, col := yamlMark(err)
		return nil, &ParseError{File: file, Line: line, Column: col, Problem: yamlProblem(err), Err: err}
	}
	lines := map[string]int{}
	indexLines(&root, "", lines)

	environment := map[string]string{}
	for k, v := range env {
		environment[k] = v
	}
	details := types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: file, Content: content}},
		Environment: environment,
	}
	p, err := loader.LoadWithContext(ctx, details, func(o *loader.Options) {
		o.SetProjectName(loader.NormalizeProjectName(filepath.Base(dir)), false)
	})
	if err != nil {
		pe := &ParseError{File: file, Problem: err.Error(), Err: err}
		if path, unknownKey, ok := schemaLocation(content); ok {
			pe.Line = lookupLine(lines, path)
			// compose-go's message leads with "validating FILE: ",
			// which ParseError already prints; its cause reads better.
			if inner := errors.Unwrap(err); inner != nil {
				pe.Problem = inner.Error()
			}
			if unknownKey {
				pe.Problem = fmt.Sprintf("%s: unknown key (not in the Compose specification)", strings.Join(path, "."))
			}
		}
		return nil, pe
	}
	return &Project{Project: p, File: file, lines: lines}, nil
}

// yamlMark digs the position out of a YAML syntax error. go.yaml.in/yaml
// keeps its parser and scanner error types in an internal package, so the
// Mark field is read by reflection instead of from the message text.
// v4.0.0-rc.4 leaves the parser's marks 0-based (its scanner's are 1-based;
// TestParseErrors pins both).
func yamlMark(err error) (line, col int) {
	for e := err; e != nil; e = errors.Unwrap(e) {
		v := reflect.ValueOf(e)
		if v.Kind() == reflect.Pointer {
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			continue
		}
		if mark := v.FieldByName("Mark"); mark.IsValid() && mark.Kind() == reflect.Struct {
			l, c := mark.FieldByName("Line"), mark.FieldByName("Column")
			if l.IsValid() && l.CanInt() {
				line = int(l.Int())
				if v.Type().Name() == "ParserError" {
					line++
				}
			}
			if c.IsValid() && c.CanInt() {
				col = int(c.Int()) + 1
			}
			return line, col
		}
		if l := v.FieldByName("Line"); l.IsValid() && l.CanInt() {
			return int(l.Int()), 0
		}
	}
	var le *yaml.LoadErrors
	if errors.As(err, &le) && len(le.Errors) > 0 {
		return le.Errors[0].Line, le.Errors[0].Column
	}
	return 0, 0
}

// yamlProblem is the error's own message without its "yaml: line N:"
// position, which ParseError prints (corrected) in front.
func yamlProblem(err error) string {
	for e := err; e != nil; e = errors.Unwrap(e) {
		v := reflect.ValueOf(e)
		if v.Kind() == reflect.Pointer {
			v = v.Elem()
		}
		if v.Kind() == reflect.Struct {
			if m := v.FieldByName("Message"); m.IsValid() && m.Kind() == reflect.String {
				msg := m.String()
				if cm := v.FieldByName("ContextMessage"); cm.IsValid() && cm.Kind() == reflect.String && cm.String() != "" {
					msg = cm.String() + ": " + msg
				}
				return msg
			}
		}
	}
	return trimYAML(err.Error())
}

func trimYAML(msg string) string {
	return strings.TrimPrefix(msg, "yaml: ")
}

// schemaLocation validates the raw file against the Compose schema that
// compose-go embeds and returns the dotted path of the most specific
// violation, and whether it is a key the schema does not know. compose-go's
// own message is the better text otherwise, but it does not expose where in
// the file the violation is.
func schemaLocation(content []byte) (path []string, unknownKey, ok bool) {
	var raw any
	if err := yaml.Unmarshal(content, &raw); err != nil {
		return nil, false, false
	}
	sch, err := composeSchema()
	if err != nil {
		return nil, false, false
	}
	normalized, err := jsonCompatible(raw)
	if err != nil {
		return nil, false, false
	}
	verr := sch.Validate(normalized)
	var ve *jsonschema.ValidationError
	if !errors.As(verr, &ve) {
		return nil, false, false
	}
	for len(ve.Causes) > 0 {
		ve = ve.Causes[0]
	}
	_, unknownKey = ve.ErrorKind.(*kind.FalseSchema)
	return ve.InstanceLocation, unknownKey, true
}

var composeSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(schema.Schema))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("compose-spec.json", doc); err != nil {
		return nil, err
	}
	// Durations are checked by compose-go; only the location matters here.
	c.RegisterFormat(&jsonschema.Format{Name: "duration", Validate: func(any) error { return nil }})
	return c.Compile("compose-spec.json")
})

// jsonCompatible turns YAML's decoded values into what a JSON decoder would
// give (string keys, float64 numbers), the form the schema validator takes.
func jsonCompatible(v any) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			c, err := jsonCompatible(x)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			c, err := jsonCompatible(x)
			if err != nil {
				return nil, err
			}
			out[fmt.Sprint(k)] = c
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			c, err := jsonCompatible(x)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case int:
		return float64(t), nil
	case int64:
		return float64(t), nil
	case uint64:
		return float64(t), nil
	case float32:
		return float64(t), nil
	default:
		return v, nil
	}
}

// indexLines records the line of every mapping key and sequence item.
func indexLines(n *yaml.Node, prefix string, lines map[string]int) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			indexLines(c, prefix, lines)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := join(prefix, n.Content[i].Value)
			lines[k] = n.Content[i].Line
			indexLines(n.Content[i+1], k, lines)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			k := join(prefix, strconv.Itoa(i))
			lines[k] = c.Line
			indexLines(c, k, lines)
		}
	}
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// lookupLine returns the line of the deepest known prefix of path.
func lookupLine(lines map[string]int, path []string) int {
	for n := len(path); n > 0; n-- {
		if l, ok := lines[strings.Join(path[:n], ".")]; ok {
			return l
		}
	}
	return 0
}

// Line returns the line of a dotted path in the file ("services.web.ports"),
// falling back to the nearest enclosing key; 0 when unknown.
func (p *Project) Line(path ...string) int {
	return lookupLine(p.lines, path)
}

// Extension returns the service's x-udos block.
func (p *Project) Extension(service string) (Extension, error) {
	svc, ok := p.Services[service]
	if !ok {
		return Extension{}, fmt.Errorf("no service %q in %s", service, p.File)
	}
	raw, ok := svc.Extensions[ExtensionKey]
	if !ok {
		return Extension{}, nil
	}
	b, err := yaml.Marshal(raw)
	if err != nil {
		return Extension{}, fmt.Errorf("service %q: %s: %w", service, ExtensionKey, err)
	}
	var ext Extension
	dec, err := yaml.NewLoader(bytes.NewReader(b), yaml.WithKnownFields(true))
	if err != nil {
		return Extension{}, fmt.Errorf("service %q: %s: %w", service, ExtensionKey, err)
	}
	if err := dec.Load(&ext); err != nil {
		return Extension{}, &ParseError{File: p.File, Line: p.Line("services", service, ExtensionKey),
			Problem: fmt.Sprintf("service %q: %s: %s", service, ExtensionKey, trimYAML(err.Error())), Err: err}
	}
	for _, v := range ext.ResetVolumes {
		if _, ok := p.Volumes[v]; !ok {
			return Extension{}, &ParseError{File: p.File, Line: p.Line("services", service, ExtensionKey, "reset_volumes"),
				Problem: fmt.Sprintf("service %q: %s.reset_volumes names %q, which is not a volume of the file", service, ExtensionKey, v)}
		}
	}
	return ext, nil
}

// Order returns the service names so that every service comes after the
// services it depends on; ties are broken by name, so the order is stable.
func (p *Project) Order() ([]string, error) {
	const (
		unseen = iota
		visiting
		done
	)
	state := map[string]int{}
	var out []string
	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		switch state[name] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("%s: dependency cycle: %s", p.File, strings.Join(append(chain, name), " -> "))
		}
		state[name] = visiting
		svc, ok := p.Services[name]
		if !ok {
			return fmt.Errorf("%s: service %q is not defined", p.File, name)
		}
		deps := slices.Sorted(maps.Keys(svc.DependsOn))
		for _, d := range deps {
			if err := visit(d, append(chain, name)); err != nil {
				return err
			}
		}
		state[name] = done
		out = append(out, name)
		return nil
	}
	for _, name := range p.ServiceNames() {
		if err := visit(name, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}
