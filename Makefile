# The two quick-start commands. Both install what they need (Debian packages) and share build/.
BUILD ?= build
# `make test` also builds everything with AddressSanitizer + UBSan here and runs the fast tests under it.
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
# The configure's, build's and tests' wall-clock minutes (scripts/timed.sh), printed again at the end of `make test`.
TIMES = $(abspath $(BUILD))/make-times.txt

.PHONY: all deps configure build asan-build test test-asan demo deb clean onnxruntime

all: build

deps:
	@./scripts/install-deps.sh

configure: deps
	@rm -f $(TIMES)
	@./scripts/timed.sh configure $(TIMES) cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	./scripts/timed.sh build $(TIMES) cmake --build $(BUILD) -j $(JOBS)

asan-build: deps
	@./scripts/timed.sh "sanitizer configure" $(TIMES) cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Release \
	  -DTAPEGRAD_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	./scripts/timed.sh "sanitizer build" $(TIMES) cmake --build $(ASAN_BUILD) -j $(JOBS)

# ctest runs test programs side by side, each with OpenMP threads; passive waiting keeps their idle threads from
# spinning on cores the others need (spinning made oversubscribed tests up to 20x slower).
test: build onnxruntime
	cd $(BUILD) && OMP_WAIT_POLICY=PASSIVE $(CURDIR)/scripts/timed.sh tests $(TIMES) \
	  ctest --output-on-failure -j $(JOBS)
	@$(MAKE) --no-print-directory test-asan
	@echo "make test on $(JOBS) cores:"; sed 's/^/  /' $(TIMES)

# ONNX Runtime (CPU) for the ONNX export's tests (tests/interop/onnx_runtime_test.cpp) and
# bench/onnxruntime_vs_tapegrad.sh: onnxruntime-node from the npm registry, pinned with its dependencies by
# tests/interop/onnxruntime/package-lock.json, in $(BUILD)/onnxruntime. --ignore-scripts: the package's install
# script fetches GPU extras from outside the registry (and fails without them); the CPU runtime is in the package
# itself. Without npm or the registry the tests report themselves skipped, saying why.
ORT_SPEC = tests/interop/onnxruntime
onnxruntime: $(BUILD)/onnxruntime/node_modules/.package-lock.json
$(BUILD)/onnxruntime/node_modules/.package-lock.json: $(ORT_SPEC)/package.json $(ORT_SPEC)/package-lock.json
	@mkdir -p $(BUILD)/onnxruntime && cp $^ $(BUILD)/onnxruntime/
	cd $(BUILD)/onnxruntime && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error || \
	  echo "warning: onnxruntime-node was not installed; the ONNX Runtime tests will be skipped"

# The fast tests (ctest label `fast`: the unit tests and the fuzz targets' corpora) under the sanitizers; any report
# fails the test (-fno-sanitize-recover=all).
test-asan: asan-build
	cd $(ASAN_BUILD) && OMP_WAIT_POLICY=PASSIVE ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1 \
	  UBSAN_OPTIONS=print_stacktrace=1 $(CURDIR)/scripts/timed.sh "sanitizer tests" $(TIMES) \
	  ctest --output-on-failure -j $(JOBS) -L fast

demo: build
	./scripts/demo.sh $(BUILD)

# A Debian package of the build (cmake/package.cmake; portable unless CMAKE_FLAGS says otherwise):
# $(BUILD)/tapegrad_VERSION_ARCH.deb. `dpkg-deb -I` shows its Depends, `dpkg-deb -c` its files.
deb: build
	@./scripts/install-deps.sh --deb
	cd $(BUILD) && cpack -G DEB

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
