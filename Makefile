# FDL Studio. `make run` starts it, `make test` tests it.
#
# Needs Go (see go.mod) and, for the browser tests, Debian's chromium; the
# sandbox tests of the local cluster need bubblewrap (bwrap). The S3 server
# of the local cluster is built into fdlstudio: nothing else to build.
# Nothing here needs Node or npm: front-end libraries are committed built.

GO                ?= go
STATICCHECK       := honnef.co/go/tools/cmd/staticcheck@v0.8.2
RIE_VERSION       := v0.0.0-20261030222936-bef5c4ba774d
DATA_DIR          ?= $(CURDIR)/data
BIN               := $(CURDIR)/bin

# The AWS backend's tests run functions on the AWS Lambda Runtime
# Interface Emulator, found here.
export FDLSTUDIO_AWS_LAMBDA_RIE := $(BIN)/aws-lambda-rie

.PHONY: all build run test generate check-generated check-tidy lint bench screenshots clean bin/aws-lambda-rie

all: build

## build: compile bin/fdlstudio
build:
	$(GO) build -o $(BIN)/fdlstudio ./cmd/fdlstudio

## bin/aws-lambda-rie: the Lambda Runtime Interface Emulator (AWS backend tests), built from source
$(BIN)/aws-lambda-rie:
	GOBIN=$(BIN) $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

ifneq ($(BIN),bin)
bin/aws-lambda-rie: $(BIN)/aws-lambda-rie
endif

## run: build and start FDL Studio on 127.0.0.1:8080 with its data in ./data; it prints the URL to open (with its start token)
run: build
	$(BIN)/fdlstudio serve --addr 127.0.0.1:8080 --data-dir $(DATA_DIR)

## test: every test: unit, handler, local cluster (with the race detector), then browser end-to-end
test: $(BIN)/aws-lambda-rie
	$(GO) test -count=1 -race -timeout 20m $$($(GO) list ./... | grep -v '/e2e')
	$(GO) test -count=1 -timeout 20m ./e2e/...

## generate: regenerate templ components (*_templ.go are committed)
generate:
	$(GO) tool templ generate

## check-generated: fail when `make generate` would change committed files
check-generated: generate
	@git diff --exit-code -- '*_templ.go' || { echo "templ output is stale: run 'make generate' and commit"; exit 1; }
	@test -z "$$(git ls-files --others --exclude-standard -- '*_templ.go')" || { echo "uncommitted *_templ.go files"; exit 1; }

## check-tidy: fail when `go mod tidy` would change go.mod or go.sum
check-tidy:
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run 'go mod tidy' and commit"; exit 1; }

## lint: formatting, vet, templ formatting and staticcheck
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt would change the files above"; exit 1; }
	$(GO) vet ./...
	$(GO) tool templ fmt -fail templates
	$(GO) run $(STATICCHECK) ./...

## bench: run every benchmark and print one table
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 -timeout 30m ./... | tee $(CURDIR)/bench.out
	@echo; echo "Benchmarks ($$(nproc) cores, $$(go env GOOS)/$$(go env GOARCH)):"
	@awk '/^pkg:/ {pkg=$$2} /^Benchmark/ {line=sprintf("%-60s", $$1); for (i=3; i<NF; i+=2) line=line sprintf("  %14s %s", $$i, $$(i+1)); print line}' $(CURDIR)/bench.out

## screenshots: refresh the README screenshot from the browser tests
screenshots:
	FDLSTUDIO_UPDATE_DOCS=1 $(GO) test -count=1 -run 'TestSampleWorkflowRunsAndServicesPages' ./e2e/

clean:
	rm -rf $(BIN) bench.out e2e/artifacts
