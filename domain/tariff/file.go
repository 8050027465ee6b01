package tariff

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	civicardv1 "civicard/messages/civicard/v1"
)

// Operators write a region and a price list as files: JSON with the field
// names of Region and PriceList, a Rule and a price list's Kind by name
// ("time-ticket", "SERVICE_KIND_LIBRARY"). They are read strictly: an
// unknown field, a value of the wrong type or an unknown name, and
// anything after the document are refused, with the line they are on, so
// that a typo is found before the file is committed rather than when a
// card is priced by it.

// FileBytesMax bounds a region or price list file.
const FileBytesMax = 4 << 20

// ErrFile is wrapped by every error of ParseRegion and ParsePriceList.
var ErrFile = errors.New("tariff: bad file")

// FileError is a file that does not decode: where and why.
type FileError struct {
	// Line is 1-based.
	Line   int
	Reason string
}

func (e *FileError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// Unwrap makes every FileError an ErrFile.
func (e *FileError) Unwrap() error { return ErrFile }

// ParseRegion reads a region file. It does not validate the region
// (Region.Validate, NewEngine do).
func ParseRegion(data []byte) (Region, error) {
	var r Region
	err := decodeFile(data, &r)
	return r, err
}

// ParsePriceList reads a price list file. It does not validate the list
// (PriceList.Validate does, against its region).
func ParsePriceList(data []byte) (PriceList, error) {
	var f priceListFile
	if err := decodeFile(data, &f); err != nil {
		return PriceList{}, err
	}
	return PriceList{InstitutionID: f.InstitutionID, Kind: civicardv1.ServiceKind(f.Kind), Products: f.Products}, nil
}

// FormatRegion writes the file that ParseRegion reads back to r.
func FormatRegion(r Region) ([]byte, error) {
	return formatFile(r)
}

// FormatPriceList writes the file that ParsePriceList reads back to p.
func FormatPriceList(p PriceList) ([]byte, error) {
	return formatFile(priceListFile{InstitutionID: p.InstitutionID, Kind: serviceKindName(p.Kind), Products: p.Products})
}

// priceListFile is a PriceList with its kind by name.
type priceListFile struct {
	InstitutionID string
	Kind          serviceKindName
	Products      []Product
}

type serviceKindName civicardv1.ServiceKind

func (k serviceKindName) MarshalText() ([]byte, error) {
	name, ok := civicardv1.ServiceKind_name[int32(k)]
	if !ok {
		return nil, fmt.Errorf("service kind %d", int32(k))
	}
	return []byte(name), nil
}

func (k *serviceKindName) UnmarshalText(text []byte) error {
	v, ok := civicardv1.ServiceKind_value[string(text)]
	if !ok || v == 0 {
		var names []string
		for i := int32(1); i < int32(len(civicardv1.ServiceKind_name)); i++ {
			names = append(names, civicardv1.ServiceKind_name[i])
		}
		return fmt.Errorf("kind %q: want one of %s", text, strings.Join(names, ", "))
	}
	*k = serviceKindName(v)
	return nil
}

// MarshalText names the rule, as a file has it.
func (r Rule) MarshalText() ([]byte, error) {
	if r == ruleNone || r >= ruleEnd {
		return nil, fmt.Errorf("rule %d", uint8(r))
	}
	return []byte(r.String()), nil
}

// UnmarshalText reads a rule by name.
func (r *Rule) UnmarshalText(text []byte) error {
	for i := ruleNone + 1; i < ruleEnd; i++ {
		if ruleNames[i] == string(text) {
			*r = i
			return nil
		}
	}
	return fmt.Errorf("rule %q: want one of %s", text, strings.Join(ruleNames[ruleNone+1:], ", "))
}

func formatFile(v any) ([]byte, error) {
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("tariff: format: %w", err)
	}
	return append(out, '\n'), nil
}

// decodeFile decodes data into v strictly; an error is a *FileError.
func decodeFile(data []byte, v any) error {
	if len(data) > FileBytesMax {
		return &FileError{Line: 1, Reason: fmt.Sprintf("the file is %d bytes, at most %d", len(data), FileBytesMax)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		// One document, nothing after it.
		if _, extra := dec.Token(); extra != io.EOF {
			return &FileError{Line: lineAt(data, int(dec.InputOffset())), Reason: "data after the end of the document"}
		}
		return nil
	}
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return &FileError{Line: 1, Reason: "the file is empty"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &FileError{Line: lineAt(data, len(data)), Reason: "the file ends in the middle of the document"}
	case errors.As(err, &syntax):
		return &FileError{Line: lineAt(data, int(syntax.Offset)), Reason: strings.TrimPrefix(syntax.Error(), "json: ")}
	case errors.As(err, &typ):
		reason := fmt.Sprintf("%s: a JSON %s where %s is wanted", typ.Field, typ.Value, typ.Type)
		if typ.Field == "" {
			reason = fmt.Sprintf("a JSON %s where %s is wanted", typ.Value, typ.Type)
		}
		return &FileError{Line: lineAt(data, int(typ.Offset)), Reason: reason}
	}
	// An unknown field, or a name a Rule or Kind does not know: encoding/json
	// says neither where. Walk the document the way it did to find the
	// first key or value it refused.
	if offset, reason, ok := firstRefused(data, reflect.TypeOf(v).Elem()); ok {
		return &FileError{Line: lineAt(data, offset), Reason: reason}
	}
	return &FileError{Line: 1, Reason: strings.TrimPrefix(err.Error(), "json: ")}
}

// lineAt is the 1-based line of a byte offset.
func lineAt(data []byte, offset int) int {
	offset = max(0, min(offset, len(data)))
	return 1 + bytes.Count(data[:offset], []byte{'\n'})
}

// firstRefused walks a syntactically valid document along the Go type it is
// decoded into and returns the offset of the first object key that type has
// no field for, or of the first string a TextUnmarshaler refuses, with why.
func firstRefused(data []byte, t reflect.Type) (int, string, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	w := refusalWalker{dec: dec}
	w.value(t, "")
	return w.offset, w.reason, w.found
}

type refusalWalker struct {
	dec    *json.Decoder
	found  bool
	offset int
	reason string
	// broken: the token stream ended or failed; stop.
	broken bool
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// value reads one value of the document, expected to decode into t, whose
// path in the document is path.
func (w *refusalWalker) value(t reflect.Type, path string) {
	if w.found || w.broken {
		return
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := w.dec.Token()
	if err != nil {
		w.broken = true
		return
	}
	end := int(w.dec.InputOffset())
	switch tok := tok.(type) {
	case json.Delim:
		switch tok {
		case '{':
			w.object(t, path)
		case '[':
			var elem reflect.Type
			if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
				elem = t.Elem()
			}
			for i := 0; w.dec.More() && !w.found && !w.broken; i++ {
				w.value(elem, fmt.Sprintf("%s[%d]", path, i))
			}
			w.closing()
		}
	case string:
		if t != nil && reflect.PointerTo(t).Implements(textUnmarshaler) {
			target := reflect.New(t).Interface().(encoding.TextUnmarshaler)
			if err := target.UnmarshalText([]byte(tok)); err != nil {
				w.found, w.offset, w.reason = true, end, fmt.Sprintf("%s: %v", strings.TrimPrefix(path, "."), err)
			}
		}
	}
}

func (w *refusalWalker) object(t reflect.Type, path string) {
	for w.dec.More() && !w.found && !w.broken {
		tok, err := w.dec.Token()
		if err != nil {
			w.broken = true
			return
		}
		key, _ := tok.(string)
		keyEnd := int(w.dec.InputOffset())
		var fieldType reflect.Type
		if t != nil && t.Kind() == reflect.Struct {
			field, ok := fieldByJSONName(t, key)
			if !ok {
				w.found, w.offset = true, keyEnd
				w.reason = fmt.Sprintf("unknown field %q", key)
				if where := strings.TrimPrefix(path, "."); where != "" {
					w.reason = fmt.Sprintf("%s: unknown field %q", where, key)
				}
				return
			}
			fieldType = field.Type
		}
		w.value(fieldType, path+"."+key)
	}
	w.closing()
}

// closing reads the ] or } that ends an array or object.
func (w *refusalWalker) closing() {
	if w.found || w.broken {
		return
	}
	if _, err := w.dec.Token(); err != nil {
		w.broken = true
	}
}

// fieldByJSONName finds the field encoding/json decodes key into: the
// exported field of that name, or else of that name in another case.
func fieldByJSONName(t reflect.Type, key string) (reflect.StructField, bool) {
	if f, ok := t.FieldByName(key); ok && f.IsExported() {
		return f, true
	}
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() && strings.EqualFold(f.Name, key) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}
