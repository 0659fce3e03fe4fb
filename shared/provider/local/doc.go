// Package local holds Plinth's built-in models, which run inside the process and need
// no provider account:
//
//   - local-chat, an extractive model that answers from the prompt's own text. It picks
//     the sentences of the prompt's context (a "Context:"/"Sources:" block when there is
//     one, else the system messages, earlier turns and tool results) that share the most
//     weighted words with the question (the last user message). It never invents text:
//     with no context it says so. It honours stop sequences, max_tokens (finish_reason
//     "length"), streaming, forced tool calls (tool_choice "required" or a named
//     function) whose JSON arguments are filled from the prompt, JSON output for
//     response_format json_object/json_schema, and "[n]" citations when the prompt
//     numbers its sources and asks to cite them.
//   - local-embed, a lexical hashing embedder: word unigrams and bigrams and character
//     trigrams, signed feature hashing into a fixed dimension, sublinear term frequency,
//     L2-normalised. Texts that share words land close together, which is enough for
//     keyword-style semantic search; it does not know synonyms.
//
// Both are deterministic. Token usage is counted by tokens.Count, a documented word-level
// tokenizer the rest of the platform may reuse for estimates.
package local
