package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Strict input: the gateway refuses what it does not understand rather than
// guessing. A field the schema does not know is a client speaking another
// version of the API or a typo ("cardId" for "card_id"): dropping it silently
// runs the request without what the client meant (a CloseCycle for one card
// closes every card's cycle). A control character in a text field ends up in
// the ledger, log lines and terminals' screens. Each handler still checks its
// own fields' meaning and tighter bounds; these checks hold for every RPC.

// textBytesMax bounds every string field of every request; handlers hold
// most fields to tighter bounds of their own.
const textBytesMax = 256

// strictJSON is the Connect/JSON codec with unknown fields refused: connect's
// default JSON codec discards them.
type strictJSON struct{ name string }

var _ connect.Codec = strictJSON{}

func (c strictJSON) Name() string { return c.name }

func (c strictJSON) Marshal(message any) ([]byte, error) {
	m, ok := message.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("gateway: %T is not a protobuf message", message)
	}
	return protojson.MarshalOptions{}.Marshal(m)
}

func (c strictJSON) Unmarshal(data []byte, message any) error {
	m, ok := message.(proto.Message)
	if !ok {
		return fmt.Errorf("gateway: %T is not a protobuf message", message)
	}
	if len(data) == 0 {
		return errors.New("an empty body is not a JSON object")
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(data, m); err != nil {
		return fmt.Errorf("unmarshal into %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return nil
}

// strictCodecs replaces connect's JSON codecs under both names it registers.
func strictCodecs() []connect.HandlerOption {
	return []connect.HandlerOption{
		connect.WithCodec(strictJSON{name: "json"}),
		connect.WithCodec(strictJSON{name: "json; charset=utf-8"}),
	}
}

// strictInput refuses a request that carries fields the schema does not
// know (binary protobuf keeps them as unknown bytes) or text that is not
// printable or longer than textBytesMax, before the handler sees it.
func strictInput() connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if m, ok := req.Any().(proto.Message); ok {
				if err := checkMessage(m.ProtoReflect(), ""); err != nil {
					return nil, err
				}
			}
			return next(ctx, req)
		}
	}
}

// checkMessage walks m and every message under it; path names where m sits
// in the request ("" at the top).
func checkMessage(m protoreflect.Message, path string) error {
	if unknown := m.GetUnknown(); len(unknown) > 0 {
		num, _, _ := protowire.ConsumeTag(unknown)
		return invalid("unknown field number %d in %s", num, where(path, string(m.Descriptor().FullName())))
	}
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := join(path, string(fd.Name()))
		switch {
		case fd.IsList():
			list := v.List()
			for i := range list.Len() {
				if err = checkValue(fd, list.Get(i), fmt.Sprintf("%s[%d]", name, i)); err != nil {
					return false
				}
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				key := k.String()
				if err = checkText(name+" key", key); err != nil {
					return false
				}
				err = checkValue(fd.MapValue(), mv, fmt.Sprintf("%s[%q]", name, key))
				return err == nil
			})
		default:
			err = checkValue(fd, v, name)
		}
		return err == nil
	})
	return err
}

func checkValue(fd protoreflect.FieldDescriptor, v protoreflect.Value, name string) error {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return checkText(name, v.String())
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return checkMessage(v.Message(), name)
	}
	return nil
}

// checkText holds every text field of every request to validateText's
// rule, at the bound of the longest text any field may hold.
func checkText(field, value string) error {
	return validateText(field, value, textBytesMax)
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func where(path, message string) string {
	if path == "" {
		return message
	}
	return path + " (" + message + ")"
}

// decodable reports whether the gateway decodes a body in encoding enc.
func decodable(enc string) bool {
	switch enc {
	case "", "identity", "gzip":
		return true
	}
	return false
}

// strictBody guards the HTTP layer in front of connect: a body in an encoding
// the gateway cannot decode is 415 (connect says 501, a server fault), and a
// body that cannot be read (a broken chunk, a timeout) is the client's fault,
// not an unknown server error.
func strictBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, h := range []string{"Content-Encoding", "Connect-Content-Encoding"} {
			if enc := strings.ToLower(strings.TrimSpace(r.Header.Get(h))); !decodable(enc) {
				w.Header().Set("Accept-Encoding", "gzip")
				http.Error(w, fmt.Sprintf("%s %q is not supported: send gzip or identity", h, enc), http.StatusUnsupportedMediaType)
				return
			}
		}
		r.Body = clientBody{r.Body}
		next.ServeHTTP(w, r)
	})
}

// clientBody turns a failure to read the request body into an
// invalid_argument error, which connect passes on as it is.
type clientBody struct{ io.ReadCloser }

func (b clientBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == nil || errors.Is(err, io.EOF) {
		return n, err
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return n, err // connect answers resource_exhausted
	}
	return n, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("reading the request body: %w", err))
}
