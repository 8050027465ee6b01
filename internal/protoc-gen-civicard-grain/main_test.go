package main

import "testing"

// The helpers keep the names protoc-gen-go-grain gave them, which callers
// use (grainsv1.ErrNotFound, grainsv1.IsUnavailable).
func TestCamel(t *testing.T) {
	for in, want := range map[string]string{
		"OK": "Ok", "NOT_FOUND": "NotFound", "FAILED_PRECONDITION": "FailedPrecondition", "Unknown": "Unknown", "notFound": "NotFound",
	} {
		if got := camel(in); got != want {
			t.Errorf("camel(%q) = %q, want %q", in, got, want)
		}
	}
}
