// Package strictyaml decodes one YAML document into a Go value, refusing
// unknown keys, and words the errors for people: "line 4: unknown key
// "intervall"".
//
// It may import only the standard library and gopkg.in/yaml.v3.
package strictyaml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// ErrEmpty is returned for a document with nothing in it.
var ErrEmpty = errors.New("file is empty")

// cannotUnmarshal matches yaml.v3's type mismatch once the value is
// dropped: its YAML tag and Go type mean little to the person who wrote the
// file.
// The value, between backquotes, may itself hold backquotes: the greedy
// match takes it up to the last "` into ".
var cannotUnmarshal = regexp.MustCompile("(?s)^line (\\d+): cannot unmarshal (!.*?)(?: `.*`)? into (.+)$")

// hasLine matches an error that says its line.
var hasLine = regexp.MustCompile(`\bline \d+`)

var unknownField = regexp.MustCompile(`^line (\d+): field (.*) not found in type \S+$`)

// quotedValue is the value yaml.v3 quotes in a type error ("cannot
// unmarshal !!str `hunter2` into float64"): it is dropped, since a value in
// the wrong place may be a secret.
var quotedValue = regexp.MustCompile(" `[^`]*`")

// Decode decodes data into v. Unknown keys, type mismatches, a second
// document and an empty input are errors; the first problem is reported,
// with its line.
func Decode(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return ErrEmpty
		}
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			raw := te.Errors[0]
			if m := unknownField.FindStringSubmatch(raw); m != nil {
				return fmt.Errorf("line %s: unknown key %q", m[1], m[2])
			}
			if m := cannotUnmarshal.FindStringSubmatch(raw); m != nil {
				return fmt.Errorf("line %s: want %s, got %s", m[1], wantKind(m[3]), yamlKind(m[2]))
			}
			return errors.New(quotedValue.ReplaceAllString(raw, ""))
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if !hasLine.MatchString(msg) {
			// The reader's errors (control characters, invalid UTF-8)
			// carry no position: find the character they are about.
			if line, ok := badCharLine(data); ok {
				msg = fmt.Sprintf("line %d: %s", line, msg)
			}
		}
		return errors.New(msg)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("only one YAML document is allowed")
	}
	return nil
}

// wantKind words a Go type as what the file should hold there.
func wantKind(goType string) string {
	t := strings.TrimLeft(goType, "*")
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "a whole number"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "text"
	}
	return "a mapping of keys"
}

// yamlKind words a YAML tag as what the file holds.
func yamlKind(tag string) string {
	switch tag {
	case "!!str":
		return "text"
	case "!!int":
		return "a whole number"
	case "!!float":
		return "a number"
	case "!!bool":
		return "true or false"
	case "!!seq":
		return "a list"
	case "!!map":
		return "a mapping"
	case "!!null":
		return "nothing"
	case "!!timestamp":
		return "a timestamp"
	case "!!binary":
		return "binary data"
	}
	return "a value with a tag"
}

// badCharLine returns the line of the first character YAML does not allow
// in a document: invalid UTF-8, or a control character other than tab, line
// feed and carriage return (a byte order mark may only lead the file).
func badCharLine(data []byte) (int, bool) {
	for i, w := 0, 0; i < len(data); i += w {
		var r rune
		r, w = utf8.DecodeRune(data[i:])
		bad := r == utf8.RuneError && w == 1 ||
			r < 0x20 && r != '\t' && r != '\n' && r != '\r' ||
			r >= 0x7f && r <= 0x9f && r != 0x85 ||
			r == 0xfeff && i > 0 || r == 0xfffe || r == 0xffff
		if bad {
			return 1 + bytes.Count(data[:i], []byte{'\n'}), true
		}
	}
	return 0, false
}
