// Package eval runs Plinth's evaluation suites: a suite names a dataset, a target (a
// model or alias, optionally a knowledge base and a versioned prompt template), the
// metrics to compute, a judge model with rubrics, pass thresholds, a schedule and a
// baseline policy. A run invokes the target for every item through the gateway's own
// path (the Target port), scores the outputs (package metrics for reference-based and
// RAG metrics, package judge for LLM-as-a-judge), aggregates, stores the run with its
// per-item results, compares it with the baseline run and publishes an EventBridge-shaped
// event: "Evaluation Completed", and "Evaluation Regressed" with the metrics that fell.
//
// The run is driven by statemachines/evaluation.asl.json; Service.Tasks returns the
// task handlers its ${...FunctionArn} placeholders name, so the same code runs under the
// embedded executor and as Lambda functions. Items travel through the state machine in
// batches of indexes (inline when small); outputs and scores are persisted by the tasks,
// never accumulated in the execution state, which stays far below Step Functions'
// 256 KB limit whatever the dataset size.
//
// Metric keys are exact_match, f1, rouge1, rouge2, rougeL, bleu, embedding_similarity,
// context_precision, context_recall, faithfulness, citation_precision and
// judge_<rubric>. Scales: exact_match, f1 and bleu 0–100 (as their reference scripts
// print), judge_* 1–5, the rest 0–1. Per item, exact_match, f1 and the ROUGE scores take
// the best reference, bleu is sentence BLEU; the run's bleu is corpus BLEU over all
// items that have a non-empty reference, every other run metric is the mean over the
// items where it is defined.
package eval
