package cli

import (
	"fmt"
	"strings"
)

// flagKind is whether a flag takes a value and whether it may repeat.
type flagKind int

const (
	boolFlag flagKind = iota
	stringFlag
	listFlag
)

// flagSpec describes one option. The parser is GNU-style: flags may come
// after operands, long flags take "--name value" or "--name=value", short
// ones "-o value" or "-ovalue", and "--" ends the options. An empty value
// is a usage error for a stringFlag, where it would otherwise read as the
// flag not given. A listFlag passes it on to the command's own checks.
type flagSpec struct {
	long, short string
	kind        flagKind
	arg         string // placeholder in help, e.g. FILE
	help        string
}

// parsedFlags holds the values given on the command line.
type parsedFlags struct {
	set      map[string]bool
	values   map[string][]string
	operands []string
}

func (p *parsedFlags) bool(name string) bool { return p.set[name] }

func (p *parsedFlags) string(name string) string {
	v := p.values[name]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

func (p *parsedFlags) list(name string) []string { return p.values[name] }

// UsageError is a command line that cannot be parsed; it exits with 2.
type UsageError struct{ msg string }

func (e *UsageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &UsageError{msg: fmt.Sprintf(format, args...)}
}

func parseFlags(specs []flagSpec, args []string) (*parsedFlags, error) {
	p := &parsedFlags{set: map[string]bool{}, values: map[string][]string{}}
	byLong := map[string]*flagSpec{}
	byShort := map[string]*flagSpec{}
	for i := range specs {
		byLong[specs[i].long] = &specs[i]
		if specs[i].short != "" {
			byShort[specs[i].short] = &specs[i]
		}
	}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--":
			p.operands = append(p.operands, args[i+1:]...)
			return p, nil
		case strings.HasPrefix(arg, "--"):
			name, value, hasValue := strings.Cut(arg[2:], "=")
			spec, ok := byLong[name]
			if !ok {
				return nil, usageErrorf("unknown flag --%s", name)
			}
			if spec.kind == boolFlag {
				if hasValue {
					return nil, usageErrorf("flag --%s takes no value", name)
				}
				p.set[spec.long] = true
				continue
			}
			if !hasValue {
				if i+1 >= len(args) {
					return nil, usageErrorf("flag --%s needs a value (%s)", name, spec.arg)
				}
				i++
				value = args[i]
			}
			if value == "" && spec.kind == stringFlag {
				return nil, usageErrorf("flag --%s needs a non-empty value (%s)", name, spec.arg)
			}
			p.add(spec, value)
		case strings.HasPrefix(arg, "-") && len(arg) > 1:
			spec, ok := byShort[arg[1:2]]
			if !ok {
				return nil, usageErrorf("unknown flag %s", arg)
			}
			if spec.kind == boolFlag {
				if len(arg) > 2 {
					return nil, usageErrorf("flag -%s takes no value: %s", spec.short, arg)
				}
				p.set[spec.long] = true
				continue
			}
			value := arg[2:]
			if value == "" {
				if i+1 >= len(args) {
					return nil, usageErrorf("flag -%s needs a value (%s)", spec.short, spec.arg)
				}
				i++
				value = args[i]
			}
			if value == "" && spec.kind == stringFlag {
				return nil, usageErrorf("flag -%s needs a non-empty value (%s)", spec.short, spec.arg)
			}
			p.add(spec, value)
		default:
			p.operands = append(p.operands, arg)
		}
	}
	return p, nil
}

func (p *parsedFlags) add(spec *flagSpec, value string) {
	p.set[spec.long] = true
	if spec.kind == listFlag {
		p.values[spec.long] = append(p.values[spec.long], value)
	} else {
		p.values[spec.long] = []string{value}
	}
}
