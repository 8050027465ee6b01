GO ?= go
export CGO_ENABLED ?= 0

# Messages for every file, Connect handlers for the public API only, grain
# dispatch for the grain services only.
.PHONY: generate
generate:
	$(GO) tool buf generate --template messages/buf.gen.go.yaml
	$(GO) tool buf generate --template messages/buf.gen.connect.yaml --path messages/civicard
	$(GO) tool buf generate --template messages/buf.gen.grain.yaml --path messages/grains/v1/grains.proto
