// Package metrics computes the reference-based evaluation metrics of Plinth's evaluation
// suites, each reproducing one published reference implementation exactly:
//
//   - ExactMatch and F1 follow the official SQuAD v2.0 evaluation script
//     (evaluate-v2.0.py): normalize_answer, token F1 over a Counter intersection, the
//     maximum over gold answers, and the empty answer for unanswerable questions.
//     Per-item values are 0 or 1 (EM) and 0–1 (F1); aggregates are printed ×100 as the
//     script does.
//   - ROUGE follows Google's rouge-score package (rouge_scorer.RougeScorer) with its
//     default tokenizer: ROUGE-N over n-gram counts and ROUGE-L over the longest common
//     subsequence (not the summary-level Lsum), F-measure on the 0–1 scale, optional
//     Porter stemming of tokens longer than three characters, and the best reference per
//     item when several are given (score_multi).
//   - BLEU follows sacreBLEU 2.x: the 13a tokenizer, n-grams up to 4, exponential
//     smoothing, the closest reference length per segment, and reference n-gram counts
//     clipped by the maximum over references. CorpusBLEU matches corpus_bleu (effective
//     order off) and SentenceBLEU matches sentence_bleu (effective order on), both on the
//     0–100 scale.
//   - Cosine computes embedding cosine similarity through an Embedder.
//
// Python's string semantics are reproduced where they matter: str.lower() (including the
// dotted capital I and the final sigma), str.split() whitespace, and the Unicode \b word
// boundary of the re module.
//
// Verification (testdata/): scores computed by CPython running the reference logic on
// 300 perturbed SQuAD answers and 40 corpora (EM, F1, ROUGE-1/2/L with score_multi,
// sentence and corpus BLEU, agreeing to 1e-9); CPython's outputs of normalize_answer and
// both tokenizers on Unicode-heavy strings; Perl running mteval-v13a's expressions on
// 600 random lines; NLTK 3.8's Porter stems of 3,988 words; and sacreBLEU's README
// example (48.53).
package metrics
