# natsim: the README's commands. Each target installs missing Debian packages first.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_ARGS ?=

.PHONY: all deps build run test bench sanitize clang fuzz format clean interop fidelity

all: build

deps:
	@./scripts/install-deps.sh

build: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS)

# Builds only the CLI it runs (the tests and benchmarks wait for `make test` / `make bench`).
run: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS) --target natsim
	./build/release/tools/natsim run scenarios/library/quickstart.json

test: build
	ctest --preset release -j $(JOBS) $(CTEST_ARGS)

bench: build
	./build/release/bench/bench_sim --benchmark_counters_tabular=true

# The tests under ASan+UBSan, built with clang; the same build holds the fuzzers (`make fuzz`).
sanitize: deps
	cmake --preset sanitize >/dev/null
	cmake --build --preset sanitize -j $(JOBS)
	ctest --preset sanitize -j $(JOBS) $(CTEST_ARGS)

# The same tests in a plain clang debug build, for debugging what clang alone reports (CI's
# clang suite is the sanitize build, which is clang's).
clang: deps
	cmake --preset clang >/dev/null
	cmake --build --preset clang -j $(JOBS)
	ctest --preset clang -j $(JOBS) $(CTEST_ARGS)

# Captures tshark must find well formed (UDP, STUN, TURN over TCP, TCP under loss, PCP).
PCAP_CHECKED = quickstart.json connect-baseline.json relay-tcp-between-symmetric-nats.json \
	tcp-lossy-transfer.json tcp-punch-presets.json map-pcp.json

# natsim's STUN server and probe against real peers (Vovida stun, coturn) on loopback,
# then serve stun and serve turn under attack from hostile loopback clients (docs/hardening.md),
# and natsim connect against aioice and libnice in network namespaces, once through an
# nftables NAT (needs root); natpmpc against serve gateway, and natsim's PCP/NAT-PMP/UPnP IGD
# clients against miniupnpd in network namespaces; upnpc against serve gateway --upnp; coturn's
# natdiscovery, uclient and turnserver in namespaces bridged into natsim's NATs (natsim bridge);
# then the captures above through tshark,
# and a bench-connect HTML report in headless Chromium (docs/bench-connect.md); then the
# release build installed to a fresh prefix and examples/external-project built against it.
interop: build
	NATSIM_EXTRA_PACKAGES="stun-client stun-server coturn python3-aioice libnice-dev nftables natpmpc miniupnpd miniupnpd-nftables miniupnpc tshark chromium" ./scripts/install-deps.sh
	./scripts/interop-stun.sh build/release/tools/natsim
	./scripts/interop-turn.sh build/release/tools/natsim
	./scripts/interop-ice.sh build/release/tools/natsim
	./scripts/interop-portmap.sh build/release/tools/natsim
	./scripts/interop-upnp.sh build/release/tools/natsim
	./scripts/interop-bridge.sh build/release/tools/natsim
	./scripts/attack-servers.sh build/release/tools/natsim
	./scripts/check-pcap.sh build/release/tools/natsim $(addprefix scenarios/library/,$(PCAP_CHECKED))
	build/release/tools/natsim bench-connect scenarios/library/bench-connect-matrix.json --quiet --seeds 1 \
		--json build/release/bench-report.json --html build/release/bench-report.html >/dev/null
	./scripts/check-html-report.sh build/release/bench-report.json build/release/bench-report.html build/release/bench-report.png
	./scripts/check-install.sh build/release

# The fidelity lab (docs/fidelity.md): natsim's Linux NAT profiles against real nftables
# NATs in network namespaces, side by side; needs root; about 4 minutes.
fidelity: build
	NATSIM_EXTRA_PACKAGES="stun-client stun-server coturn nftables" ./scripts/install-deps.sh
	./scripts/fidelity-lab.sh build/release/tools/natsim

# Builds the libFuzzer targets (in the sanitize build; nothing is rebuilt after
# `make sanitize`) and runs each for FUZZ_SECONDS.
FUZZ_SECONDS ?= 20
fuzz: deps
	cmake --preset sanitize >/dev/null
	cmake --build --preset sanitize -j $(JOBS) --target natsim_fuzzers
	./scripts/run-fuzzers.sh build/sanitize/fuzz $(FUZZ_SECONDS)

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf build
