// Package textclass is a small fastText-style text classifier in pure Go: each text is a
// bag of hashed features (normalised words and word bigrams), each feature has a learned
// embedding, the text's vector is the mean of its features' embeddings (with a prior count
// that pulls short texts toward no evidence), and one logistic output per label gives a
// probability, so a text can belong to several labels at once. Character n-grams of
// each word can be added (Options.CharGrams): the prompt-attack model uses 3- and
// 4-grams (held-out role prompts flagged at strength HIGH 6% with them against 15%
// without; German attacks found by an English-trained model 58% against 38% at MEDIUM);
// the content model leaves them out, because on its tweets they tied ordinary words to
// rare harmful ones by spelling ("class" to "ass").
//
// A label can have an embedding table of its own (Options.Separate): the model then has
// several heads over the same features, each averaged apart. The content model gives
// HATE one, so that the statements about groups written for HATE do not move the other
// categories.
//
// Training (Train) is single-threaded stochastic gradient descent with a seeded shuffle,
// so the same examples and options give the same model byte for byte on a given
// platform. A model file (MarshalBinary) stores the embeddings as 8-bit integers with a
// scale per row, the output layer, and per label the LOW, MEDIUM and HIGH thresholds that
// map a probability to Amazon Bedrock's confidence levels (chosen on held-back data by the
// trainer, never on training rows).
//
// Prediction reuses the tokens of package textnorm, so one tokenisation of a text serves
// every detector of the guardrail engine; its work is linear in the text's length.
package textclass
