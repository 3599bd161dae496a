# The two commands of the README, and the steps they are made of.
#   make run    install dependencies, build, fetch the default model and chat with it (one turn per line)
#   make test   install dependencies, build (Release, and Debug with ASan/UBSan) and run every test; the CUDA
#               backend is compiled in the Release build when nvcc is present (its tests need a GPU: scripts/gpu-check)
JOBS ?= $(shell nproc)
BUILD ?= build
BUILD_DEBUG ?= build-debug

.PHONY: serve run test deps build build-debug model test-release test-debug fuzz bench clean

serve: deps build model
	$(BUILD)/tessera serve default $(SERVE_ARGS)

run: deps build model
	$(BUILD)/tessera chat default

test: deps build build-debug model test-release test-debug

deps:
	scripts/install-deps

build:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j $(JOBS)

build-debug:
	cmake -S . -B $(BUILD_DEBUG) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DTESSERA_BENCH=OFF -DTESSERA_ENABLE_CUDA=OFF
	cmake --build $(BUILD_DEBUG) -j $(JOBS)

model:
	scripts/fetch-model default >/dev/null

test-release:
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

test-debug:
	ctest --test-dir $(BUILD_DEBUG) --output-on-failure -j $(JOBS)

fuzz:
	scripts/fuzz

bench: build model
	$(BUILD)/tessera_micro_bench

clean:
	rm -rf $(BUILD) $(BUILD_DEBUG)
