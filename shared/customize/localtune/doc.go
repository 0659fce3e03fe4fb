// Package localtune is local-tune, the small model Plinth trains itself so the whole
// customisation flow runs on a laptop and in tests, with no provider account.
//
// What it is, plainly: a log-linear (maximum-entropy) next-token model conditioned on
// the prompt, in the pointer-generator style. At every step it scores three kinds of
// candidates with hashed sparse features and a softmax:
//
//   - copy token i of the prompt: how many of the question's words sit near it (plain
//     and rarity-weighted windows), its sentence's overlap with the question, the
//     question's wh-word crossed with the token's spelling shape and its neighbours,
//     whether it continues the span being copied;
//   - generate a word seen in the training completions: its unigram and bigram weights
//     (a bigram language model), and at the first step the question's words and wh-word;
//   - end the answer: the answer length so far crossed with the wh-word, and what the
//     prompt holds after the copied span (punctuation, a line break, the question).
//
// Training is mini-batch stochastic gradient descent (AdaGrad per-weight step sizes,
// optional linear warm-up) on the log-likelihood of every completion token and of the
// end, marginalised over every prompt position that could be copied to produce it. The
// hyperparameters carry Amazon Bedrock's names: epochCount, batchSize, learningRate,
// learningRateWarmupSteps. A run writes Bedrock's step_wise_training_metrics.csv
// (step_number, epoch_number, training_loss, perplexity) and, with validation data,
// validation_metrics.csv.
//
// The untrained base, BaseModelID "local-tune", is the same model with prior weights
// that make it an extractive reader: it copies the prompt sentence that shares most
// words with the question. Training starts from those weights. On SQuAD v2.0 (five
// articles, one held out in turn, answerable questions) the base scores about 16 F1
// and five epochs of training about 37 F1 on the unseen article.
//
// What it is not: a neural network or a general text generator. It answers by copying
// spans of the prompt and short word sequences it saw in training; it cannot paraphrase,
// reason or follow instructions, and it learns nothing from prompts without a question
// line. It is deterministic: decoding is greedy.
//
// A model is saved as a JSON header (provenance, vocabulary) followed by its non-zero
// weights, and NewChat serves it through the provider port, so the local provider can
// answer /v1/chat/completions with a fine-tuned model.
package localtune
