package gateway

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"
	protocluster "github.com/asynkron/protoactor-go/cluster"

	grainsv1 "civicard/messages/grains/v1"
)

// grainCode maps a grain's error reason to the code the caller sees.
func grainCode(reason string) (connect.Code, bool) {
	switch reason {
	case grainsv1.ErrorReason_NOT_FOUND.String():
		return connect.CodeNotFound, true
	case grainsv1.ErrorReason_INVALID_ARGUMENT.String():
		return connect.CodeInvalidArgument, true
	case grainsv1.ErrorReason_UNAUTHENTICATED.String():
		return connect.CodeUnauthenticated, true
	case grainsv1.ErrorReason_FAILED_PRECONDITION.String():
		return connect.CodeFailedPrecondition, true
	case grainsv1.ErrorReason_ALREADY_EXISTS.String():
		return connect.CodeAlreadyExists, true
	case grainsv1.ErrorReason_UNAVAILABLE.String():
		return connect.CodeUnavailable, true
	}
	return 0, false
}

// fromGrain turns the error of a grain call into a Connect error. Anything
// that is not a grain's own answer (a timeout, a lost activation) is
// UNAVAILABLE: the outcome is unknown and the client retries with the same
// idempotency key.
func fromGrain(err error) error {
	var grainErr *protocluster.GrainErrorResponse
	if errors.As(err, &grainErr) {
		if code, ok := grainCode(grainErr.Reason); ok {
			return connect.NewError(code, errors.New(grainErr.Message))
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return connect.NewError(connect.CodeDeadlineExceeded, fmt.Errorf("no answer in time, retry with the same idempotency key: %w", err))
	}
	return connect.NewError(connect.CodeUnavailable, fmt.Errorf("retry with the same idempotency key: %w", err))
}

func invalid(format string, args ...any) error {
	return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf(format, args...))
}
