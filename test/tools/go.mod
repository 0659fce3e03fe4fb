// The npm tools live here; this module boundary keeps node_modules out of the Go build.
module github.com/plinth-ai/plinth/test/tools

go 1.26
