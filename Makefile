# gale: common tasks. `make test` is the test command CI runs.
.PHONY: build test fuzz bench bench-bencode bench-create bench-tracker bench-private

build:
	CGO_ENABLED=0 go build -trimpath -o gale ./cmd/gale

test:
	bash scripts/test.sh

fuzz:
	bash scripts/fuzz.sh

bench: bench-bencode bench-create bench-tracker bench-private

bench-bencode:
	cd bench/bencodecmp && go test -run '^$$' -bench . -benchmem

bench-create:
	bash scripts/bench-create.sh

bench-tracker:
	bash scripts/bench-tracker.sh

bench-private:
	bash scripts/bench-private.sh
