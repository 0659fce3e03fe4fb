package customize

import "errors"

// Errors of the customisation domain. Handlers map them to HTTP with errors.Is.
var (
	// ErrNotFound means no file, job or event has the ID (for this tenant).
	ErrNotFound = errors.New("customize: not found")
	// ErrInvalid means a request is malformed or names values out of bounds.
	ErrInvalid = errors.New("customize: invalid request")
	// ErrInvalidDataset means a dataset failed validation; the wrapped message names
	// the first bad line.
	ErrInvalidDataset = errors.New("customize: invalid dataset")
	// ErrUnsupportedModel means the base model cannot be customised (unknown, not a
	// chat model, or of a family no adapter serves).
	ErrUnsupportedModel = errors.New("customize: model cannot be fine-tuned")
	// ErrConflict means the job is in a state that does not allow the operation.
	ErrConflict = errors.New("customize: conflicting state")
	// ErrForbidden means the caller may not act on the resource.
	ErrForbidden = errors.New("customize: forbidden")
	// ErrProvider means the customisation provider failed; the job records its message.
	ErrProvider = errors.New("customize: provider failed")
)
