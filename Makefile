# The two quick-start commands. Both install what they need (Debian packages) and share build/.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
# The configure's, build's and tests' wall-clock minutes (scripts/timed.sh), printed again at the end of `make test`.
TIMES = $(abspath $(BUILD))/make-times.txt

.PHONY: all deps configure build test demo clean

all: build

deps:
	@./scripts/install-deps.sh

configure: deps
	@rm -f $(TIMES)
	@./scripts/timed.sh configure $(TIMES) cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	./scripts/timed.sh build $(TIMES) cmake --build $(BUILD) -j $(JOBS)

# ctest runs test programs side by side, each with OpenMP threads; passive waiting keeps their idle threads from
# spinning on cores the others need (spinning made oversubscribed tests up to 20x slower).
test: build
	cd $(BUILD) && OMP_WAIT_POLICY=PASSIVE $(CURDIR)/scripts/timed.sh tests $(TIMES) \
	  ctest --output-on-failure -j $(JOBS)
	@echo "make test on $(JOBS) cores:"; sed 's/^/  /' $(TIMES)

demo: build
	./scripts/demo.sh $(BUILD)

clean:
	rm -rf $(BUILD)
