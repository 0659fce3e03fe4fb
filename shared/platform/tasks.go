package platform

import (
	"context"
	"encoding/json"
)

// TaskFunc is a state-machine task: JSON in, JSON out (rag and eval tasks).
type TaskFunc = func(ctx context.Context, in json.RawMessage) (json.RawMessage, error)

// IngestTasks returns the ingestion flow's tasks keyed by placeholder name: the ingest
// Lambda function serves them in AWS, the embedded executor locally.
func IngestTasks(p *Platform) (map[string]TaskFunc, error) {
	svc, err := RAG(p)
	if err != nil {
		return nil, err
	}
	return auditIngestTasks(p, svc.Tasks()), nil
}

// EvalTasks returns the evaluation flow's tasks keyed by placeholder name: the
// evaluation Lambda function serves them in AWS, the embedded executor locally.
// Knowledge-base targets work where knowledge bases are configured.
func EvalTasks(p *Platform) (map[string]TaskFunc, error) {
	svc, err := Eval(p)
	if err != nil {
		return nil, err
	}
	return auditEvalTasks(p, svc, svc.Tasks()), nil
}
