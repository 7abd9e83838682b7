# shellcheck shell=bash
# Installs what the EVM chain tests need into the cache outside the checkout
# ($PROOFMARK_CACHE, default ~/.cache/proofmark), from the npm registry, at
# pinned versions: `anvil` (a local Ethereum node) and `solc` (the Solidity
# compiler as JavaScript, run with Node.js). Sourced by scripts/test.sh;
# exports PROOFMARK_ANVIL (the anvil executable) and PROOFMARK_SOLCJS (the
# solc package folder). Source it by hand to run the EVM tests alone:
#
#   source scripts/setup-evm.sh && cargo test -p proofmark-anchor --test evm

proofmark_anvil_version="1.7.1"
proofmark_solc_version="0.8.37"

proofmark_setup_evm() {
    local cache="${PROOFMARK_CACHE:-$HOME/.cache/proofmark}"
    local dir="$cache/evm-tools"
    local stamp="$dir/installed-${proofmark_anvil_version}-${proofmark_solc_version}"
    if [ ! -f "$stamp" ]; then
        printf '==> installing anvil %s and solc %s into %s\n' \
            "$proofmark_anvil_version" "$proofmark_solc_version" "$dir" >&2
        mkdir -p "$dir" || return 1
        [ -f "$dir/package.json" ] || printf '{"private": true}\n' >"$dir/package.json"
        npm install --prefix "$dir" --no-audit --no-fund --loglevel=error --save-exact \
            "@foundry-rs/anvil-linux-amd64@${proofmark_anvil_version}" \
            "solc@${proofmark_solc_version}" >&2 || return 1
        touch "$stamp"
    fi
    local anvil
    anvil="$(find "$dir/node_modules/@foundry-rs/anvil-linux-amd64" -type f -name anvil | head -n 1)"
    if [ -z "$anvil" ]; then
        printf 'setup-evm: no anvil executable in %s\n' "$dir" >&2
        return 1
    fi
    chmod +x "$anvil"
    export PROOFMARK_ANVIL="$anvil"
    export PROOFMARK_SOLCJS="$dir/node_modules/solc"
}

proofmark_setup_evm
