// Package humaneval is human evaluation: review queues built from evaluation runs,
// production samples or end-user feedback; reviewers score items against a rubric or
// compare two outputs side by side (the left/right order is randomised per reviewer and
// recorded); several reviewers per item, with their agreement measured (Krippendorff's
// alpha and Cohen's kappa, package agreement); and reviewed items published as versioned
// ground-truth datasets that evaluation suites and fine-tuning jobs read.
//
// Storage (single table):
//
//	REVIEWQ              / <queue id>                       the queue
//	REVIEWQ#<queue id>   / ITEM#<index, 6 digits>           one item under review
//	REVIEWQ#<queue id>   / ASSIGN#<item id>#<reviewer>      the order a reviewer was shown
//	REVIEWQ#<queue id>   / REVIEW#<item id>#<reviewer>      one reviewer's verdict (once)
//	GTDATASET#<tenant>   / <name>#<version, 6 digits>       one ground-truth dataset version
//
// Dataset versions are immutable JSON Lines objects in the blob store under
// datasets/<tenant>/<name>/v<version>.jsonl (evaluation items), with .chat.jsonl
// (supervised fine-tuning) and, for pairwise queues, .preference.jsonl (preference
// tuning) beside them.
package humaneval
