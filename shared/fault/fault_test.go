package fault_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/plinth-ai/plinth/shared/fault"
)

var errDocNotFound = fault.Sentinel("rag: not found", fault.ErrNotFound)

func TestNewMatchesItsPackageSentinelAndItsKind(t *testing.T) {
	err := fmt.Errorf("upload: %w", fault.New(errDocNotFound, "kb", "tenant %s has no knowledge base %q", "acme", "docs"))
	if !errors.Is(err, errDocNotFound) || !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("errors.Is fails for %v", err)
	}
	if errors.Is(err, fault.ErrExists) {
		t.Fatal("matches another kind")
	}
	if got, want := fault.Message(err), `tenant acme has no knowledge base "docs"`; got != want {
		t.Errorf("Message = %q, want %q (the wrapping context is for logs)", got, want)
	}
	if got := fault.Param(err); got != "kb" {
		t.Errorf("Param = %q, want kb", got)
	}
}

func TestMessageStripsTheSentinelOfPlainWrapping(t *testing.T) {
	for err, want := range map[error]string{
		fmt.Errorf("tenant acme has no knowledge base %q: %w", "x", errDocNotFound): `tenant acme has no knowledge base "x"`,
		fmt.Errorf("key k1 is revoked: %w", fault.ErrInvalid):                       "key k1 is revoked",
		errors.New("disk full"): "disk full",
		errDocNotFound:          "rag: not found",
		fmt.Errorf("%w: query is required", errDocNotFound): "query is required",
	} {
		if got := fault.Message(err); got != want {
			t.Errorf("Message(%v) = %q, want %q", err, got, want)
		}
	}
}

func TestParamOfPlainErrorsIsEmpty(t *testing.T) {
	if p := fault.Param(fmt.Errorf("x: %w", fault.ErrInvalid)); p != "" {
		t.Fatalf("Param = %q", p)
	}
}

func TestWithParamKeepsKindAndMessage(t *testing.T) {
	base := fault.New(errDocNotFound, "", "model %q is not in the registry", "gpt-9")
	err := fault.WithParam(fmt.Errorf("check: %w", base), "allowed_models[1]")
	if !errors.Is(err, fault.ErrNotFound) || fault.Param(err) != "allowed_models[1]" || fault.Message(err) != `model "gpt-9" is not in the registry` {
		t.Fatalf("WithParam: kind %v, param %q, message %q", errors.Is(err, fault.ErrNotFound), fault.Param(err), fault.Message(err))
	}
	plain := fault.WithParam(fmt.Errorf("tenant acme: %w", fault.ErrNotFound), "tenant")
	if !errors.Is(plain, fault.ErrNotFound) || fault.Param(plain) != "tenant" || fault.Message(plain) != "tenant acme" {
		t.Fatalf("WithParam on a plain error: param %q, message %q", fault.Param(plain), fault.Message(plain))
	}
}
