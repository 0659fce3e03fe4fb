package customize

import (
	"errors"

	"github.com/plinth-ai/plinth/shared/fault"
)

// Errors of the customisation domain. Handlers map them to HTTP with errors.Is; each
// is one of package fault's kinds, so the API answers them in the shared vocabulary.
var (
	// ErrNotFound means no file, job or event has the ID (for this tenant).
	ErrNotFound = fault.Sentinel("customize: not found", fault.ErrNotFound)
	// ErrInvalid means a request is malformed or names values out of bounds.
	ErrInvalid = fault.Sentinel("customize: invalid request", fault.ErrInvalid)
	// ErrInvalidDataset means a dataset failed validation; the wrapped message names
	// the first bad line.
	ErrInvalidDataset = fault.Sentinel("customize: invalid dataset", fault.ErrInvalid)
	// ErrUnsupportedModel means the base model cannot be customised (unknown, not a
	// chat model, or of a family no adapter serves).
	ErrUnsupportedModel = fault.Sentinel("customize: model cannot be fine-tuned", fault.ErrInvalid)
	// ErrConflict means the job is in a state that does not allow the operation (or
	// changed concurrently).
	ErrConflict = fault.Sentinel("customize: conflicting state", fault.ErrConflict)
	// ErrForbidden means the caller may not use the model (its tenant's policy).
	ErrForbidden = errors.New("customize: forbidden")
	// ErrProvider means the customisation provider failed; the job records its message.
	ErrProvider = errors.New("customize: provider failed")
)
